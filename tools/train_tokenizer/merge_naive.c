/* merge_naive.c - the reference BPE trainer: after every merge, every adjacent pair of
 * every piece is counted again from scratch (sort and sum). O(merges x symbols log):
 * fine for test corpora, far too slow for the real one. bpet_train must agree with it
 * merge for merge. */
#include <stdlib.h>
#include <string.h>

#include "bpe_train.h"

typedef struct pair_occ {
    uint64_t key;          /* left << 32 | right */
    int64_t count;
} pair_occ;

static int occ_cmp(const void *pa, const void *pb) {
    const pair_occ *a = pa, *b = pb;
    return a->key < b->key ? -1 : a->key > b->key;
}

/* Replaces every (a, b), left to right without overlap, by c; returns the new length. */
static size_t replace_pair(int32_t *s, size_t n, int32_t a, int32_t b, int32_t c) {
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && s[i] == a && s[i + 1] == b) {
            s[out++] = c;
            i++;
        } else {
            s[out++] = s[i];
        }
    }
    return out;
}

int bpet_train_naive(bpet_vocab *v, const bpet_pieces *p, const bpet_params *prm, dl_err *err) {
    if (prm->min_count < 1) return dl_fail(err, DIFFLM_E_INVALID_ARG, "bpe: min_count %lld < 1", (long long)prm->min_count);
    int rc = bpet_vocab_start(v, prm->max_tokens, err);
    if (rc) return rc;
    int32_t *sym = malloc((p->n_bytes ? p->n_bytes : 1) * sizeof *sym);
    size_t *len = malloc((p->n ? p->n : 1) * sizeof *len);
    pair_occ *occ = malloc((p->n_bytes ? p->n_bytes : 1) * sizeof *occ);
    if (!sym || !len || !occ) {
        rc = dl_fail(err, DIFFLM_E_NOMEM, "bpe: out of memory for %zu symbols", p->n_bytes);
        goto done;
    }
    /* piece i keeps its slot sym[off[i] ..]; only its length shrinks */
    for (size_t i = 0; i < p->n_bytes; i++) sym[i] = p->bytes[i];
    for (size_t i = 0; i < p->n; i++) len[i] = p->off[i + 1] - p->off[i];

    while (v->n_tokens < prm->max_tokens) {
        size_t n_occ = 0;
        for (size_t i = 0; i < p->n; i++) {
            const int32_t *s = sym + p->off[i];
            for (size_t j = 0; j + 1 < len[i]; j++)
                occ[n_occ++] = (pair_occ){((uint64_t)(uint32_t)s[j] << 32) | (uint32_t)s[j + 1], p->count[i]};
        }
        qsort(occ, n_occ, sizeof *occ, occ_cmp);
        int64_t best_count = 0;
        int32_t bl = -1, br = -1;
        for (size_t i = 0; i < n_occ;) {
            size_t j = i;
            int64_t total = 0;
            for (; j < n_occ && occ[j].key == occ[i].key; j++) total += occ[j].count;
            int32_t l = (int32_t)(occ[i].key >> 32), r = (int32_t)(uint32_t)occ[i].key;
            if (total > best_count || (total == best_count && bpet_pair_order(v, l, r, bl, br) < 0)) {
                best_count = total;
                bl = l;
                br = r;
            }
            i = j;
        }
        if (best_count < prm->min_count) break;
        int32_t c;
        if ((rc = bpet_vocab_merge(v, bl, br, best_count, &c, err))) goto done;
        for (size_t i = 0; i < p->n; i++) len[i] = replace_pair(sym + p->off[i], len[i], bl, br, c);
    }
done:
    free(sym);
    free(len);
    free(occ);
    if (rc) bpet_vocab_free(v);
    return rc;
}
