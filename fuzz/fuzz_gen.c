/* fuzz_gen.c - libFuzzer harness for a generation through the public API: every field of
 * difflm_gen_params (struct_size included, smaller and larger with a fuzzed tail), the
 * prompt's ids, the context's max_canvas, a step callback that stops, and difflm_cancel,
 * on five tiny models (tests/fixtures, written once per process): LLaDA, Dream, a
 * block-causal LLaDA (block 4: the block diffusion schedule and its KV cache), LLaDA2
 * (MoE with a shared expert, a dense lead layer, group-limited routing, block 8) and
 * LLaDA-MoE.
 *
 * Input: byte 0: bit 0 Dream, bit 1 a step callback that stops at step byte 2, bit 2
 * difflm_cancel after byte 2 steps, bits 3-4 (without bit 0) the other models in the
 * order above, bit 5 a bf16-precision context, bit 6 a context that does not pack its
 * weights (else the model's packed copy, made by the first context of that precision);
 * byte 1: max_canvas = 1 + byte % 64; then the fields in header order, each
 * an int32 or float as one tag byte (< 0x80: a small value or a float from a table; else
 * 4 raw bytes follow), seed 8 bytes, flags 1 byte, a struct_size choice byte, 8 tail
 * bytes; the rest is the prompt, 2 bytes an id.
 * Work per input is bounded: max_canvas <= 64 and at most 2 * 64 + 8 steps.
 * What must hold: begin returns OK or an error with a message; steps return OK, DONE or
 * an error; after DONE every step returns DONE and the canvas keeps the prompt and has
 * no MASK left; the canvas has the prompt plus gen_length positions (padded to whole
 * blocks under block diffusion); the BLOCKS schedule and parallel decoding end within
 * gen_length steps, block diffusion without editing within its denoising steps.
 *
 * Built by `meson setup -Dfuzz=true` (doc/testing.md "Fuzzing"); the plain build's
 * fuzz_gen_replay runs fuzz/corpus/gen as the test fuzz-gen. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "difflm.h"
#include "model_tiny.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_CANVAS 64
#define MAX_STEPS (2 * MAX_CANVAS + 8)

#define N_MODELS 5
static difflm_model *models[N_MODELS];
static difflm_model_info infos[N_MODELS];

static void must(int cond) {
    if (!cond)
        __builtin_trap();
}

static difflm_model *load_tiny(int32_t arch, int32_t block_length) {
    dl_tiny_spec s;
    dl_tiny_spec_init(&s, arch);
    s.n_embd = 32;
    s.n_ff = 64;
    s.n_head = 4;
    s.n_head_kv = 2;
    s.n_vocab = 400;
    s.block_length = block_length;
    if (arch == DIFFLM_ARCH_LLADA2) {
        s.n_ff_shexp = 16;
        s.n_group = 4;
        s.topk_group = 2;
        s.n_dense_lead = 1;
        s.routed_scale = 2.5f;
    }
    char path[] = "/tmp/difflm-fuzz-gen-XXXXXX";
    int fd = mkstemp(path);
    must(fd >= 0);
    close(fd);
    dl_err err = {0};
    if (dl_tiny_write(&s, path, &err)) {
        fprintf(stderr, "fuzz_gen: %s\n", err.msg);
        __builtin_trap();
    }
    difflm_model_params mp;
    difflm_model_params_init(&mp);
    mp.path = path;
    int st;
    difflm_model *m = difflm_model_load(&mp, &st);
    unlink(path);   /* the mapping keeps the file */
    must(m != NULL);
    return m;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    models[0] = load_tiny(DIFFLM_ARCH_LLADA, 0);
    models[1] = load_tiny(DIFFLM_ARCH_DREAM, 0);
    models[2] = load_tiny(DIFFLM_ARCH_LLADA, 4);
    models[3] = load_tiny(DIFFLM_ARCH_LLADA2, 8);
    models[4] = load_tiny(DIFFLM_ARCH_LLADA_MOE, 0);
    for (int i = 0; i < N_MODELS; i++) {
        infos[i].struct_size = sizeof infos[i];
        must(difflm_model_describe(models[i], &infos[i]) == DIFFLM_OK);
    }
    return 0;
}

typedef struct reader {
    const uint8_t *p;
    size_t n;
} reader;

static uint8_t byte(reader *r) {
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

static uint32_t raw32(reader *r) {
    uint32_t u = 0;
    for (int i = 0; i < 4; i++)
        u |= (uint32_t)byte(r) << (8 * i);
    return u;
}

static int32_t int_field(reader *r) {
    uint8_t tag = byte(r);
    return tag < 0x80 ? (int32_t)tag - 16 : (int32_t)raw32(r);
}

static float float_field(reader *r) {
    static const float table[] = {0.0f, 1.0f, 0.5f, 0.9f, 1e-3f, -1.0f, 2.0f, 1e-30f,
                                  0.999f, 100.0f, 1e30f, -0.0f};
    uint8_t tag = byte(r);
    if (tag < 0x80) {
        if (tag == 0x7f)
            return NAN;
        if (tag == 0x7e)
            return INFINITY;
        return table[tag % (sizeof table / sizeof table[0])];
    }
    uint32_t u = raw32(r);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

typedef struct stop_at {
    int32_t step;
    int calls;
} stop_at;

static int on_step(const difflm_step_info *info, void *user) {
    stop_at *s = user;
    s->calls++;
    must(info->step == s->calls && info->n_masked >= 0 && info->canvas != NULL);
    must(info->step <= info->total_steps);
    return info->step >= s->step;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    reader r = {data, size};
    const uint8_t mode = byte(&r);
    const int which = (mode & 1) ? 1 : (int[]){0, 2, 3, 4}[(mode >> 3) & 3];
    const int32_t max_canvas = 1 + byte(&r) % MAX_CANVAS;
    const uint8_t at = byte(&r);
    const difflm_model_info *info = &infos[which];

    /* The params in a buffer with room for a newer, larger struct's tail. */
    union {
        difflm_gen_params g;
        unsigned char bytes[sizeof(difflm_gen_params) + 8];
    } u;
    memset(&u, 0, sizeof u);
    difflm_gen_params *g = &u.g;
    difflm_gen_params_init(g);
    g->gen_length = int_field(&r);
    g->steps = int_field(&r);
    g->block_length = int_field(&r);
    g->schedule = int_field(&r);
    g->remasking = int_field(&r);
    g->temperature = float_field(&r);
    g->top_k = int_field(&r);
    g->top_p = float_field(&r);
    g->cfg_scale = float_field(&r);
    g->eps = float_field(&r);
    g->alg_temp = float_field(&r);
    g->seed = (uint64_t)raw32(&r) | (uint64_t)raw32(&r) << 32;
    g->flags = byte(&r);
    g->parallel = int_field(&r);
    g->threshold = float_field(&r);
    g->factor = float_field(&r);
    g->cache = int_field(&r);
    g->block_threshold = float_field(&r);
    g->editing_threshold = float_field(&r);
    g->max_post_steps = int_field(&r);
    stop_at stop = {at, 0};
    if (mode & 2) {
        g->step_fn = on_step;
        g->step_user = &stop;
    }
    uint8_t size_choice = byte(&r);
    for (size_t i = 0; i < 8; i++)
        u.bytes[sizeof *g + i] = (size_choice & 0x80) ? byte(&r) : 0;
    switch (size_choice & 3) {
    case 1: g->struct_size = offsetof(difflm_gen_params, parallel); break;   /* 0.1's */
    case 2: g->struct_size = sizeof *g + 8; break;                            /* a newer one */
    case 3: g->struct_size = size_choice >> 2; break;                         /* garbage */
    default: break;
    }

    size_t n_prompt = r.n / 2;
    if (n_prompt > MAX_CANVAS + 4)
        n_prompt = MAX_CANVAS + 4;
    difflm_token prompt[MAX_CANVAS + 4];
    for (size_t i = 0; i < n_prompt; i++) {
        uint32_t v = byte(&r);
        v |= (uint32_t)byte(&r) << 8;
        prompt[i] = (difflm_token)(v % (uint32_t)(info->n_vocab + 8)) - 4;
    }

    difflm_ctx_params cp;
    difflm_ctx_params_init(&cp);
    cp.n_threads = 1;
    cp.max_canvas = max_canvas;
    cp.precision = (mode & 0x20) ? DIFFLM_PRECISION_BF16 : DIFFLM_PRECISION_EXACT;
    cp.pack_weights = (mode & 0x40) ? DIFFLM_PACK_OFF : DIFFLM_PACK_AUTO;
    int st = 0;
    difflm_ctx *ctx = difflm_ctx_create(models[which], &cp, &st);
    must(ctx != NULL && st == DIFFLM_OK);

    st = difflm_generate_begin(ctx, prompt, n_prompt, g);
    if (st != DIFFLM_OK) {
        must(st < 0 && difflm_last_error(ctx)[0] != '\0');
        /* no generation: the steps say so */
        int s2 = difflm_generate_step(ctx);
        must(s2 == DIFFLM_E_STATE || s2 == DIFFLM_E_CANCELLED || s2 == DIFFLM_DONE ||
             s2 == DIFFLM_OK || s2 < 0);
        difflm_free(ctx);
        return 0;
    }
    /* the block diffusion schedule (AUTO on a block-causal model) pads to whole blocks */
    const int bd = g->schedule == DIFFLM_SCHEDULE_BLOCK_DIFFUSION ||
                   (g->schedule == DIFFLM_SCHEDULE_AUTO && info->block_length > 0);
    const size_t B = bd ? (size_t)info->block_length : 1;
    const size_t n_canvas = (n_prompt + (size_t)g->gen_length + B - 1) / B * B;
    must(n_canvas <= (size_t)max_canvas);
    int steps = 0;
    while (st == DIFFLM_OK && steps < MAX_STEPS) {
        if ((mode & 4) && steps == at)
            difflm_cancel(ctx);
        st = difflm_generate_step(ctx);
        if (st == DIFFLM_OK || st == DIFFLM_DONE)
            steps++;
    }
    must(st == DIFFLM_OK || st == DIFFLM_DONE || st < 0);
    if (st < 0)
        must(st == DIFFLM_E_CANCELLED ? ((mode & 2) || (mode & 4))
                                      : difflm_last_error(ctx)[0] != '\0');
    difflm_token canvas[MAX_CANVAS];
    size_t n = 0;
    must(difflm_canvas(ctx, canvas, MAX_CANVAS, &n) == DIFFLM_OK);
    must(n == n_canvas);
    must(memcmp(canvas, prompt, n_prompt * sizeof *prompt) == 0);
    int blocks = g->schedule == DIFFLM_SCHEDULE_BLOCKS ||
                 (g->schedule == DIFFLM_SCHEDULE_AUTO && info->arch == DIFFLM_ARCH_LLADA &&
                  info->block_length == 0);
    if ((blocks || g->parallel != DIFFLM_PARALLEL_NONE) && st == DIFFLM_OK)
        must(steps < g->gen_length);   /* not done within gen_length steps */
    /* block diffusion: each of the blocks decoded runs max(1, steps / blocks) denoising
     * steps at most, then completes (doc/sampling.md); editing adds post steps */
    if (bd && !(g->editing_threshold > 0.0f) && st == DIFFLM_OK) {
        size_t nb = n_canvas / B - n_prompt / B;
        size_t per = (size_t)g->steps / nb > 0 ? (size_t)g->steps / nb : 1;
        must((size_t)steps < nb * per);
    }
    if (st == DIFFLM_DONE) {
        must(difflm_generate_step(ctx) == DIFFLM_DONE);
        for (size_t i = n_prompt; i < n; i++)
            must(canvas[i] != info->mask_id && canvas[i] >= 0 && canvas[i] < info->n_vocab);
    }
    difflm_free(ctx);
    return 0;
}
