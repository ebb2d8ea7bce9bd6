/* tok_chat.c - chat prompts in the two formats the supported models were tuned on
 * (doc/models.md, "Chat formats"). The output is text with the special tokens
 * spelled out; the caller tokenizes it with DIFFLM_TOKENIZE_PARSE_SPECIAL. */
#include <string.h>

#include "tok/jinja.h"
#include "tok/tok_internal.h"

typedef struct text_sink {
    char *out;
    size_t cap;
    size_t n;
} text_sink;

static void put(text_sink *w, const char *s, size_t n) {
    if (w->n < w->cap) memcpy(w->out + w->n, s, DL_MIN(n, w->cap - w->n));
    w->n += n;
}

static void puts_(text_sink *w, const char *s) { put(w, s, strlen(s)); }

/* What Python's str.isspace() accepts, which is what the Jinja `trim` filter strips. */
static int is_py_space(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

static void put_trimmed(text_sink *w, const char *text) {
    const uint8_t *s = (const uint8_t *)text;
    size_t n = strlen(text), begin = n, end = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int len = dl_utf8_next(s + i, n - i, &cp);
        size_t k = len > 0 ? (size_t)len : 1;
        if (len <= 0 || !is_py_space(cp)) {   /* a stray invalid byte is content */
            if (begin == n) begin = i;
            end = i + k;
        }
        i += k;
    }
    if (begin < end) put(w, text + begin, end - begin);
}

static void render_llama3(text_sink *w, const dl_tok *t, const difflm_chat_message *msgs, size_t n,
                          int add_assistant) {
    for (size_t i = 0; i < n; i++) {
        if (i == 0 && t->sp.bos >= 0) {   /* BOS opens the conversation, not each turn */
            size_t len;
            const char *bos = dl_tok_text(t, t->sp.bos, &len);
            put(w, bos, len);
        }
        puts_(w, "<|start_header_id|>");
        puts_(w, msgs[i].role);
        puts_(w, "<|end_header_id|>\n\n");
        put_trimmed(w, msgs[i].content);
        puts_(w, "<|eot_id|>");
    }
    if (add_assistant) puts_(w, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

static int is_role(const difflm_chat_message *m, const char *role) { return strcmp(m->role, role) == 0; }

static void put_chatml_turn(text_sink *w, const char *role, const char *content) {
    puts_(w, "<|im_start|>");
    puts_(w, role);
    puts_(w, "\n");
    puts_(w, content);
    puts_(w, "<|im_end|>\n");
}

static void render_chatml(text_sink *w, const difflm_chat_message *msgs, size_t n, int add_assistant) {
    size_t first = 0;
    if (n > 0 && is_role(&msgs[0], "system")) {
        put_chatml_turn(w, "system", msgs[0].content);
        first = 1;
    } else {
        puts_(w, "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n");
    }
    for (size_t i = first; i < n; i++) {
        if (is_role(&msgs[i], "tool")) {
            /* consecutive tool results share one user turn, as in Qwen2.5's template */
            if (i == 0 || !is_role(&msgs[i - 1], "tool")) puts_(w, "<|im_start|>user");
            puts_(w, "\n<tool_response>\n");
            puts_(w, msgs[i].content);
            puts_(w, "\n</tool_response>");
            if (i + 1 == n || !is_role(&msgs[i + 1], "tool")) puts_(w, "<|im_end|>\n");
            continue;
        }
        put_chatml_turn(w, msgs[i].role, msgs[i].content);
    }
    if (add_assistant) puts_(w, "<|im_start|>assistant\n");
}

int dl_tok_set_chat_template(dl_tok *t, const char *src, size_t n, dl_err *err) {
    if (!t) return dl_fail(err, DIFFLM_E_INVALID_ARG, "dl_tok_set_chat_template: NULL tokenizer");
    dl_jinja_free(t->chat_tpl);
    dl_free(t->chat_tpl_msg);
    t->chat_tpl = NULL;
    t->chat_tpl_msg = NULL;
    t->chat_tpl_status = 0;
    if (!src) return 0;
    dl_err e = {0};
    int rc = dl_jinja_compile(&t->chat_tpl, src, n, &e);
    if (rc) {
        t->chat_tpl_status = rc;
        t->chat_tpl_msg = dl_strdup(e.msg);   /* NULL (out of memory) still fails with rc */
        return dl_fail(err, rc, "%s", e.msg);
    }
    return 0;
}

/* The text of token id, NUL-terminated, or NULL when there is none. */
static char *token_cstr(const dl_tok *t, int32_t id) {
    if (id < 0) return NULL;
    size_t n;
    const char *s = dl_tok_text(t, id, &n);
    char *c = dl_malloc(n + 1);
    if (c) {
        memcpy(c, s, n);
        c[n] = '\0';
    }
    return c;
}

static int render_template(const dl_tok *t, const difflm_chat_message *msgs, size_t n, int add_assistant,
                           char *out, size_t cap, size_t *n_out, dl_err *err) {
    if (t->chat_tpl_status)
        return dl_fail(err, t->chat_tpl_status, "%s", t->chat_tpl_msg ? t->chat_tpl_msg : "chat template: out of memory");
    char *bos = token_cstr(t, t->sp.bos), *eos = token_cstr(t, t->sp.eos);
    if ((t->sp.bos >= 0 && !bos) || (t->sp.eos >= 0 && !eos)) {
        dl_free(bos);
        dl_free(eos);
        return dl_fail(err, DIFFLM_E_NOMEM, "chat template: out of memory");
    }
    dl_jinja_vars v = {.msgs = msgs, .n_msgs = n, .add_generation_prompt = add_assistant != 0,
                       .bos_token = bos, .eos_token = eos};
    int rc = dl_jinja_render(t->chat_tpl, &v, out, cap, n_out, err);
    dl_free(bos);
    dl_free(eos);
    return rc;
}

int dl_tok_chat(const dl_tok *t, const difflm_chat_message *msgs, size_t n, int add_assistant,
                char *out, size_t cap, size_t *n_out, dl_err *err) {
    if (!t || !n_out || (!msgs && n) || (!out && cap))
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "dl_tok_chat: NULL argument");
    for (size_t i = 0; i < n; i++) {
        if (!msgs[i].role) return dl_fail(err, DIFFLM_E_INVALID_ARG, "chat message %zu: role is NULL", i);
        if (!msgs[i].content) return dl_fail(err, DIFFLM_E_INVALID_ARG, "chat message %zu: content is NULL", i);
    }
    text_sink w = {.out = out, .cap = cap, .n = 0};
    if (t->chat_tpl || t->chat_tpl_status) {
        int rc = render_template(t, msgs, n, add_assistant, out, cap, &w.n, err);
        if (rc) return rc;
    } else switch (t->chat_style) {
    case DL_CHAT_LLAMA3: render_llama3(&w, t, msgs, n, add_assistant); break;
    case DL_CHAT_CHATML: render_chatml(&w, msgs, n, add_assistant); break;
    default:
        return dl_fail(err, DIFFLM_E_UNSUPPORTED,
                       "tokenizer: no chat format (vocabulary has neither <|start_header_id|> nor <|im_start|>)");
    }
    *n_out = w.n;
    if (w.n >= cap)   /* room for the NUL too */
        return dl_fail(err, DIFFLM_E_BUFFER_TOO_SMALL, "chat: %zu bytes (+NUL) do not fit in %zu", w.n, cap);
    out[w.n] = '\0';
    return 0;
}
