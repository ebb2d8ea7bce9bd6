/* vocab.c - the token list both trainers build: byte strings, merges in rank order, and
 * the tie-break order of pairs. */
#include <stdlib.h>
#include <string.h>

#include "bpe_train.h"

void bpet_vocab_free(bpet_vocab *v) {
    free(v->bytes);
    free(v->off);
    free(v->merges);
    memset(v, 0, sizeof *v);
}

int bpet_vocab_start(bpet_vocab *v, int32_t max_tokens, dl_err *err) {
    memset(v, 0, sizeof *v);
    if (max_tokens < 256)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "bpe: %d tokens cannot hold the 256 byte tokens", max_tokens);
    v->off = malloc(((size_t)max_tokens + 1) * sizeof *v->off);
    v->bytes = malloc(256);
    if (!v->off || !v->bytes) {
        bpet_vocab_free(v);
        return dl_fail(err, DIFFLM_E_NOMEM, "bpe: out of memory for %d tokens", max_tokens);
    }
    for (int b = 0; b < 256; b++) {
        v->bytes[b] = (uint8_t)b;
        v->off[b] = (size_t)b;
    }
    v->off[256] = 256;
    v->n_tokens = 256;
    return 0;
}

static size_t tok_len(const bpet_vocab *v, int32_t id) {
    return v->off[id + 1] - v->off[id];
}

/* Linear search: only taken once per merge, over at most a few thousand tokens whose
 * lengths are compared first, so it costs far less than the merge it records. */
static int32_t find_token(const bpet_vocab *v, const uint8_t *s, size_t n) {
    for (int32_t id = 256; id < v->n_tokens; id++)
        if (tok_len(v, id) == n && memcmp(v->bytes + v->off[id], s, n) == 0) return id;
    return -1;
}

int bpet_vocab_merge(bpet_vocab *v, int32_t left, int32_t right, int64_t count, int32_t *result,
                     dl_err *err) {
    size_t nl = tok_len(v, left), nr = tok_len(v, right), end = v->off[v->n_tokens];
    /* the merged bytes go at the end of the blob either way; a reused token leaves
     * them there unreferenced until the next append overwrites them */
    uint8_t *b = realloc(v->bytes, end + nl + nr);
    if (!b) return dl_fail(err, DIFFLM_E_NOMEM, "bpe: out of memory for token bytes");
    v->bytes = b;
    memmove(b + end, b + v->off[left], nl);
    memmove(b + end + nl, b + v->off[right], nr);
    int32_t id = find_token(v, b + end, nl + nr);
    if (id < 0) {
        id = v->n_tokens++;
        v->off[id + 1] = end + nl + nr;
    }
    int32_t n = v->n_merges;
    if (n == 0 || (n >= 64 && (n & (n - 1)) == 0)) {   /* capacity 64, then doubling */
        size_t cap = n ? 2 * (size_t)n : 64;
        bpet_merge *m = realloc(v->merges, cap * sizeof *m);
        if (!m) return dl_fail(err, DIFFLM_E_NOMEM, "bpe: out of memory for merges");
        v->merges = m;
    }
    v->merges[v->n_merges++] = (bpet_merge){.left = left, .right = right, .result = id, .count = count};
    *result = id;
    return 0;
}

static int bytes_cmp(const bpet_vocab *v, int32_t a, int32_t b) {
    size_t na = tok_len(v, a), nb = tok_len(v, b);
    int c = memcmp(v->bytes + v->off[a], v->bytes + v->off[b], DL_MIN(na, nb));
    if (c) return c;
    return na < nb ? -1 : na > nb;
}

int bpet_pair_order(const bpet_vocab *v, int32_t l1, int32_t r1, int32_t l2, int32_t r2) {
    int c = bytes_cmp(v, l1, l2);
    return c ? c : bytes_cmp(v, r1, r2);
}
