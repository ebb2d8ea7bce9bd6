/* tok_build.c - the steps that turn a vocabulary, its token types and its merges into a
 * dl_tok, shared by the GGUF loader (tok_load.c) and the Hugging Face one (tok_hf.c).
 *
 * Loading is linear in vocabulary plus merges: one pass to copy texts, one to hash them,
 * one over the merges (three lookups each). */
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

int dl_tok_alloc_vocab(dl_tok *t, int32_t n, size_t total, dl_err *err) {
    if (n <= 0 || n >= INT32_MAX)
        return dl_fail(err, DIFFLM_E_FORMAT, "tokenizer: %d tokens (want 1..%d)", n, INT32_MAX - 1);
    if (total > UINT32_MAX) return dl_fail(err, DIFFLM_E_FORMAT, "tokenizer: token texts exceed 4 GiB");
    size_t nn = (size_t)n;
    t->n_vocab = t->n_ids = n;
    t->text = dl_malloc(total ? total : 1);
    t->dec = dl_malloc(total ? total : 1);   /* a decoded token is never longer than its text */
    t->text_off = dl_calloc(nn + 1, sizeof *t->text_off);
    t->dec_off = dl_calloc(nn + 1, sizeof *t->dec_off);
    t->type = dl_malloc(nn);
    t->attr = dl_calloc(nn, 1);
    if (!t->text || !t->dec || !t->text_off || !t->dec_off || !t->type || !t->attr)
        return dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: out of memory for %d tokens", n);
    memset(t->type, DL_TOKT_UNUSED, nn);
    return 0;
}

void dl_tok_fill_texts(dl_tok *t, const char *const *texts, const size_t *lens) {
    uint32_t off = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        t->text_off[i] = off;
        if (texts[i] && lens[i]) {
            memcpy(t->text + off, texts[i], lens[i]);
            off += (uint32_t)lens[i];
        }
    }
    t->text_off[t->n_vocab] = off;
}

static int is_bpe_type(uint8_t type) {
    return type == DL_TOKT_NORMAL || type == DL_TOKT_BYTE;
}

int dl_tok_build_text_map(dl_tok *t, const char *what, dl_err *err) {
    if (dl_tok_table_size((size_t)t->n_vocab, &t->bpe_mask))
        return dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: vocabulary too large");
    t->bpe_slots = dl_malloc(((size_t)t->bpe_mask + 1) * sizeof *t->bpe_slots);
    if (!t->bpe_slots) return dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: out of memory for the token map");
    memset(t->bpe_slots, 0xFF, ((size_t)t->bpe_mask + 1) * sizeof *t->bpe_slots);   /* all -1 */
    for (int32_t id = 0; id < t->n_vocab; id++)
        if (is_bpe_type(t->type[id]) && t->text_off[id + 1] > t->text_off[id]) dl_tok_bpe_insert(t, id);
    for (int b = 0; b < 256; b++) {
        char u[2];
        int len = dl_byte_to_utf8(u, (uint8_t)b);
        t->byte_tok[b] = dl_tok_find_bpe(t, u, (size_t)len);
        if (t->byte_tok[b] < 0)
            return dl_fail(err, DIFFLM_E_FORMAT, "%s: no token for byte 0x%02X ('%.*s'); "
                           "a byte-level BPE vocabulary needs all 256", what, b, len, u);
    }
    return 0;
}

int dl_tok_merges_begin(dl_tok *t, size_t n, dl_err *err) {
    if (n >= (size_t)INT32_MAX) return dl_fail(err, DIFFLM_E_FORMAT, "tokenizer: too many merges");
    if (dl_tok_table_size(n, &t->merge_mask))
        return dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: merge table too large");
    size_t slots = (size_t)t->merge_mask + 1;
    t->merge_slots = dl_malloc(slots * sizeof *t->merge_slots);
    if (!t->merge_slots) return dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: out of memory for the merge table");
    for (size_t i = 0; i < slots; i++) t->merge_slots[i].key = DL_MERGE_EMPTY;
    return 0;
}

int dl_tok_add_merge(dl_tok *t, const char *l, size_t nl, const char *r, size_t nr, int32_t rank,
                     char **joined, size_t *joined_cap, dl_err *err) {
    /* a merge whose halves or result are not tokens can never fire on token ids */
    int32_t left = dl_tok_find_bpe(t, l, nl);
    int32_t right = dl_tok_find_bpe(t, r, nr);
    if (left < 0 || right < 0) return 0;
    if (nl + nr > *joined_cap) {
        char *p = dl_realloc(*joined, nl + nr);
        if (!p) return dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: out of memory");
        *joined = p;
        *joined_cap = nl + nr;
    }
    memcpy(*joined, l, nl);
    memcpy(*joined + nl, r, nr);
    int32_t result = dl_tok_find_bpe(t, *joined, nl + nr);
    if (result >= 0) dl_tok_merge_insert(t, left, right, rank, result);
    return 0;
}

/* Normal tokens decode through the byte alphabet; a character outside it (or a stray
 * invalid byte) is kept as written. Everything else decodes to its text verbatim. */
static void build_decode(dl_tok *t) {
    uint32_t off = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        size_t n;
        const uint8_t *s = (const uint8_t *)dl_tok_text(t, id, &n);
        t->dec_off[id] = off;
        if (!is_bpe_type(t->type[id])) {
            memcpy(t->dec + off, s, n);
            off += (uint32_t)n;
            continue;
        }
        for (size_t i = 0; i < n;) {
            uint32_t cp;
            int len = dl_utf8_next(s + i, n - i, &cp);
            int b = len > 0 ? dl_unicode_to_byte(cp) : -1;
            if (b >= 0) {
                t->dec[off++] = (char)b;
            } else {
                size_t k = len > 0 ? (size_t)len : 1;
                memcpy(t->dec + off, s + i, k);
                off += (uint32_t)k;
            }
            i += len > 0 ? (size_t)len : 1;
        }
    }
    t->dec_off[t->n_vocab] = off;
}

typedef struct special_key {
    uint8_t first;
    uint32_t len;
    int32_t id;
} special_key;

static int special_key_cmp(const void *pa, const void *pb) {
    const special_key *a = pa, *b = pb;
    if (a->first != b->first) return a->first < b->first ? -1 : 1;
    if (a->len != b->len) return a->len > b->len ? -1 : 1;   /* longest first */
    return a->id < b->id ? -1 : a->id > b->id;
}

static int is_added_type(uint8_t ty) {
    return ty == DL_TOKT_CONTROL || ty == DL_TOKT_USER_DEFINED;
}

static int build_specials(dl_tok *t, dl_err *err) {
    size_t n = 0;
    for (int32_t id = 0; id < t->n_vocab; id++)
        n += is_added_type(t->type[id]) && t->text_off[id + 1] > t->text_off[id];
    special_key *keys = dl_malloc((n ? n : 1) * sizeof *keys);
    t->special_ids = dl_malloc((n ? n : 1) * sizeof *t->special_ids);
    if (!keys || !t->special_ids) {
        dl_free(keys);
        return dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: out of memory for special tokens");
    }
    size_t k = 0;
    t->any_normalized = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        size_t len;
        const char *s = dl_tok_text(t, id, &len);
        if (is_added_type(t->type[id]) && len > 0) {
            keys[k++] = (special_key){.first = (uint8_t)s[0], .len = (uint32_t)len, .id = id};
            if (t->attr[id] & DL_TOKA_NORMALIZED) t->any_normalized = 1;
        }
    }
    qsort(keys, n, sizeof *keys, special_key_cmp);
    memset(t->special_start, 0, sizeof t->special_start);
    for (size_t i = 0; i < n; i++) {
        t->special_ids[i] = keys[i].id;
        t->special_start[keys[i].first + 1]++;
    }
    for (int b = 0; b < 256; b++) t->special_start[b + 1] += t->special_start[b];
    dl_free(keys);
    return 0;
}

int32_t dl_tok_find_text(const dl_tok *t, const char *name, size_t n) {
    for (int32_t id = 0; id < t->n_vocab; id++) {
        size_t len;
        const char *s = dl_tok_text(t, id, &len);
        if (len == n && memcmp(s, name, n) == 0) return id;
    }
    return -1;
}

int dl_tok_finish(dl_tok *t, dl_err *err) {
    int rc = build_specials(t, err);
    if (rc) return rc;
    build_decode(t);
    if (dl_tok_find_text(t, "<|start_header_id|>", 19) >= 0) t->chat_style = DL_CHAT_LLAMA3;
    else if (dl_tok_find_text(t, "<|im_start|>", 12) >= 0) t->chat_style = DL_CHAT_CHATML;
    else t->chat_style = DL_CHAT_NONE;
    if (t->sp.eot < 0) t->sp.eot = dl_tok_find_text(t, "<|eot_id|>", 10);
    if (t->sp.eot < 0) t->sp.eot = dl_tok_find_text(t, "<|im_end|>", 10);
    return 0;
}

void dl_tok_free(dl_tok *t) {
    if (!t) return;
    dl_pretok_free(&t->pretok);
    dl_free(t->text);
    dl_free(t->text_off);
    dl_free(t->type);
    dl_free(t->attr);
    dl_free(t->dec);
    dl_free(t->dec_off);
    dl_free(t->bpe_slots);
    dl_free(t->merge_slots);
    dl_free(t->special_ids);
    dl_tok_set_chat_template(t, NULL, 0, NULL);
    dl_free(t);
}

int32_t dl_tok_n_vocab(const dl_tok *t) { return t->n_vocab; }
int32_t dl_tok_n_ids(const dl_tok *t) { return t->n_ids; }

int dl_tok_set_n_ids(dl_tok *t, int32_t n, dl_err *err) {
    if (n < t->n_vocab)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "tokenizer: %d ids is fewer than its %d tokens", n,
                       t->n_vocab);
    t->n_ids = n;
    return 0;
}
const dl_tok_special *dl_tok_specials(const dl_tok *t) { return &t->sp; }
int dl_tok_chat_style(const dl_tok *t) { return t->chat_style; }

int dl_tok_set_specials(dl_tok *t, const dl_tok_special *sp, dl_err *err) {
    if (!t || !sp) return dl_fail(err, DIFFLM_E_INVALID_ARG, "dl_tok_set_specials: NULL argument");
    const int32_t *in[] = {&sp->bos, &sp->eos, &sp->eot, &sp->mask, &sp->pad};
    int32_t *cur[] = {&t->sp.bos, &t->sp.eos, &t->sp.eot, &t->sp.mask, &t->sp.pad};
    static const char *const names[] = {"bos", "eos", "eot", "mask", "pad"};
    for (int i = 0; i < 5; i++)
        if (*in[i] < DL_TOK_KEEP || *in[i] >= t->n_vocab)
            return dl_fail(err, DIFFLM_E_INVALID_ARG, "%s token id %d is outside the vocabulary (%d tokens)",
                           names[i], *in[i], t->n_vocab);
    if (sp->add_bos < DL_TOK_KEEP || sp->add_bos > 1)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "add_bos %d is not 0, 1 or DL_TOK_KEEP", sp->add_bos);
    for (int i = 0; i < 5; i++)
        if (*in[i] != DL_TOK_KEEP) *cur[i] = *in[i];
    if (sp->add_bos == 0 || sp->add_bos == 1) t->sp.add_bos = sp->add_bos;
    return 0;
}
