/* test_block.c - block-causal models (diffusion.block_length) and the block diffusion
 * schedule's exact KV cache, on tiny random-weight models.
 *
 *   - the mask: a row's hidden state does not depend on later blocks (bitwise: the same
 *     pass shape computes it) and does depend on its own block;
 *   - the cache: passes that run one block at a time against the K/V cached by earlier
 *     passes give the full recompute's hidden states. The arithmetic is the same, tile
 *     for tile (the attention cuts query tiles at block starts); only a GEMM library
 *     that rounds a row differently with the row count (OpenBLAS's sgemm on F32/F16
 *     weights, see tests/cache) can change a last bit, so the comparison is bitwise
 *     where every product computes rows independently and within EXACT_REL otherwise;
 *   - through the API: AUTO picks the schedule, and the cached generation gives the
 *     tokens, steps and commits of DIFFLM_GEN_BLOCK_RECOMPUTE for thresholds, editing,
 *     sampling, early stop, shifted logits and prompts inside or at a block's start. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_compat.h"
#include "core/core.h"
#include "difflm.h"
#include "fmt/gguf.h"
#include "model/model.h"
#include "model/model_weights.h"
#include "model_tiny.h"

#define EXACT_REL 1e-5

/* The shapes: LLaDA with block 8 (F32), Dream-style (shifted logits, biases, GQA) with
 * block 4, LLaDA with block 40 (above the attention's 32-query tiles, not a multiple)
 * and Q8_0 attention weights, and LLaDA2 (MoE: fused q/k/v, partial RoPE, a dense
 * first layer, groups, shared expert) with block 8. */
static void spec_for(dl_tiny_spec *s, int which) {
    if (which == 3) {
        dl_tiny_spec_init(s, DIFFLM_ARCH_LLADA2);
        s->n_head_kv = 2, s->n_layer = 3, s->n_dense_lead = 1, s->n_ff = 96;
        s->n_expert = 16, s->n_expert_used = 4, s->n_ff_exp = 32, s->n_ff_shexp = 32;
        s->n_group = 4, s->topk_group = 2, s->routed_scale = 2.5f;
        s->seed = 43;
        s->block_length = 8;
        return;
    }
    if (which == 1) {
        dl_tiny_spec_init(s, DIFFLM_ARCH_DREAM);
        s->n_embd = 56;
        s->n_head = 7;
        s->n_head_kv = 1;
        s->n_ff = 96;
        s->seed = 41;
        s->block_length = 4;
        return;
    }
    dl_tiny_spec_init(s, DIFFLM_ARCH_LLADA);
    s->seed = 40 + (uint64_t)which;
    s->block_length = which == 0 ? 8 : 40;
    if (which == 2) {
        s->n_head_kv = 2;
        s->q8_tensor = "blk.0.attn_q.weight";
    }
}
#define N_SPECS 4

typedef struct fixture {
    void *buf;
    size_t n;
    dl_gguf *g;
    dl_model *m;
    void *scratch, *kv_mem;
    dl_kv_cache kv;
} fixture;

static void fx_open(fixture *f, int which, int32_t max_tokens) {
    memset(f, 0, sizeof *f);
    dl_tiny_spec s;
    spec_for(&s, which);
    dl_err e = {0};
    ck_assert_int_eq(dl_tiny_to_buffer(&s, &f->buf, &f->n, &e), 0);
    ck_assert_msg(dl_gguf_open_mem(&f->g, f->buf, f->n, &e) == 0, "%s", e.msg);
    ck_assert_msg(dl_model_load(&f->m, f->g, NULL, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(f->m->hp.block_length, s.block_length);
    f->m->n_threads = 1;
    f->scratch = dl_aligned_alloc(dl_model_scratch_size(f->m, max_tokens));
    f->kv_mem = dl_aligned_alloc(dl_kv_cache_size(f->m, max_tokens));
    ck_assert(f->scratch && f->kv_mem);
    dl_kv_cache_bind(&f->kv, f->m, f->kv_mem, max_tokens);
}

static void fx_close(fixture *f) {
    dl_aligned_free(f->scratch);
    dl_aligned_free(f->kv_mem);
    dl_model_free(f->m);
    dl_gguf_close(f->g);
    free(f->buf);
}

static void random_tokens(int32_t *t, int32_t n, int32_t n_vocab, uint64_t seed) {
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int32_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        t[i] = 8 + (int32_t)(x % (uint64_t)(n_vocab - 8));
    }
}

static double rel_diff(const float *a, const float *b, size_t n) {
    double md = 0.0, mb = 0.0;
    for (size_t i = 0; i < n; i++) {
        md = fmax(md, fabs((double)a[i] - (double)b[i]));
        mb = fmax(mb, fabs((double)b[i]));
    }
    return mb > 0.0 ? md / mb : md;
}

/* Every product of the model computes its rows independently of the others (the bf16
 * precision mode's always do). */
static int rows_independent(const dl_model *m) {
    for (int il = 0; il < m->hp.n_layer; il++) {
        const dl_layer *L = &m->layers[il];
        const dl_weight *ws[] = { &L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down };
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
            if (!dl_weight_bf16(ws[i], m->precision) && !dl_weight_rows_independent(ws[i]))
                return 0;
    }
    return 1;
}

#define T_MAX 120

START_TEST(test_mask) {
    fixture f;
    fx_open(&f, _i, T_MAX);
    const int32_t B = f.m->hp.block_length, T = DL_MIN(3 * B, T_MAX);
    const size_t E = (size_t)f.m->hp.n_embd;
    int32_t tok[T_MAX], tok2[T_MAX];
    float *h = malloc((size_t)T * E * sizeof(float)), *h2 = malloc((size_t)T * E * sizeof(float));
    ck_assert(h && h2);
    random_tokens(tok, T, f.m->hp.n_vocab, 7);
    dl_err e = {0};
    ck_assert_int_eq(dl_model_forward(f.m, f.scratch, tok, T, h, NULL, &e), 0);
    /* a token of the last block changed: the earlier blocks' rows are bitwise the same,
     * the block's own rows change */
    memcpy(tok2, tok, sizeof tok);
    tok2[2 * B + 1] = tok[2 * B + 1] == 100 ? 101 : 100;
    ck_assert_int_eq(dl_model_forward(f.m, f.scratch, tok2, T, h2, NULL, &e), 0);
    ck_assert_int_eq(memcmp(h, h2, (size_t)(2 * B) * E * sizeof(float)), 0);
    for (int32_t r = 2 * B; r < T; r++)
        ck_assert_msg(rel_diff(h2 + r * E, h + r * E, E) > 1e-4, "row %d ignores its block", r);
    /* a token of the first block changes every row (bidirectional inside the block:
     * row 0 sees position B - 1) */
    memcpy(tok2, tok, sizeof tok);
    tok2[B - 1] = tok[B - 1] == 100 ? 101 : 100;
    ck_assert_int_eq(dl_model_forward(f.m, f.scratch, tok2, T, h2, NULL, &e), 0);
    for (int32_t r = 0; r < T; r++)
        ck_assert_msg(rel_diff(h2 + r * E, h + r * E, E) > 1e-4, "row %d ignores block 0", r);
    free(h);
    free(h2);
    fx_close(&f);
}
END_TEST

/* The schedule's passes: rows [r0, hi) against the cache of rows [0, r0), block by
 * block, the first pass prefilling `pre` whole blocks with the first decoded one. */
static void check_cached_passes(fixture *f, int32_t pre, int32_t start_back) {
    const int32_t B = f->m->hp.block_length;
    const int32_t nb = DL_MIN(4, T_MAX / B), T = nb * B;
    const size_t E = (size_t)f->m->hp.n_embd;
    int32_t tok[T_MAX];
    random_tokens(tok, T, f->m->hp.n_vocab, 11);
    float *full = malloc((size_t)T * E * sizeof(float)), *h = malloc((size_t)T * E * sizeof(float));
    ck_assert(full && h);
    dl_err e = {0};
    ck_assert_int_eq(dl_model_forward(f->m, f->scratch, tok, T, full, NULL, &e), 0);
    int bitwise = rows_independent(f->m) && start_back == 0;
    fprintf(stderr, "block %d, prefill %d, from %d before: %s\n", B, pre, start_back,
            bitwise ? "compared bitwise" : "compared within EXACT_REL (a product's rows depend "
                                           "on the row count, or the tiles differ)");
    int32_t cached = 0;
    for (int32_t b = pre; b < nb; b++) {
        int32_t lo = b * B, hi = lo + B;
        int32_t r0 = DL_MIN(cached, lo - start_back);
        dl_pass p = { tok, hi, r0, hi - r0, &f->kv, r0, hi - r0 };
        ck_assert_msg(dl_model_pass(f->m, f->scratch, &p, h, NULL, &e) == 0, "%s", e.msg);
        double d = rel_diff(h, full + (size_t)r0 * E, (size_t)(hi - r0) * E);
        ck_assert_msg(d <= EXACT_REL, "block %d: rows [%d, %d) differ by %g", b, r0, hi, d);
        if (bitwise)
            ck_assert_msg(memcmp(h, full + (size_t)r0 * E, (size_t)(hi - r0) * E * sizeof(float)) == 0,
                          "block %d: not bitwise the full recompute", b);
        cached = lo;
    }
    free(full);
    free(h);
}

START_TEST(test_cache_exact) {
    fixture f;
    fx_open(&f, _i, T_MAX);
    check_cached_passes(&f, 0, 0);
    check_cached_passes(&f, 2, 0);   // the prompt's two blocks prefilled with the third
    check_cached_passes(&f, 1, 1);   // from the row before each block (shifted logits)
    fx_close(&f);
}
END_TEST

/* The same in the bf16 precision mode: its products compute each row on its own, so
 * the cached passes are the full recompute's bits there too (the cases whose tiles are
 * the full pass's; from the row before a block, the attention tiles differ, and bf16's
 * coarser rounding of the activations would amplify that last-bit difference). */
START_TEST(test_cache_bf16) {
    fixture f;
    fx_open(&f, _i, T_MAX);
    f.m->precision = DL_PRECISION_BF16;   // the scratch holds the packed activations now
    dl_aligned_free(f.scratch);
    f.scratch = dl_aligned_alloc(dl_model_scratch_size(f.m, T_MAX));
    ck_assert_ptr_nonnull(f.scratch);
    check_cached_passes(&f, 0, 0);
    check_cached_passes(&f, 2, 0);
    fx_close(&f);
}
END_TEST

/* Threads split attention tiles and product columns, never a sum: the same bits. */
START_TEST(test_cache_threads) {
    fixture f;
    fx_open(&f, _i, T_MAX);
    const int32_t B = f.m->hp.block_length, T = DL_MIN(3 * B, T_MAX);
    const size_t E = (size_t)f.m->hp.n_embd;
    int32_t tok[T_MAX];
    random_tokens(tok, T, f.m->hp.n_vocab, 5);
    float *h1 = malloc((size_t)T * E * sizeof(float)), *h4 = malloc((size_t)T * E * sizeof(float));
    dl_err e = {0};
    dl_pass p = { tok, T, B, T - B, &f.kv, B, T - B };
    ck_assert_int_eq(dl_model_forward_fill(f.m, f.scratch, tok, T, h1, &f.kv, NULL, &e), 0);
    ck_assert_int_eq(dl_model_pass(f.m, f.scratch, &p, h1, NULL, &e), 0);
    f.m->n_threads = 4;
    ck_assert_int_eq(dl_model_pass(f.m, f.scratch, &p, h4, NULL, &e), 0);
    ck_assert_int_eq(memcmp(h1, h4, (size_t)(T - B) * E * sizeof(float)), 0);
    free(h1);
    free(h4);
    fx_close(&f);
}
END_TEST

/* ---------------------------------------------------------------- through the API */

static char g_model[N_SPECS + 1][64];   /* + a plain (bidirectional) LLaDA */

static void write_models(void) {
    for (int i = 0; i <= N_SPECS; i++) {
        dl_tiny_spec s;
        if (i < N_SPECS)
            spec_for(&s, i);
        else
            dl_tiny_spec_init(&s, DIFFLM_ARCH_LLADA);
        snprintf(g_model[i], sizeof g_model[i], "/tmp/difflm-test-block-%d-%d.gguf", (int)getpid(), i);
        dl_err e = {0};
        if (dl_tiny_write(&s, g_model[i], &e) != 0) {
            fprintf(stderr, "cannot write %s: %s\n", g_model[i], e.msg);
            exit(1);
        }
    }
}

static void remove_models(void) {
    for (int i = 0; i <= N_SPECS; i++)
        unlink(g_model[i]);
}

#define MAXC 160

static int32_t g_max_canvas = MAXC;

static difflm_ctx *open_ctx(int which, int32_t n_threads) {
    difflm_params p;
    difflm_params_init(&p);
    p.model_path = g_model[which];
    p.n_threads = n_threads;
    p.max_canvas = g_max_canvas;
    int st = 0;
    difflm_ctx *ctx = difflm_create(&p, &st);
    ck_assert_msg(ctx != NULL, "create: %s", difflm_status_str(st));
    return ctx;
}

#define MAX_STEPS 200
typedef struct recorder {
    int32_t n;
    int32_t committed[MAX_STEPS];
    int32_t masked[MAX_STEPS];
} recorder;

static int record(const difflm_step_info *info, void *user) {
    recorder *r = user;
    ck_assert(r->n < MAX_STEPS);
    ck_assert_int_eq(info->step, r->n + 1);
    ck_assert(info->total_steps >= info->step);
    r->committed[r->n] = info->n_committed;
    r->masked[r->n] = info->n_masked;
    r->n++;
    return 0;
}

typedef struct run_out {
    recorder rec;
    difflm_token canvas[MAXC];
    size_t len;
    int32_t last_total;
} run_out;

static void generate(difflm_ctx *ctx, difflm_gen_params g, const difflm_token *prompt,
                     size_t n, run_out *out) {
    memset(out, 0, sizeof *out);
    g.step_fn = record;
    g.step_user = &out->rec;
    ck_assert_msg(difflm_generate_begin(ctx, prompt, n, &g) == DIFFLM_OK, "begin: %s",
                  difflm_last_error(ctx));
    int rc;
    while ((rc = difflm_generate_step(ctx)) == DIFFLM_OK)
        ;
    ck_assert_msg(rc == DIFFLM_DONE, "step: %s", difflm_last_error(ctx));
    ck_assert_int_eq(difflm_canvas(ctx, out->canvas, MAXC, &out->len), DIFFLM_OK);
}

typedef struct gen_case {
    int32_t n_prompt, gen, steps;
    float threshold, editing, temperature;
    int32_t post;
    uint32_t flags;
} gen_case;

static const gen_case k_cases[] = {
    { 7, 20, 16, 0.95f, 0.0f, 0.0f, 0, 0 },
    { 16, 24, 12, 0.95f, 0.0f, 0.0f, 0, 0 },        // the prompt ends at a block's end
    { 3, 30, 60, 1.0f, 0.0f, 0.0f, 0, 0 },          // the scheduled counts only
    { 9, 20, 8, 0.2f, 0.0f, 0.0f, 0, 0 },           // many above the threshold
    { 7, 20, 16, 0.5f, 0.3f, 0.0f, 3, 0 },          // editing and post steps
    { 7, 20, 16, 0.6f, 0.2f, 0.9f, 2, 0 },          // sampled, editing
    { 5, 40, 20, 0.9f, 0.0f, 0.0f, 0, DIFFLM_GEN_EARLY_STOP | DIFFLM_GEN_LOGITS_EOS_INF },
    { 5, 40, 20, 0.9f, 0.0f, 0.0f, 0, DIFFLM_GEN_EARLY_STOP },
};

START_TEST(test_cached_same_tokens) {
    int which = _i / (int)(sizeof k_cases / sizeof k_cases[0]);
    const gen_case *k = &k_cases[_i % (int)(sizeof k_cases / sizeof k_cases[0])];
    difflm_ctx *ctx = open_ctx(which, 2);
    dl_tiny_spec s;
    spec_for(&s, which);
    difflm_token prompt[64];
    for (int32_t i = 0; i < k->n_prompt; i++)
        prompt[i] = 300 + i;
    difflm_gen_params g;
    difflm_gen_params_init(&g);
    g.gen_length = k->gen;
    g.steps = k->steps;
    g.block_threshold = k->threshold;
    g.editing_threshold = k->editing;
    g.max_post_steps = k->post;
    g.temperature = k->temperature;
    g.seed = 9;
    g.flags = k->flags;
    static run_out a, b;
    generate(ctx, g, prompt, (size_t)k->n_prompt, &a);
    g.flags |= DIFFLM_GEN_BLOCK_RECOMPUTE;
    generate(ctx, g, prompt, (size_t)k->n_prompt, &b);
    int32_t B = s.block_length;
    size_t padded = (size_t)((k->n_prompt + k->gen + B - 1) / B * B);
    ck_assert_uint_eq(a.len, padded);   // AUTO: block diffusion, padded to whole blocks
    ck_assert_uint_eq(b.len, padded);
    ck_assert_int_eq(memcmp(a.canvas, b.canvas, a.len * sizeof(difflm_token)), 0);
    ck_assert_int_eq(a.rec.n, b.rec.n);
    ck_assert_int_eq(memcmp(a.rec.committed, b.rec.committed, sizeof a.rec.committed), 0);
    for (size_t i = 0; i < a.len; i++)
        ck_assert_int_ne(a.canvas[i], 5);   // no MASK left
    ck_assert_int_eq(memcmp(a.canvas, prompt, (size_t)k->n_prompt * sizeof(difflm_token)), 0);
    /* confidences of the finished canvas */
    difflm_token tok[MAXC];
    int32_t step[MAXC];
    float prob[MAXC];
    size_t n = 0;
    ck_assert_int_eq(difflm_confidences(ctx, tok, step, prob, NULL, MAXC, &n), DIFFLM_OK);
    ck_assert_uint_eq(n, a.len);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(tok[i], a.canvas[i]);
        if ((int32_t)i < k->n_prompt)
            ck_assert_int_eq(step[i], DIFFLM_CONF_FIXED);
        else
            ck_assert(step[i] >= 1 && step[i] <= a.rec.n);
    }
    difflm_free(ctx);
}
END_TEST

/* The step count without thresholds: each block decoded after the prompt's whole
 * blocks gets steps / blocks steps. */
START_TEST(test_step_counts) {
    difflm_ctx *ctx = open_ctx(0, 1);   // block 8
    difflm_token prompt[20];
    for (int i = 0; i < 20; i++)
        prompt[i] = 300 + i;
    difflm_gen_params g;
    difflm_gen_params_init(&g);
    g.gen_length = 20;   // 20 + 20 -> 40: blocks 2 .. 4 decoded (3 blocks)
    g.steps = 12;        // 4 per block: counts 2, 2, 2, 2
    g.block_threshold = 1.0f;
    static run_out a;
    generate(ctx, g, prompt, 20, &a);
    ck_assert_uint_eq(a.len, 40);
    // block 2 holds 4 prompt positions: 2 + 2, then 2 x 4 for each later block
    ck_assert_int_eq(a.rec.n, 10);
    const int32_t want[10] = {2, 2, 2, 2, 2, 2, 2, 2, 2, 2};
    ck_assert_int_eq(memcmp(a.rec.committed, want, sizeof want), 0);
    ck_assert_int_eq(a.rec.masked[9], 0);
    // editing with no practical limit on post steps: total_steps saturates at INT32_MAX
    // (it overflowed: fuzz/corpus/gen/regress-post-steps-overflow); record() checks it
    // against every step, and the blocks still end at a post step that edits nothing
    g.editing_threshold = 0.5f;
    g.max_post_steps = INT32_MAX;
    static run_out b;
    generate(ctx, g, prompt, 20, &b);
    ck_assert_uint_eq(b.len, 40);
    ck_assert_int_eq(b.rec.masked[b.rec.n - 1], 0);
    difflm_free(ctx);
}
END_TEST

/* difflm_model_info_get and difflm_model_describe report the block length; an older
 * caller's struct without the field gets what it has and keeps its own bytes after it. */
START_TEST(test_model_info) {
    for (int which = 0; which <= N_SPECS; which++) {
        difflm_ctx *ctx = open_ctx(which, 1);
        dl_tiny_spec s;
        if (which < N_SPECS)
            spec_for(&s, which);
        else
            dl_tiny_spec_init(&s, DIFFLM_ARCH_LLADA);
        difflm_model_info mi = {.struct_size = sizeof mi};
        ck_assert_int_eq(difflm_model_info_get(ctx, &mi), DIFFLM_OK);
        ck_assert_uint_eq(mi.struct_size, sizeof mi);
        ck_assert_int_eq(mi.block_length, which < N_SPECS ? s.block_length : 0);
        ck_assert_int_eq(mi.arch, which == 1   ? DIFFLM_ARCH_DREAM
                                  : which == 3 ? DIFFLM_ARCH_LLADA2
                                               : DIFFLM_ARCH_LLADA);

        memset(&mi, 0x5a, sizeof mi);
        mi.struct_size = (uint32_t)offsetof(difflm_model_info, block_length);
        ck_assert_int_eq(difflm_model_info_get(ctx, &mi), DIFFLM_OK);
        ck_assert_uint_eq(mi.struct_size, offsetof(difflm_model_info, block_length));
        ck_assert_uint_gt(mi.n_params, 0);
        ck_assert_int_eq(mi.block_length, 0x5a5a5a5a);   // not written

        difflm_model_params mp;
        difflm_model_params_init(&mp);
        mp.path = g_model[which];
        int st = 0;
        difflm_model *m = difflm_model_load(&mp, &st);
        ck_assert_msg(m != NULL, "model_load: %s", difflm_status_str(st));
        difflm_model_info md = {.struct_size = sizeof md};
        ck_assert_int_eq(difflm_model_describe(m, &md), DIFFLM_OK);
        ck_assert_int_eq(md.block_length, which < N_SPECS ? s.block_length : 0);
        difflm_model_free(m);
        difflm_free(ctx);
    }
}
END_TEST

/* Cancel between steps, and the step callback's stop, keep what was committed. */
static int stop_at_2(const difflm_step_info *info, void *user) {
    (void)user;
    return info->step == 2;
}

START_TEST(test_cancel_and_options) {
    difflm_ctx *ctx = open_ctx(0, 1);
    const difflm_token prompt[3] = {300, 301, 302};
    difflm_gen_params g;
    difflm_gen_params_init(&g);
    g.gen_length = 20;
    g.steps = 12;
    g.step_fn = stop_at_2;
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 3, &g), DIFFLM_OK);
    ck_assert_int_eq(difflm_generate_step(ctx), DIFFLM_OK);
    ck_assert_int_eq(difflm_generate_step(ctx), DIFFLM_E_CANCELLED);
    g.step_fn = NULL;
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 3, &g), DIFFLM_OK);
    difflm_cancel(ctx);
    ck_assert_int_eq(difflm_generate_step(ctx), DIFFLM_E_CANCELLED);

    /* what the schedule refuses */
    difflm_gen_params b = g;
    b.cache = DIFFLM_CACHE_DUAL;
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 3, &b), DIFFLM_E_INVALID_ARG);
    b = g;
    b.cfg_scale = 1.0f;
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 3, &b), DIFFLM_E_UNSUPPORTED);
    b.flags = DIFFLM_GEN_BLOCK_RECOMPUTE;   // CFG without the cache runs
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 3, &b), DIFFLM_OK);
    ck_assert_int_eq(difflm_generate_step(ctx), DIFFLM_OK);
    b = g;
    b.block_threshold = -0.1f;
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 3, &b), DIFFLM_E_INVALID_ARG);
    b = g;
    b.schedule = DIFFLM_SCHEDULE_BLOCKS;   // other schedules still run (with the mask)
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 3, &b), DIFFLM_OK);
    ck_assert_int_eq(difflm_generate_step(ctx), DIFFLM_OK);
    const difflm_token *ps[1] = {prompt};
    size_t ns[1] = {3};
    ck_assert_int_eq(difflm_batch_begin(ctx, ps, ns, 1, NULL, &g), DIFFLM_E_UNSUPPORTED);
    difflm_free(ctx);

    g_max_canvas = 150;
    ctx = open_ctx(0, 1);
    b = g;
    b.gen_length = 145;   // 148 fits, but not padded to 152 (blocks of 8)
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 3, &b), DIFFLM_E_TOO_LONG);
    ck_assert_ptr_nonnull(strstr(difflm_last_error(ctx), "padded"));
    difflm_free(ctx);
    g_max_canvas = MAXC;

    /* a bidirectional model has no blocks to decode */
    ctx = open_ctx(N_SPECS, 1);
    b = g;
    b.schedule = DIFFLM_SCHEDULE_BLOCK_DIFFUSION;
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 3, &b), DIFFLM_E_INVALID_ARG);
    b.schedule = DIFFLM_SCHEDULE_AUTO;
    b.flags = DIFFLM_GEN_BLOCK_RECOMPUTE;
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 3, &b), DIFFLM_E_INVALID_ARG);
    difflm_free(ctx);
}
END_TEST

int main(void) {
    write_models();
    Suite *su = suite_create("block");
    TCase *tc = tcase_create("block");
    int quick = getenv("DIFFLM_TEST_QUICK") != NULL;
    int n_specs = quick ? 1 : N_SPECS;
    int n_cases = (int)(sizeof k_cases / sizeof k_cases[0]);
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_mask, 0, n_specs);
    tcase_add_loop_test(tc, test_cache_exact, 0, n_specs);
    tcase_add_loop_test(tc, test_cache_threads, 0, n_specs);
    tcase_add_loop_test(tc, test_cache_bf16, 0, n_specs);
    tcase_add_loop_test(tc, test_cached_same_tokens, 0, n_specs * n_cases);
    tcase_add_test(tc, test_step_counts);
    tcase_add_test(tc, test_model_info);
    tcase_add_test(tc, test_cancel_and_options);
    suite_add_tcase(su, tc);
    int rc = dl_run_suite(su);
    remove_models();
    return rc;
}
