/* gguf_out.c - a trained vocabulary as tokenizer.* GGUF keys, in the form of the llada
 * converter's files (doc/formats.md, "Tokenizer metadata"): gpt2 model, byte-level token texts,
 * "left right" merges in rank order, token types, special ids. */
#include <stdlib.h>
#include <string.h>

#include "bpe_train.h"

static const char *const SPECIAL_TEXT[BPET_N_SPECIAL] = {
    [BPET_BOS] = "<|startoftext|>",
    [BPET_EOS] = "<|endoftext|>",
    [BPET_START_HDR] = "<|start_header_id|>",
    [BPET_END_HDR] = "<|end_header_id|>",
    [BPET_EOT] = "<|eot_id|>",
    [BPET_MASK] = "<|mdm_mask|>",
};

/* Token texts spell bytes in GPT-2's printable alphabet: at most 2 UTF-8 bytes each. */
static size_t spell(char *out, const uint8_t *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += (size_t)dl_byte_to_utf8(out + k, s[i]);
    return k;
}

static size_t tok_len(const bpet_vocab *v, int32_t id) {
    return v->off[id + 1] - v->off[id];
}

typedef struct strings {
    char *buf;             /* every text back to back */
    dl_str *s;
} strings;

static void strings_free(strings *st) {
    free(st->buf);
    free(st->s);
}

/* Token texts (specials first), and the file id's type. */
static int token_texts(strings *st, int32_t *types, const bpet_vocab *v, dl_err *err) {
    size_t total = 0;
    for (int i = 0; i < BPET_N_SPECIAL; i++) total += strlen(SPECIAL_TEXT[i]);
    total += 2 * v->off[v->n_tokens];
    size_t n = (size_t)BPET_N_SPECIAL + (size_t)v->n_tokens;
    st->buf = malloc(total ? total : 1);
    st->s = malloc(n * sizeof *st->s);
    if (!st->buf || !st->s) return dl_fail(err, DIFFLM_E_NOMEM, "tokenizer gguf: out of memory");
    size_t k = 0;
    for (int i = 0; i < BPET_N_SPECIAL; i++) {
        size_t len = strlen(SPECIAL_TEXT[i]);
        memcpy(st->buf + k, SPECIAL_TEXT[i], len);
        st->s[i] = (dl_str){st->buf + k, len};
        types[i] = DL_TOKT_CONTROL;
        k += len;
    }
    for (int32_t id = 0; id < v->n_tokens; id++) {
        size_t len = spell(st->buf + k, v->bytes + v->off[id], tok_len(v, id));
        st->s[BPET_N_SPECIAL + id] = (dl_str){st->buf + k, len};
        types[BPET_N_SPECIAL + id] = DL_TOKT_NORMAL;   /* byte tokens too, as in real gpt2 files */
        k += len;
    }
    return 0;
}

static int merge_texts(strings *st, const bpet_vocab *v, dl_err *err) {
    size_t total = 0;
    for (int32_t i = 0; i < v->n_merges; i++)
        total += 2 * (tok_len(v, v->merges[i].left) + tok_len(v, v->merges[i].right)) + 1;
    st->buf = malloc(total ? total : 1);
    st->s = malloc((v->n_merges ? (size_t)v->n_merges : 1) * sizeof *st->s);
    if (!st->buf || !st->s) return dl_fail(err, DIFFLM_E_NOMEM, "tokenizer gguf: out of memory");
    size_t k = 0;
    for (int32_t i = 0; i < v->n_merges; i++) {
        const bpet_merge *m = &v->merges[i];
        size_t start = k;
        k += spell(st->buf + k, v->bytes + v->off[m->left], tok_len(v, m->left));
        st->buf[k++] = ' ';   /* never inside a text: the alphabet spells 0x20 as U+0120 */
        k += spell(st->buf + k, v->bytes + v->off[m->right], tok_len(v, m->right));
        st->s[i] = (dl_str){st->buf + start, k - start};
    }
    return 0;
}

static int write_keys(dl_gguf_writer *w, const bpet_vocab *v, const char *name, const strings *tokens,
                      const int32_t *types, const strings *merges) {
    uint64_t n_tok = (uint64_t)BPET_N_SPECIAL + (uint64_t)v->n_tokens;
    int rc;
    if ((rc = dl_gguf_w_str(w, "general.name", name)) ||
        (rc = dl_gguf_w_str(w, "tokenizer.ggml.model", "gpt2")) ||
        (rc = dl_gguf_w_str(w, "tokenizer.ggml.pre", "llama-bpe")) ||
        (rc = dl_gguf_w_arr(w, "tokenizer.ggml.tokens", DL_GGUF_STRING, tokens->s, n_tok)) ||
        (rc = dl_gguf_w_arr(w, "tokenizer.ggml.token_type", DL_GGUF_I32, types, n_tok)) ||
        (rc = dl_gguf_w_arr(w, "tokenizer.ggml.merges", DL_GGUF_STRING, merges->s, (uint64_t)v->n_merges)) ||
        (rc = dl_gguf_w_u32(w, "tokenizer.ggml.bos_token_id", BPET_BOS)) ||
        (rc = dl_gguf_w_u32(w, "tokenizer.ggml.eos_token_id", BPET_EOS)) ||
        (rc = dl_gguf_w_u32(w, "tokenizer.ggml.eot_token_id", BPET_EOT)) ||
        (rc = dl_gguf_w_u32(w, "tokenizer.ggml.mask_token_id", BPET_MASK)) ||
        (rc = dl_gguf_w_u32(w, "tokenizer.ggml.padding_token_id", BPET_EOS)) ||
        (rc = dl_gguf_w_bool(w, "tokenizer.ggml.add_bos_token", 1)) ||
        (rc = dl_gguf_w_bool(w, "tokenizer.ggml.add_eos_token", 0)))
        return rc;
    return 0;
}

int bpet_gguf_writer(dl_gguf_writer **out, const bpet_vocab *v, const char *name, dl_err *err) {
    *out = NULL;
    if (v->n_tokens < 256) return dl_fail(err, DIFFLM_E_INVALID_ARG, "tokenizer gguf: %d tokens, need the 256 bytes", v->n_tokens);
    strings tokens = {0}, merges = {0};
    int32_t *types = malloc(((size_t)BPET_N_SPECIAL + (size_t)v->n_tokens) * sizeof *types);
    dl_gguf_writer *w = dl_gguf_writer_new();
    int rc;
    if (!types || !w) rc = dl_fail(err, DIFFLM_E_NOMEM, "tokenizer gguf: out of memory");
    else if ((rc = token_texts(&tokens, types, v, err)) || (rc = merge_texts(&merges, v, err))) {
    } else if ((rc = write_keys(w, v, name, &tokens, types, &merges))) {
        rc = dl_fail(err, rc, "tokenizer gguf: cannot add the tokenizer keys");
    }
    /* the writer copies keys and strings, so the texts can go now */
    strings_free(&tokens);
    strings_free(&merges);
    free(types);
    if (rc) {
        dl_gguf_writer_free(w);
        return rc;
    }
    *out = w;
    return 0;
}
