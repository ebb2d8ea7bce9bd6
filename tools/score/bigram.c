/* bigram.c - Witten-Bell bigram counts and likelihood (see bigram.h). */
#include "bigram.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void score_bigram_free(score_bigram *b) {
    free(b->keys);
    free(b->pair_count);
    free(b->ctx_count);
    free(b->ctx_types);
    free(b->uni);
    memset(b, 0, sizeof *b);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The context of the token at stream index i, the first of window (start, ...). */
static int32_t window_context(const int32_t *ids, const score_windows *w, size_t start,
                              int32_t ctx_id) {
    return w->first ? ids[start - 1] : ctx_id;
}

static int check_ids(const int32_t *ids, const score_windows *w, int32_t n_vocab, score_err *err) {
    for (size_t i = 0; i < w->n; i++)
        if (ids[i] < 0 || ids[i] >= n_vocab)
            return score_fail(err, DIFFLM_E_INVALID_ARG, "bigram: token %d at %zu is outside the "
                           "vocabulary of %d", (int)ids[i], i, (int)n_vocab);
    return 0;
}

int score_bigram_train(score_bigram *b, const int32_t *ids, const score_windows *w,
                       int32_t ctx_id, int32_t n_vocab, score_err *err) {
    memset(b, 0, sizeof *b);
    if (n_vocab < 1 || ctx_id >= n_vocab)
        return score_fail(err, DIFFLM_E_INVALID_ARG, "bigram: bad vocabulary %d or context %d",
                       (int)n_vocab, (int)ctx_id);
    int rc = check_ids(ids, w, n_vocab, err);
    if (rc != 0)
        return rc;
    b->n_vocab = n_vocab;
    const size_t n_pred = w->n - w->first;
    b->keys = malloc(SCORE_MAX(n_pred, (size_t)1) * sizeof *b->keys);
    b->ctx_count = calloc((size_t)n_vocab, sizeof *b->ctx_count);
    b->ctx_types = calloc((size_t)n_vocab, sizeof *b->ctx_types);
    b->uni = calloc((size_t)n_vocab, sizeof *b->uni);
    if (!b->keys || !b->ctx_count || !b->ctx_types || !b->uni) {
        score_bigram_free(b);
        return score_fail(err, DIFFLM_E_NOMEM, "bigram: out of memory for %zu tokens", n_pred);
    }
    size_t nk = 0;
    for (size_t j = 0; j < w->count; j++) {
        size_t start, len;
        score_window_at(w, j, &start, &len);
        for (size_t i = start; i < start + len; i++) {
            const int32_t x = i == start ? window_context(ids, w, start, ctx_id) : ids[i - 1];
            b->uni[ids[i]]++;
            b->n_uni++;
            if (x >= 0)
                b->keys[nk++] = (uint64_t)x << 32 | (uint32_t)ids[i];
        }
    }
    qsort(b->keys, nk, sizeof *b->keys, cmp_u64);
    b->pair_count = malloc(SCORE_MAX(nk, (size_t)1) * sizeof *b->pair_count);
    if (!b->pair_count) {
        score_bigram_free(b);
        return score_fail(err, DIFFLM_E_NOMEM, "bigram: out of memory for %zu pairs", nk);
    }
    /* Run-length the sorted keys in place into (key, count). */
    size_t u = 0;
    for (size_t i = 0; i < nk;) {
        size_t r = i;
        while (r < nk && b->keys[r] == b->keys[i])
            r++;
        const uint32_t x = (uint32_t)(b->keys[i] >> 32);
        b->keys[u] = b->keys[i];
        b->pair_count[u] = r - i;
        b->ctx_count[x] += r - i;
        b->ctx_types[x]++;
        u++;
        i = r;
    }
    b->n_keys = u;
    return 0;
}

static uint64_t pair_count(const score_bigram *b, int32_t x, int32_t y) {
    const uint64_t key = (uint64_t)x << 32 | (uint32_t)y;
    size_t lo = 0, hi = b->n_keys;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b->keys[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < b->n_keys && b->keys[lo] == key ? b->pair_count[lo] : 0;
}

double score_bigram_prob(const score_bigram *b, int32_t x, int32_t y) {
    const double p_uni = ((double)b->uni[y] + 1.0) / ((double)b->n_uni + (double)b->n_vocab);
    if (x < 0 || b->ctx_count[x] == 0)
        return p_uni;
    const double cx = (double)b->ctx_count[x], tx = (double)b->ctx_types[x];
    return ((double)pair_count(b, x, y) + tx * p_uni) / (cx + tx);
}

int score_bigram_nll(const score_bigram *b, const int32_t *ids, const score_windows *w,
                     int32_t ctx_id, size_t take, double *nll, size_t *n_tokens, score_err *err) {
    int rc = check_ids(ids, w, b->n_vocab, err);
    if (rc != 0)
        return rc;
    if (ctx_id >= b->n_vocab)
        return score_fail(err, DIFFLM_E_INVALID_ARG, "bigram: context %d is outside the "
                       "vocabulary of %d", (int)ctx_id, (int)b->n_vocab);
    if (take == 0 || take > w->count)
        take = w->count;
    double sum = 0.0;
    size_t n = 0;
    for (size_t j = 0; j < take; j++) {
        size_t start, len;
        score_window_at(w, score_window_pick(w, j, take), &start, &len);
        for (size_t i = start; i < start + len; i++) {
            const int32_t x = i == start ? window_context(ids, w, start, ctx_id) : ids[i - 1];
            sum -= log(score_bigram_prob(b, x, ids[i]));
        }
        n += len;
    }
    *nll = sum;
    *n_tokens = n;
    return 0;
}
