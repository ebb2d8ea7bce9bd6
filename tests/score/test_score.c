/* test_score.c - difflm_score and the scoring tools' parts: the library's stratified
 * counts, random subsets and cross-entropy row (lib/sample/elbo_draw.h), the public
 * difflm_score against an exact enumeration of the same ELBO (through difflm_logits) on
 * tiny models, its determinism over thread counts, cancel and errors, the
 * text-to-windows path and the bigram model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_compat.h"
#include "core/core.h"
#include "fmt/gguf.h"
#include "model/model.h"
#include "model_tiny.h"
#include "difflm.h"
#include "sample/elbo_draw.h"
#include "score/bigram.h"
#include "score/corpus.h"
#include "score/corpus_tok.h"
#include "tok/tok.h"

/* The library's draws under the names these tests were first written against. */
static void score_strat_counts(int32_t *counts, int32_t k, int32_t L, int32_t b) {
    for (int32_t i = 0; i < b; i++)
        counts[i] = dl_elbo_count(k, L, b, i);
}
#define score_choose_positions dl_elbo_choose
#define score_rng_below dl_rng_below
#define score_row_nll dl_row_nll

/* ------------------------------------------------------------------ stratified counts */

static void expect_counts(int32_t k, int32_t L, int32_t b, const int32_t *want) {
    int32_t got[64];
    score_strat_counts(got, k, L, b);
    for (int32_t i = 0; i < b; i++)
        ck_assert_msg(got[i] == want[i], "k=%d L=%d b=%d: row %d has %d, want %d", k, L, b, i,
                      got[i], want[i]);
}

START_TEST(strat_hand_cases) {
    /* Values k + i*L/b, rounded half to even, wrapped into 1..L. */
    expect_counts(1, 4, 4, (const int32_t[]){ 1, 2, 3, 4 });
    expect_counts(3, 4, 4, (const int32_t[]){ 3, 4, 1, 2 });          /* 5, 6 wrap */
    expect_counts(1, 2, 4, (const int32_t[]){ 1, 2, 2, 2 });          /* 1.5->2, 2.5->2 */
    expect_counts(2, 2, 4, (const int32_t[]){ 2, 2, 1, 2 });          /* 2.5->2, 3->1, 3.5->4->2 */
    expect_counts(7, 10, 4, (const int32_t[]){ 7, 10, 2, 4 });        /* 9.5->10, 12, 14.5->14 */
    expect_counts(5, 5, 1, (const int32_t[]){ 5 });
}
END_TEST

START_TEST(strat_more_hand_cases) {
    /* L=3, b=2, k=1: 1, 2.5->2.   k=2: 2, 3.5->4->1.   k=3: 3, 4.5->4->1. */
    expect_counts(1, 3, 2, (const int32_t[]){ 1, 2 });
    expect_counts(2, 3, 2, (const int32_t[]){ 2, 1 });
    expect_counts(3, 3, 2, (const int32_t[]){ 3, 1 });
    /* L=1: everything is 1 whatever b. */
    int32_t ones[16];
    for (int i = 0; i < 16; i++)
        ones[i] = 1;
    expect_counts(1, 1, 16, ones);
    /* LLaDA's defaults on a 100-token answer, k=100: 100 + 6.25 i. */
    expect_counts(100, 100, 16, (const int32_t[]){ 100, 6, 12, 19, 25, 31, 38, 44, 50, 56, 62,
                                                   69, 75, 81, 88, 94 });
}
END_TEST

START_TEST(strat_properties) {
    int32_t c[64];
    for (int32_t L = 1; L <= 40; L++)
        for (int32_t b = 1; b <= 40; b++)
            for (int32_t k = 1; k <= L; k++) {
                score_strat_counts(c, k, L, b);
                ck_assert_int_eq(c[0], k);
                for (int32_t i = 0; i < b; i++)
                    ck_assert(c[i] >= 1 && c[i] <= L);
                if (b == L) {   /* one row per count: a permutation of 1..L */
                    int seen[41] = {0};
                    for (int32_t i = 0; i < b; i++)
                        ck_assert_int_eq(seen[c[i]]++, 0);
                }
            }
    /* Without ties (2*i*L/b never odd: here L=5, b=3) each row is uniform over k. */
    for (int32_t i = 0; i < 3; i++) {
        int seen[6] = {0};
        for (int32_t k = 1; k <= 5; k++) {
            score_strat_counts(c, k, 5, 3);
            seen[c[i]]++;
        }
        for (int m = 1; m <= 5; m++)
            ck_assert_int_eq(seen[m], 1);
    }
}
END_TEST

/* ------------------------------------------------------------------ random subsets */

START_TEST(choose_positions_uniform) {
    dl_rng rng;
    dl_rng_seed(&rng, 42);
    int32_t idx[4];
    int counts[16] = {0};
    const int draws = 60000;
    for (int d = 0; d < draws; d++) {
        score_choose_positions(idx, &rng, 2, 4);
        ck_assert(idx[0] != idx[1] && idx[0] >= 0 && idx[0] < 4 && idx[1] >= 0 && idx[1] < 4);
        counts[(1 << idx[0]) | (1 << idx[1])]++;
    }
    /* 6 subsets, 10000 expected each, sigma ~ 91. */
    int n_sets = 0;
    for (int s = 0; s < 16; s++) {
        if (!counts[s])
            continue;
        n_sets++;
        ck_assert_msg(abs(counts[s] - draws / 6) < 500, "subset %x drawn %d times", s, counts[s]);
    }
    ck_assert_int_eq(n_sets, 6);
    for (int d = 0; d < 1000; d++) {
        uint64_t v = score_rng_below(&rng, 3);
        ck_assert(v < 3);
    }
    ck_assert(score_rng_below(&rng, 1) == 0);
}
END_TEST

/* ------------------------------------------------------------------ cross-entropy row */

START_TEST(row_nll_values) {
    const float flat[4] = { 0.5f, 0.5f, 0.5f, 0.5f };
    ck_assert_double_eq_tol(score_row_nll(flat, 2, 4), log(4.0), 1e-12);
    const float two[2] = { 0.0f, (float)log(3.0) };
    ck_assert_double_eq_tol(score_row_nll(two, 1, 2), log(4.0 / 3.0), 1e-7);
    ck_assert_double_eq_tol(score_row_nll(two, 0, 2), log(4.0), 1e-7);
    const float big[2] = { 1000.0f, 0.0f };     /* no overflow */
    ck_assert_double_eq_tol(score_row_nll(big, 0, 2), 0.0, 1e-12);
    ck_assert_double_eq_tol(score_row_nll(big, 1, 2), 1000.0, 1e-9);
    const float none[2] = { -INFINITY, -INFINITY };
    ck_assert(isinf(score_row_nll(none, 0, 2)));
    const float bad[2] = { NAN, 0.0f };
    ck_assert(isnan(score_row_nll(bad, 1, 2)));
}
END_TEST

/* ------------------------------------------------------------------ tiny models */

typedef struct fixture {
    void *buf;
    size_t n;
    char path[64];
    dl_gguf *g;
    dl_model *m;
    dl_tok *t;
    score_tokenizer st;
    difflm_model *lm;
    difflm_ctx *ctx;
} fixture;

static difflm_ctx *fx_ctx(fixture *f, int32_t max_canvas, int32_t n_threads) {
    difflm_ctx_params cp;
    difflm_ctx_params_init(&cp);
    cp.max_canvas = max_canvas;
    cp.n_threads = n_threads;
    cp.log_level = DIFFLM_LOG_ERROR;
    int st = 0;
    difflm_ctx *c = difflm_ctx_create(f->lm, &cp, &st);
    ck_assert_msg(c != NULL, "difflm_ctx_create: %d", st);
    return c;
}

/* A tiny model (mask id 5) in memory for the tokenizer, and as a file for the public API. */
static void fx_open(fixture *f, int32_t arch, int32_t max_tokens) {
    memset(f, 0, sizeof *f);
    dl_err err;
    dl_err_clear(&err);
    dl_tiny_spec s;
    dl_tiny_spec_init(&s, arch);
    s.n_embd = 32;
    s.n_head = 4;
    s.n_head_kv = 2;
    s.n_ff = 64;
    s.n_vocab = 400;
    s.seed = 7;
    dl_log silent = {0};
    ck_assert_int_eq(dl_tiny_to_buffer(&s, &f->buf, &f->n, &err), 0);
    ck_assert_msg(dl_gguf_open_mem(&f->g, f->buf, f->n, &err) == 0, "%s", err.msg);
    ck_assert_msg(dl_model_load(&f->m, f->g, &silent, &err) == 0, "%s", err.msg);
    ck_assert_msg(dl_tok_load(&f->t, f->g, &err) == 0, "%s", err.msg);
    f->m->n_threads = 1;
    score_tokenizer_from_tok(&f->st, f->t);
    snprintf(f->path, sizeof f->path, "/tmp/difflm-score-XXXXXX");
    int fd = mkstemp(f->path);
    ck_assert(fd >= 0);
    ck_assert(write(fd, f->buf, f->n) == (ssize_t)f->n);
    close(fd);
    difflm_model_params mp;
    difflm_model_params_init(&mp);
    mp.path = f->path;
    mp.mask_token_id = 5;
    int st = 0;
    f->lm = difflm_model_load(&mp, &st);
    ck_assert_msg(f->lm != NULL, "difflm_model_load: %d", st);
    f->ctx = fx_ctx(f, max_tokens, 1);
}

static void fx_close(fixture *f) {
    difflm_free(f->ctx);
    difflm_model_free(f->lm);
    unlink(f->path);
    dl_tok_free(f->t);
    dl_model_free(f->m);
    dl_gguf_close(f->g);
    free(f->buf);
}

/* sum over the masked answer positions of -log p(true token), from difflm_logits: the
 * sequence with those positions set to the mask, one pass, the head over their rows
 * (row p - 1 for shifted logits), log-sum-exp in double. */
static double masked_nll(fixture *f, const int32_t *seq, int32_t n_prompt, int32_t n_answer,
                         const int32_t *masked, int32_t m) {
    difflm_model_info info = { .struct_size = sizeof info };
    ck_assert_int_eq(difflm_model_info_get(f->ctx, &info), DIFFLM_OK);
    const int32_t n = n_prompt + n_answer, V = info.n_vocab, shift = info.shift_logits;
    int32_t noisy[64], rows[64];
    ck_assert(n <= 64);
    memcpy(noisy, seq, (size_t)n * sizeof *seq);
    for (int32_t j = 0; j < m; j++) {
        noisy[n_prompt + masked[j]] = info.mask_id;
        rows[j] = n_prompt + masked[j] - shift;
    }
    float *logits = malloc((size_t)m * V * sizeof *logits);
    size_t got = 0;
    ck_assert_msg(difflm_logits(f->ctx, noisy, (size_t)n, rows, (size_t)m, logits,
                                (size_t)m * V, &got) == DIFFLM_OK, "%s",
                  difflm_last_error(f->ctx));
    double sum = 0.0;
    for (int32_t j = 0; j < m; j++) {
        const float *l = logits + (size_t)j * V;
        double mx = l[0], z = 0.0;
        for (int32_t v = 1; v < V; v++)
            mx = l[v] > mx ? l[v] : mx;
        for (int32_t v = 0; v < V; v++)
            z += exp((double)l[v] - mx);
        sum += mx + log(z) - (double)l[seq[n_prompt + masked[j]]];
    }
    free(logits);
    return sum;
}

static int score_call(difflm_ctx *ctx, const int32_t *seq, int32_t n_prompt, int32_t L,
                      int32_t mc, int32_t b, uint64_t seed, difflm_score_result *out) {
    difflm_score_params p;
    difflm_score_params_init(&p);
    p.mc = mc;
    p.batch = b;
    p.seed = seed;
    out->struct_size = sizeof *out;
    return difflm_score(ctx, seq, (size_t)n_prompt, seq + n_prompt, (size_t)L, &p, out);
}

/* The estimator's expectation, by enumeration: k uniform on 1..L, row i gets the
 * stratified count m_i(k), its masked set uniform among the m_i-subsets, loss = CE * L/m. */
static double exact_expectation(fixture *f, const int32_t *seq, int32_t n_prompt, int32_t L,
                                int32_t b, int weight_by_inverse_p) {
    double f_of_m[8] = {0};
    ck_assert(L <= 7);
    for (int32_t m = 1; m <= L; m++) {
        double sum = 0.0;
        int n_sets = 0;
        for (uint32_t set = 0; set < (1u << L); set++) {
            if (__builtin_popcount(set) != m)
                continue;
            int32_t masked[8], nm = 0;
            for (int32_t p = 0; p < L; p++)
                if (set & (1u << p))
                    masked[nm++] = p;
            sum += masked_nll(f, seq, n_prompt, L, masked, nm);
            n_sets++;
        }
        f_of_m[m] = sum / n_sets * (weight_by_inverse_p ? (double)L / m : 1.0);
    }
    double total = 0.0;
    int32_t counts[64];
    for (int32_t k = 1; k <= L; k++) {
        score_strat_counts(counts, k, L, b);
        for (int32_t i = 0; i < b; i++)
            total += f_of_m[counts[i]];
    }
    return total / ((double)L * b);
}

static void check_against_exact(int32_t arch, const int32_t *seq, int32_t n_prompt, int32_t L,
                                 int32_t b, int32_t mc) {
    fixture f;
    fx_open(&f, arch, 16);
    const double exact = exact_expectation(&f, seq, n_prompt, L, b, 1);
    const double unweighted = exact_expectation(&f, seq, n_prompt, L, b, 0);
    difflm_score_result est;
    ck_assert_msg(score_call(f.ctx, seq, n_prompt, L, mc, b, 1234, &est) == DIFFLM_OK, "%s",
                  difflm_last_error(f.ctx));
    ck_assert_int_eq(est.n_iter, mc / b);
    ck_assert_int_eq(est.n_tokens, L);
    ck_assert_double_eq_tol(est.se, sqrt(est.var), 1e-15);
    const double se = est.se;
    ck_assert(se > 0.0 && se < 0.05 * exact);
    ck_assert_msg(fabs(est.nll - exact) < 4.0 * se, "arch %d L=%d b=%d: estimate %.5f, exact "
                  "%.5f, se %.5f", arch, L, b, est.nll, exact, se);
    /* The test has power: forgetting the 1/p weighting would be caught many times over. */
    ck_assert_msg(fabs(unweighted - exact) > 10.0 * se, "weighting changes %.5f vs %.5f only",
                  unweighted, exact);
    fx_close(&f);
}

START_TEST(estimator_matches_exact_llada) {
    /* BOS, one prompt token, answer of 2 and of 3 tokens; b=4 has rounding ties at both. */
    const int32_t seq2[] = { 0, 300, 301, 302 };
    check_against_exact(DIFFLM_ARCH_LLADA, seq2, 2, 2, 4, 4 * 150);
    const int32_t seq3[] = { 0, 300, 301, 302, 303 };
    check_against_exact(DIFFLM_ARCH_LLADA, seq3, 2, 3, 4, 4 * 150);
    check_against_exact(DIFFLM_ARCH_LLADA, seq3, 2, 3, 3, 3 * 150);
}
END_TEST

START_TEST(estimator_matches_exact_dream) {
    const int32_t seq3[] = { 300, 301, 302, 303 };
    check_against_exact(DIFFLM_ARCH_DREAM, seq3, 1, 3, 2, 2 * 250);
}
END_TEST

START_TEST(estimator_deterministic_and_exact_cases) {
    fixture f;
    fx_open(&f, DIFFLM_ARCH_LLADA, 16);
    const int32_t seq[] = { 0, 310, 311, 312, 313, 314, 315 };
    difflm_score_result a, b, c;
    ck_assert_int_eq(score_call(f.ctx, seq, 1, 6, 32, 8, 9, &a), 0);
    ck_assert_int_eq(score_call(f.ctx, seq, 1, 6, 32, 8, 9, &b), 0);
    ck_assert_int_eq(score_call(f.ctx, seq, 1, 6, 32, 8, 10, &c), 0);
    ck_assert(memcmp(&a.nll, &b.nll, sizeof a.nll) == 0);
    ck_assert(memcmp(&a.var, &b.var, sizeof a.var) == 0);
    ck_assert(a.nll != c.nll);
    ck_assert(a.nll > 0.0 && a.var > 0.0);

    /* One answer token: every row masks it with weight 1, so the estimate is exact. */
    const int32_t only[1] = { 0 };
    const double ce = masked_nll(&f, seq, 6, 1, only, 1);
    ck_assert_int_eq(score_call(f.ctx, seq, 6, 1, 16, 4, 3, &a), 0);
    ck_assert_double_eq_tol(a.nll, ce, 1e-6 * ce);
    ck_assert_double_eq_tol(a.var, 0.0, 1e-20);
    /* No answer: zero. One iteration: the row-based variance is used. */
    ck_assert_int_eq(score_call(f.ctx, seq, 7, 0, 16, 16, 3, &a), 0);
    ck_assert(a.nll == 0.0 && a.var == 0.0 && a.n_tokens == 0);
    ck_assert_int_eq(score_call(f.ctx, seq, 1, 6, 16, 16, 3, &a), 0);
    ck_assert(a.n_iter == 1 && a.var > 0.0);
    ck_assert_int_eq(score_call(f.ctx, seq, 1, 6, 1, 1, 3, &a), 0);
    ck_assert(isnan(a.var));
    /* NULL params: the defaults (mc 128, batch 16). */
    difflm_score_result d = { .struct_size = sizeof d };
    ck_assert_int_eq(difflm_score(f.ctx, seq, 1, seq + 1, 6, NULL, &d), 0);
    ck_assert_int_eq(d.n_iter, 8);
    fx_close(&f);
}
END_TEST

/* The same bits for 1, 2 and 3 threads, LLaDA and Dream, and an older, smaller result. */
START_TEST(estimator_thread_counts) {
    const int32_t archs[2] = { DIFFLM_ARCH_LLADA, DIFFLM_ARCH_DREAM };
    for (int ai = 0; ai < 2; ai++) {
        fixture f;
        fx_open(&f, archs[ai], 32);
        int32_t seq[24];
        for (int i = 0; i < 24; i++)
            seq[i] = 40 + 13 * i;
        difflm_score_result r[3];
        for (int t = 1; t <= 3; t++) {
            difflm_ctx *c = fx_ctx(&f, 32, t);
            ck_assert_int_eq(score_call(c, seq, 3, 21, 12, 4, 77, &r[t - 1]), 0);
            difflm_free(c);
        }
        for (int t = 1; t < 3; t++) {
            ck_assert(memcmp(&r[0].nll, &r[t].nll, sizeof r[0].nll) == 0);
            ck_assert(memcmp(&r[0].var, &r[t].var, sizeof r[0].var) == 0);
        }
        struct { uint32_t struct_size; int32_t n_tokens, n_iter; double nll; } small_r;
        small_r.struct_size = 0;   /* below the first release: refused */
        difflm_score_params p;
        difflm_score_params_init(&p);
        ck_assert_int_eq(difflm_score(f.ctx, seq, 3, seq + 3, 21, &p,
                                      (difflm_score_result *)&small_r), DIFFLM_E_INVALID_ARG);
        fx_close(&f);
    }
}
END_TEST

/* Cross-entropy of masked positions from difflm_logits (masked_nll above) recomputed
 * from the internal forward pass and head by hand. */
static void check_masked_nll_direct(int32_t arch) {
    fixture f;
    fx_open(&f, arch, 16);
    const int32_t seq[] = { 0, 320, 321, 322, 323, 324 };
    const int32_t n = 6, n_prompt = 2, masked[2] = { 3, 1 };
    int32_t noisy[6];
    memcpy(noisy, seq, sizeof noisy);
    noisy[n_prompt + 3] = 5;
    noisy[n_prompt + 1] = 5;
    const int32_t V = f.m->hp.n_vocab, D = f.m->hp.n_embd, shift = f.m->hp.shift_logits;
    ck_assert_int_eq(shift, arch == DIFFLM_ARCH_DREAM);
    void *scratch = dl_aligned_alloc(dl_model_scratch_size(f.m, n) + DL_ALIGN);
    void *ls = dl_aligned_alloc(dl_model_logits_scratch_size(f.m, 1) + DL_ALIGN);
    float *hidden = malloc((size_t)n * D * sizeof *hidden);
    float *logits = malloc((size_t)V * sizeof *logits);
    dl_err err;
    ck_assert_int_eq(dl_model_forward(f.m, scratch, noisy, n, hidden, NULL, &err), 0);
    double want = 0.0;
    for (int j = 0; j < 2; j++) {
        const int32_t pos = n_prompt + masked[j], row = pos - shift;
        dl_model_logits(f.m, ls, hidden, &row, 1, logits);
        double z = 0.0;
        for (int32_t v = 0; v < V; v++)
            z += exp((double)logits[v]);
        want += log(z) - logits[seq[pos]];
    }
    const double got = masked_nll(&f, seq, n_prompt, n - n_prompt, masked, 2);
    ck_assert_msg(fabs(got - want) < 1e-9 * fabs(want), "got %.12f want %.12f", got, want);
    free(logits);
    free(hidden);
    dl_aligned_free(ls);
    dl_aligned_free(scratch);
    fx_close(&f);
}

START_TEST(masked_nll_direct) {
    check_masked_nll_direct(DIFFLM_ARCH_LLADA);
    check_masked_nll_direct(DIFFLM_ARCH_DREAM);
}
END_TEST

START_TEST(estimator_errors) {
    fixture f;
    fx_open(&f, DIFFLM_ARCH_DREAM, 8);
    const int32_t seq[] = { 0, 320, 321, 322, 323, 324, 325, 326, 327 };
    difflm_score_result est;
    ck_assert_int_eq(score_call(f.ctx, seq, 1, 3, 6, 4, 1, &est), DIFFLM_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(difflm_last_error(f.ctx), "multiple"));
    ck_assert_int_eq(score_call(f.ctx, seq, 1, 3, 0, 1, 1, &est), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(score_call(f.ctx, seq, 1, 8, 4, 4, 1, &est), DIFFLM_E_TOO_LONG);
    ck_assert_ptr_nonnull(strstr(difflm_last_error(f.ctx), "max_canvas"));
    ck_assert_int_eq(score_call(f.ctx, seq, 0, 3, 4, 4, 1, &est), DIFFLM_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(difflm_last_error(f.ctx), "row p-1"));
    const int32_t bad[] = { 0, 320, 9999 };
    ck_assert_int_eq(score_call(f.ctx, bad, 1, 2, 4, 4, 1, &est), DIFFLM_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(difflm_last_error(f.ctx), "9999"));
    ck_assert_int_eq(score_call(f.ctx, bad, 3, 0, 4, 4, 1, &est), DIFFLM_E_INVALID_ARG);
    /* NULL pointers with counts, a NULL result, a params struct from the future. */
    difflm_score_params p;
    difflm_score_params_init(&p);
    est.struct_size = sizeof est;
    ck_assert_int_eq(difflm_score(f.ctx, NULL, 1, seq, 2, &p, &est), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(difflm_score(f.ctx, seq, 1, NULL, 2, &p, &est), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(difflm_score(f.ctx, seq, 1, seq + 1, 2, &p, NULL), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(difflm_score(NULL, seq, 1, seq + 1, 2, &p, &est), DIFFLM_E_INVALID_ARG);
    struct { difflm_score_params p; uint64_t extra; } future;
    memset(&future, 0, sizeof future);
    difflm_score_params_init(&future.p);
    future.p.struct_size = sizeof future;
    future.extra = 1;
    ck_assert_int_eq(difflm_score(f.ctx, seq, 1, seq + 1, 2, &future.p, &est),
                     DIFFLM_E_INVALID_ARG);
    future.extra = 0;
    ck_assert_int_eq(difflm_score(f.ctx, seq, 1, seq + 1, 2, &future.p, &est), DIFFLM_OK);
    /* A cancel request stops the call, and is spent: the next call runs. */
    difflm_cancel(f.ctx);
    ck_assert_int_eq(score_call(f.ctx, seq, 1, 3, 4, 4, 1, &est), DIFFLM_E_CANCELLED);
    ck_assert_int_eq(score_call(f.ctx, seq, 1, 3, 4, 4, 1, &est), DIFFLM_OK);
    fx_close(&f);
}
END_TEST

/* ------------------------------------------------------------------ text to windows */

static size_t encode(const dl_tok *t, const char *s, int32_t *out, size_t cap) {
    size_t n = 0;
    dl_err err;
    ck_assert_int_eq(dl_tok_encode(t, s, strlen(s), 0, out, cap, &n, &err), 0);
    return n;
}

START_TEST(stream_documents) {
    fixture f;
    fx_open(&f, DIFFLM_ARCH_LLADA, 8);
    const char *text =
        "\n\r\nThe word was with them\nand it is\r\n\n\n\r\n \tNext doc here.\n\nlast";
    score_stream s;
    score_err err;
    ck_assert_int_eq(score_stream_build(&s, &f.st, text, strlen(text), 1, &err), 0);
    int32_t want[256];
    size_t n = encode(f.t, "The word was with them\nand it is", want, 256);
    want[n++] = 1;   /* EOS of the tiny tokenizer */
    n += encode(f.t, " \tNext doc here.", want + n, 256 - n);   /* spaces are content */
    want[n++] = 1;
    n += encode(f.t, "last", want + n, 256 - n);
    want[n++] = 1;                                              /* the end of the file too */
    ck_assert_uint_eq(s.n_docs, 3);
    ck_assert_uint_eq(s.n, n);
    ck_assert(memcmp(s.ids, want, n * sizeof *want) == 0);

    /* Token bytes add up to the documents' bytes; EOS counts nothing. */
    uint32_t *lens = malloc((size_t)dl_tok_n_vocab(f.t) * sizeof *lens);
    ck_assert_int_eq(score_token_bytes(lens, &f.st, &err), 0);
    size_t bytes = 0;
    for (size_t i = 0; i < s.n; i++)
        bytes += lens[s.ids[i]];
    ck_assert_uint_eq(bytes, strlen("The word was with them\nand it is") +
                                 strlen(" \tNext doc here.") + strlen("last"));
    ck_assert_uint_eq(lens[1], 0);
    score_stream_free(&s);

    /* Without documents: the text as one piece, newlines and all. */
    ck_assert_int_eq(score_stream_build(&s, &f.st, text, strlen(text), 0, &err), 0);
    n = encode(f.t, text, want, 256);
    ck_assert_uint_eq(s.n, n);
    ck_assert(memcmp(s.ids, want, n * sizeof *want) == 0);
    score_stream_free(&s);

    /* Nothing but blank lines: no documents, no tokens. */
    ck_assert_int_eq(score_stream_build(&s, &f.st, "\n\n\r\n", 4, 1, &err), 0);
    ck_assert_uint_eq(s.n, 0);
    ck_assert_uint_eq(s.n_docs, 0);
    score_stream_free(&s);
    free(lens);
    fx_close(&f);
}
END_TEST

START_TEST(windows_layout) {
    score_windows w;
    size_t st, len;
    score_windows_plan(&w, 10, 4, 0);
    ck_assert_uint_eq(w.count, 3);
    score_window_at(&w, 2, &st, &len);
    ck_assert(st == 8 && len == 2);
    score_windows_plan(&w, 10, 4, 1);   /* borrowed context: token 0 is never scored */
    ck_assert_uint_eq(w.count, 3);
    score_window_at(&w, 0, &st, &len);
    ck_assert(st == 1 && len == 4);
    score_window_at(&w, 2, &st, &len);
    ck_assert(st == 9 && len == 1);
    score_windows_plan(&w, 1, 4, 1);
    ck_assert_uint_eq(w.count, 0);
    score_windows_plan(&w, 100, 10, 0);
    ck_assert_uint_eq(score_window_pick(&w, 0, 3), 0);
    ck_assert_uint_eq(score_window_pick(&w, 1, 3), 3);
    ck_assert_uint_eq(score_window_pick(&w, 2, 3), 6);
    ck_assert_uint_eq(score_window_pick(&w, 9, 10), 9);
}
END_TEST

START_TEST(read_file_missing) {
    char *text = NULL;
    size_t len = 0;
    score_err err;
    ck_assert_int_eq(score_read_file("/nonexistent/score.txt", &text, &len, &err), DIFFLM_E_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/score.txt"));
    ck_assert_ptr_null(text);
}
END_TEST

/* ------------------------------------------------------------------ bigram */

START_TEST(bigram_hand_computed) {
    /* V = 4, context (BOS) 0, windows of 4. Training stream 1 2 1 2 | 1 3:
     * pairs (0,1) x2, (1,2) x2, (2,1), (1,3); unigram c(1)=3 c(2)=2 c(3)=1, N=6;
     * p_uni = (c+1)/(6+4) = .1 .4 .3 .2; c(0)=2 T(0)=1; c(1)=3 T(1)=2; c(2)=1 T(2)=1.
     * Eval 1 2 3: p(1|0) = (2+.4)/3 = .8, p(2|1) = (2+2*.3)/5 = .52, p(3|2) = (0+.2)/2 = .1 */
    const int32_t train[] = { 1, 2, 1, 2, 1, 3 }, eval[] = { 1, 2, 3 };
    score_windows wt, we;
    score_windows_plan(&wt, 6, 4, 0);
    score_windows_plan(&we, 3, 4, 0);
    score_bigram b;
    score_err err;
    ck_assert_int_eq(score_bigram_train(&b, train, &wt, 0, 4, &err), 0);
    ck_assert_double_eq_tol(score_bigram_prob(&b, 0, 1), 0.8, 1e-12);
    ck_assert_double_eq_tol(score_bigram_prob(&b, 1, 2), 0.52, 1e-12);
    ck_assert_double_eq_tol(score_bigram_prob(&b, 2, 3), 0.1, 1e-12);
    ck_assert_double_eq_tol(score_bigram_prob(&b, 3, 0), 0.1, 1e-12);   /* unseen context */
    ck_assert_double_eq_tol(score_bigram_prob(&b, -1, 1), 0.4, 1e-12);
    double nll;
    size_t n_tok;
    ck_assert_int_eq(score_bigram_nll(&b, eval, &we, 0, 0, &nll, &n_tok, &err), 0);
    ck_assert_double_eq_tol(nll, -(log(0.8) + log(0.52) + log(0.1)), 1e-12);
    ck_assert_uint_eq(n_tok, 3);
    /* Windows of 2: (1 2) (3). Taking one scores window 0 alone; the second window
     * starts from the context again: p(3|0) = (0 + 1 * .2) / (2 + 1). */
    score_windows we2;
    score_windows_plan(&we2, 3, 2, 0);
    ck_assert_int_eq(score_bigram_nll(&b, eval, &we2, 0, 1, &nll, &n_tok, &err), 0);
    ck_assert_double_eq_tol(nll, -(log(0.8) + log(0.52)), 1e-12);
    ck_assert_uint_eq(n_tok, 2);
    ck_assert_int_eq(score_bigram_nll(&b, eval, &we2, 0, 2, &nll, &n_tok, &err), 0);
    ck_assert_double_eq_tol(nll, -(log(0.8) + log(0.52) + log(0.2 / 3.0)), 1e-12);
    ck_assert_uint_eq(n_tok, 3);
    /* Every context is a distribution. */
    for (int32_t x = -1; x < 4; x++) {
        double sum = 0.0;
        for (int32_t y = 0; y < 4; y++)
            sum += score_bigram_prob(&b, x, y);
        ck_assert_double_eq_tol(sum, 1.0, 1e-12);
    }
    const int32_t bad[] = { 1, 7 };
    score_windows wb;
    score_windows_plan(&wb, 2, 4, 0);
    ck_assert_int_eq(score_bigram_nll(&b, bad, &wb, 0, 0, &nll, &n_tok, &err),
                     DIFFLM_E_INVALID_ARG);
    score_bigram_free(&b);

    /* Without a context token the first token of each window is unigram-only, and the
     * pairs (0,1) disappear: c(1)=3 T(1)=2 stays, p(1|none) = .4. */
    ck_assert_int_eq(score_bigram_train(&b, train, &wt, -1, 4, &err), 0);
    ck_assert_uint_eq(b.ctx_count[0], 0);
    ck_assert_int_eq(score_bigram_nll(&b, eval, &we, -1, 0, &nll, &n_tok, &err), 0);
    ck_assert_double_eq_tol(nll, -(log(0.4) + log(0.52) + log(0.1)), 1e-12);
    score_bigram_free(&b);
}
END_TEST

static Suite *score_suite(void) {
    Suite *s = suite_create("score");
    TCase *tc = tcase_create("score");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, strat_hand_cases);
    tcase_add_test(tc, strat_more_hand_cases);
    tcase_add_test(tc, strat_properties);
    tcase_add_test(tc, choose_positions_uniform);
    tcase_add_test(tc, row_nll_values);
    tcase_add_test(tc, estimator_matches_exact_llada);
    tcase_add_test(tc, estimator_matches_exact_dream);
    tcase_add_test(tc, estimator_deterministic_and_exact_cases);
    tcase_add_test(tc, estimator_thread_counts);
    tcase_add_test(tc, masked_nll_direct);
    tcase_add_test(tc, estimator_errors);
    tcase_add_test(tc, stream_documents);
    tcase_add_test(tc, windows_layout);
    tcase_add_test(tc, read_file_missing);
    tcase_add_test(tc, bigram_hand_computed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return dl_run_suite(score_suite());
}
