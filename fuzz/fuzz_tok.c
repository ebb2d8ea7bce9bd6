/* fuzz_tok.c - libFuzzer harness for the tokenizer: arbitrary bytes (invalid UTF-8,
 * NULs, special-token texts, runs that stress the pre-tokenizer's regular expressions)
 * tokenized and detokenized on the real Qwen2.5 vocabulary (151,665 tokens, the size the
 * published models have) or the tiny models' one, and arbitrary ids detokenized.
 *
 * Input: byte 0 picks the mode, the rest is the text (or, in the ids mode, little-endian
 * int32 ids):
 *   bit 0  DIFFLM_TOKENIZE_PARSE_SPECIAL      bit 2  the tiny vocabulary, not Qwen's
 *   bit 1  DIFFLM_TOKENIZE_ADD_BOS            bit 3  detokenize the rest as ids
 * What must hold: every id is inside the vocabulary; the needed size a too-small buffer
 * reports is what the full call writes; the text comes back byte for byte (control
 * tokens rendered when special tokens were parsed, since then they came from the text),
 * except that Qwen's NFC normalization may change it: then the text that comes back
 * tokenizes to the same ids;
 * ids outside the vocabulary give E_INVALID_ARG, and nothing else fails.
 *
 * Built by `meson setup -Dfuzz=true` (doc/testing.md "Fuzzing"); the plain build's
 * fuzz_tok_replay runs fuzz/corpus/tok as the test fuzz-tok. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_vocab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_TEXT 65536   /* longer inputs add time, not paths */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_qwen_tok();
    fuzz_tiny_tok();
    return 0;
}

static void must(int cond) {
    if (!cond)
        __builtin_trap();
}

/* Decodes ids, first into a buffer one byte short of the need; returns the bytes
 * (malloc'd) and their count, or NULL with the status in *rc. */
static char *decode(const dl_tok *t, const int32_t *ids, size_t n, uint32_t flags, size_t *len,
                    int *rc) {
    dl_err err = {0};
    size_t need = 0;
    char probe[8];
    *rc = dl_tok_decode(t, ids, n, flags, probe, 0, &need, &err);
    if (*rc == DIFFLM_E_INVALID_ARG) {
        must(err.msg[0] != '\0');
        return NULL;
    }
    must(*rc == 0 ? need == 0 : *rc == DIFFLM_E_BUFFER_TOO_SMALL && need > 0);
    char *out = malloc(need + 1);
    must(out != NULL);
    size_t got = 0;
    if (need > 1) {
        must(dl_tok_decode(t, ids, n, flags, out, need - 1, &got, &err) ==
             DIFFLM_E_BUFFER_TOO_SMALL && got == need);
    }
    must(dl_tok_decode(t, ids, n, flags, out, need, &got, &err) == 0 && got == need);
    *len = got;
    *rc = 0;
    return out;
}

static void tokenize(const dl_tok *t, const char *text, size_t len, uint32_t flags) {
    dl_err err = {0};
    size_t need = 0;
    int32_t probe[4];
    int rc = dl_tok_encode(t, text, len, flags, probe, 4, &need, &err);
    must(rc == 0 ? need <= 4 : rc == DIFFLM_E_BUFFER_TOO_SMALL && need > 4);
    int32_t *ids = malloc((need ? need : 1) * sizeof *ids);
    must(ids != NULL);
    size_t n = 0;
    must(dl_tok_encode(t, text, len, flags, ids, need, &n, &err) == 0 && n == need);
    const int32_t n_vocab = dl_tok_n_vocab(t);
    for (size_t i = 0; i < n; i++)
        must(ids[i] >= 0 && ids[i] < n_vocab);
    if (rc == 0)
        must(memcmp(ids, probe, n * sizeof *ids) == 0);

    /* The text back: control tokens are skipped by default, so BOS (ADD_BOS) drops out;
     * parsed special tokens came from the text, so they are rendered. */
    uint32_t dflags = (flags & DIFFLM_TOKENIZE_PARSE_SPECIAL) ? DIFFLM_DETOKENIZE_SPECIAL : 0;
    const int32_t *body = ids;
    size_t n_body = n;
    const dl_tok_special *sp = dl_tok_specials(t);
    if ((flags & DIFFLM_TOKENIZE_ADD_BOS) && sp->bos >= 0) {
        must(n >= 1 && ids[0] == sp->bos);
        body++, n_body--;
    }
    size_t back_len = 0;
    char *back = decode(t, body, n_body, dflags, &back_len, &rc);
    must(rc == 0);
    if (back_len != len || memcmp(back, text, len) != 0) {
        /* only a normalizing tokenizer (Qwen's NFC) may change the text, and then what
         * comes back is normalized: it tokenizes to the same ids and comes back as is */
        must(t != fuzz_tiny_tok());
        int32_t *again = malloc((n ? n : 1) * sizeof *again);
        must(again != NULL);
        size_t n2 = 0;
        must(dl_tok_encode(t, back, back_len, flags, again, n, &n2, &err) == 0 && n2 == n &&
             memcmp(again, ids, n * sizeof *ids) == 0);
        free(again);
        size_t back2_len = 0;
        char *back2 = decode(t, body, n_body, dflags, &back2_len, &rc);
        must(rc == 0 && back2_len == back_len && memcmp(back2, back, back_len) == 0);
        free(back2);
    }
    free(back);
    free(ids);
}

static void detokenize(const dl_tok *t, const uint8_t *p, size_t size, uint32_t mode) {
    size_t n = size / 4;
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    must(ids != NULL);
    int outside = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
                     (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
        ids[i] = (int32_t)u;
        outside |= ids[i] < 0 || ids[i] >= dl_tok_n_vocab(t);
    }
    uint32_t flags = (mode & 1) ? DIFFLM_DETOKENIZE_SPECIAL : 0;
    size_t len = 0;
    int rc;
    char *out = decode(t, ids, n, flags, &len, &rc);
    must(outside ? rc == DIFFLM_E_INVALID_ARG : rc == 0);
    free(out);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > MAX_TEXT)
        return 0;
    uint32_t mode = data[0];
    const dl_tok *t = (mode & 4) ? fuzz_tiny_tok() : fuzz_qwen_tok();
    if (mode & 8) {
        detokenize(t, data + 1, size - 1, mode);
        return 0;
    }
    uint32_t flags = ((mode & 1) ? DIFFLM_TOKENIZE_PARSE_SPECIAL : 0) |
                     ((mode & 2) ? DIFFLM_TOKENIZE_ADD_BOS : 0);
    /* A copy of exactly the text, so a read past its end is ASan's to see. */
    size_t len = size - 1;
    char *text = malloc(len ? len : 1);
    must(text != NULL);
    memcpy(text, data + 1, len);
    tokenize(t, text, len, flags);
    free(text);
    return 0;
}
