/* test_infill.c - infilling and confidences through the public API only: the template
 * syntax against difflm_tokenize of its pieces, a canvas begin on [prompt | MASK x n]
 * equal to generate_begin (tokens and confidences, every step), fixed text that never
 * changes, the KV caches over holes, the documented errors, and what difflm_confidences
 * reports before and after steps. (Token-for-token agreement with the independent
 * reference on canvases with holes: tests/golden/compare_infill.py.)
 * usage: test_infill LLADA.gguf DREAM.gguf */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_compat.h"
#include "api_fixture.h"

/* Two threads, a 96-token canvas. */
static difflm_ctx *open_ctx(int which) {
    return api_open(api_model_path[which], 2, 96);
}

/* ids of text appended at out[*n]. */
static void tok(difflm_ctx *ctx, const char *text, uint32_t flags, difflm_token *out, size_t *n) {
    size_t got = 0;
    ck_assert_int_eq(difflm_tokenize(ctx, text, strlen(text), flags, out + *n, 256, &got),
                     DIFFLM_OK);
    *n += got;
}

static size_t infill(difflm_ctx *ctx, const char *text, uint32_t flags, difflm_token *out) {
    size_t n = 0;
    int st = difflm_infill_canvas(ctx, text, flags, out, 512, &n);
    ck_assert_msg(st == DIFFLM_OK, "%s: %s", text, difflm_last_error(ctx));
    return n;
}

START_TEST(template_pieces) {
    difflm_ctx *ctx = open_ctx(0);
    difflm_model_info mi = api_info(ctx);
    difflm_token want[512], got[512];
    size_t nw = 0;
    tok(ctx, "The", 0, want, &nw);
    for (int i = 0; i < 3; i++)
        want[nw++] = mi.mask_id;
    tok(ctx, " sat on the", 0, want, &nw);
    want[nw++] = mi.mask_id;
    tok(ctx, ".", 0, want, &nw);
    size_t ng = infill(ctx, "The<mask:3> sat on the<mask:1>.", 0, got);
    ck_assert_uint_eq(ng, nw);
    ck_assert_mem_eq(got, want, nw * sizeof *want);

    // escapes: an odd run of backslashes makes the marker text, pairs halve
    nw = 0;
    tok(ctx, "a<mask:2>b", 0, want, &nw);
    ng = infill(ctx, "a\\<mask:2>b", 0, got);
    ck_assert_uint_eq(ng, nw);
    ck_assert_mem_eq(got, want, nw * sizeof *want);
    nw = 0;
    tok(ctx, "a\\", 0, want, &nw);
    want[nw++] = mi.mask_id;
    want[nw++] = mi.mask_id;
    ng = infill(ctx, "a\\\\<mask:2>", 0, got);
    ck_assert_uint_eq(ng, nw);
    ck_assert_mem_eq(got, want, nw * sizeof *want);
    nw = 0;   // elsewhere backslashes and "<mask" are text
    tok(ctx, "x\\y <mask> z", 0, want, &nw);
    ng = infill(ctx, "x\\y <mask> z", 0, got);
    ck_assert_uint_eq(ng, nw);
    ck_assert_mem_eq(got, want, nw * sizeof *want);

    // a leading hole, BOS first when asked for and the model has one
    ng = infill(ctx, "<mask:2>end", DIFFLM_TOKENIZE_ADD_BOS, got);
    size_t at = 0;
    if (mi.bos_id >= 0)
        ck_assert_int_eq(got[at++], mi.bos_id);
    ck_assert_int_eq(got[at], mi.mask_id);
    ck_assert_int_eq(got[at + 1], mi.mask_id);
    ck_assert_int_ne(got[at + 2], mi.mask_id);

    // sizes and errors
    size_t need = 0;
    ck_assert_int_eq(difflm_infill_canvas(ctx, "ab<mask:7>", 0, NULL, 0, &need),
                     DIFFLM_E_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(need, infill(ctx, "ab<mask:7>", 0, got));
    ck_assert_int_eq(difflm_infill_canvas(ctx, "ab<mask:7>", 0, got, 3, &need),
                     DIFFLM_E_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(need, infill(ctx, "ab<mask:7>", 0, got));
    const char *bad[] = {"a<mask:0>", "a<mask:x>", "a<mask:3", "a<mask:>", "<mask:97>",
                         "<mask:99999999999>"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(difflm_infill_canvas(ctx, bad[i], 0, got, 512, &need),
                         DIFFLM_E_INVALID_ARG);
        ck_assert_ptr_nonnull(strstr(difflm_last_error(ctx), "<mask:N>"));
    }
    ck_assert_int_eq(difflm_infill_canvas(ctx, NULL, 0, got, 512, &need), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(difflm_infill_canvas(ctx, "a", 0, NULL, 5, &need), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(difflm_infill_canvas(ctx, "a", 64, got, 5, &need), DIFFLM_E_INVALID_ARG);
    difflm_free(ctx);
}
END_TEST

typedef struct state {
    difflm_token canvas[96], token[96];
    int32_t step[96];
    float prob[96], score[96];
    size_t n;
} state;

static void snapshot(difflm_ctx *ctx, state *s) {
    size_t n = 0;
    ck_assert_int_eq(difflm_canvas(ctx, s->canvas, 96, &s->n), DIFFLM_OK);
    ck_assert_int_eq(difflm_confidences(ctx, s->token, s->step, s->prob, s->score, 96, &n),
                     DIFFLM_OK);
    ck_assert_uint_eq(n, s->n);
}

static int same_float(float a, float b) {
    return (isnan(a) && isnan(b)) || a == b;
}

static void assert_same(const state *a, const state *b) {
    ck_assert_uint_eq(a->n, b->n);
    ck_assert_mem_eq(a->canvas, b->canvas, a->n * sizeof a->canvas[0]);
    ck_assert_mem_eq(a->token, b->token, a->n * sizeof a->token[0]);
    ck_assert_mem_eq(a->step, b->step, a->n * sizeof a->step[0]);
    for (size_t i = 0; i < a->n; i++)
        ck_assert(same_float(a->prob[i], b->prob[i]) && same_float(a->score[i], b->score[i]));
}

/* A canvas begin over [prompt | MASK x n] is generate_begin, step by step. */
START_TEST(canvas_equals_prompt_begin) {
    for (int which = 0; which < 2; which++) {
        difflm_ctx *a = open_ctx(which), *b = open_ctx(which);
        difflm_model_info mi = api_info(a);
        difflm_gen_params g;
        api_gen(&g, 20, 10, 8);
        g.temperature = 0.7f;
        g.seed = 3;
        const difflm_token prompt[] = {1, 300, 301, 302};
        difflm_token canvas[24];
        memcpy(canvas, prompt, sizeof prompt);
        for (int i = 4; i < 24; i++)
            canvas[i] = mi.mask_id;
        ck_assert_int_eq(difflm_generate_begin(a, prompt, 4, &g), DIFFLM_OK);
        g.gen_length = 999;   // ignored by the canvas begin
        ck_assert_int_eq(difflm_generate_begin_canvas(b, canvas, 24, &g), DIFFLM_OK);
        int sa, sb, steps = 0;
        do {
            state x, y;
            snapshot(a, &x);
            snapshot(b, &y);
            assert_same(&x, &y);
            sa = difflm_generate_step(a);
            sb = difflm_generate_step(b);
            ck_assert_int_eq(sa, sb);
            steps++;
        } while (sa == DIFFLM_OK);
        ck_assert_int_eq(sa, DIFFLM_DONE);
        ck_assert_int_gt(steps, 2);
        state x, y;
        snapshot(a, &x);
        snapshot(b, &y);
        assert_same(&x, &y);
        difflm_free(a);
        difflm_free(b);
    }
}
END_TEST

/* Holes between fixed text, with and without the caches: fixed positions never change,
 * every hole fills, the confidences say who committed when. */
START_TEST(holes_and_caches) {
    for (int which = 0; which < 2; which++) {
        for (int32_t cache = DIFFLM_CACHE_NONE; cache <= DIFFLM_CACHE_DUAL; cache++) {
            difflm_ctx *ctx = open_ctx(which);
            difflm_model_info mi = api_info(ctx);
            const int M = mi.mask_id;
            const difflm_token canvas[] = {M, M, 300, 301, M, M, M, 302, 303, M, M, M, M, 304, M};
            const size_t n = sizeof canvas / sizeof canvas[0];
            difflm_gen_params g;
            difflm_gen_params_init(&g);
            g.steps = 10;
            g.block_length = 4;
            g.cache = cache;
            if (cache != DIFFLM_CACHE_NONE)
                g.schedule = DIFFLM_SCHEDULE_BLOCKS;
            ck_assert_int_eq(difflm_generate_begin_canvas(ctx, canvas, n, &g), DIFFLM_OK);
            state s;
            snapshot(ctx, &s);
            for (size_t i = 0; i < n; i++) {   // before any step: nothing predicted
                ck_assert_int_eq(s.step[i], canvas[i] == M ? DIFFLM_CONF_MASKED : DIFFLM_CONF_FIXED);
                ck_assert(isnan(s.prob[i]) && isnan(s.score[i]));
                ck_assert_int_eq(s.token[i], canvas[i] == M ? -1 : canvas[i]);
            }
            int st, steps = 0;
            while ((st = difflm_generate_step(ctx)) == DIFFLM_OK) {
                steps++;
                snapshot(ctx, &s);
                for (size_t i = 0; i < n; i++) {
                    if (canvas[i] != M) {
                        ck_assert_int_eq(s.canvas[i], canvas[i]);
                        ck_assert_int_eq(s.step[i], DIFFLM_CONF_FIXED);
                    } else if (s.canvas[i] != M) {
                        ck_assert(s.step[i] >= 1 && s.step[i] <= steps);
                        ck_assert_int_eq(s.token[i], s.canvas[i]);
                        ck_assert(s.prob[i] >= 0.0f && s.prob[i] <= 1.0f);
                    } else {
                        ck_assert_int_eq(s.step[i], DIFFLM_CONF_MASKED);
                        ck_assert(s.token[i] == -1 || (s.prob[i] >= 0.0f && s.prob[i] <= 1.0f));
                    }
                }
            }
            ck_assert_msg(st == DIFFLM_DONE, "%s", difflm_last_error(ctx));
            snapshot(ctx, &s);
            for (size_t i = 0; i < n; i++) {
                ck_assert_int_ne(s.canvas[i], M);
                if (canvas[i] == M)
                    ck_assert(s.step[i] >= 1 && s.step[i] <= steps + 1);
            }
            difflm_free(ctx);
        }
    }
}
END_TEST

START_TEST(errors) {
    difflm_ctx *ctx = open_ctx(0);
    difflm_model_info mi = api_info(ctx);
    const int M = mi.mask_id;
    difflm_gen_params g;
    difflm_gen_params_init(&g);
    g.steps = 4;
    size_t n = 0;
    float prob[8];
    ck_assert_int_eq(difflm_confidences(ctx, NULL, NULL, prob, NULL, 8, &n), DIFFLM_E_STATE);
    const difflm_token none[] = {1, 2, 3};
    ck_assert_int_eq(difflm_generate_begin_canvas(ctx, none, 3, &g), DIFFLM_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(difflm_last_error(ctx), "no MASK"));
    const difflm_token outside[] = {1, M, 400};
    ck_assert_int_eq(difflm_generate_begin_canvas(ctx, outside, 3, &g), DIFFLM_E_INVALID_ARG);
    const difflm_token after[] = {1, M, M, 7};
    g.flags = DIFFLM_GEN_EARLY_STOP;
    ck_assert_int_eq(difflm_generate_begin_canvas(ctx, after, 4, &g), DIFFLM_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(difflm_last_error(ctx), "early stop"));
    const difflm_token trailing[] = {1, 7, M, M};
    ck_assert_int_eq(difflm_generate_begin_canvas(ctx, trailing, 4, &g), DIFFLM_OK);
    g.flags = 0;
    g.cache = DIFFLM_CACHE_DUAL;
    g.cfg_scale = 1.0f;
    ck_assert_int_eq(difflm_generate_begin_canvas(ctx, after, 4, &g), DIFFLM_E_UNSUPPORTED);
    g.cache = DIFFLM_CACHE_NONE;
    g.cfg_scale = 0.0f;
    difflm_token big[97];
    for (int i = 0; i < 97; i++)
        big[i] = M;
    ck_assert_int_eq(difflm_generate_begin_canvas(ctx, big, 97, &g), DIFFLM_E_TOO_LONG);
    ck_assert_int_eq(difflm_generate_begin_canvas(ctx, NULL, 3, &g), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(difflm_generate_begin_canvas(ctx, after, 4, NULL), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(difflm_generate_begin_canvas(NULL, after, 4, &g), DIFFLM_E_INVALID_ARG);
    // a failed begin leaves no canvas
    ck_assert_int_eq(difflm_confidences(ctx, NULL, NULL, prob, NULL, 8, &n), DIFFLM_E_STATE);
    // a prompt begin still rejects a MASK
    g.gen_length = 4;
    ck_assert_int_eq(difflm_generate_begin(ctx, after, 4, &g), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(difflm_generate_begin_canvas(ctx, after, 4, &g), DIFFLM_OK);
    ck_assert_int_eq(difflm_confidences(ctx, NULL, NULL, prob, NULL, 2, &n),
                     DIFFLM_E_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(n, 4);
    ck_assert_int_eq(difflm_confidences(ctx, NULL, NULL, NULL, NULL, 0, NULL), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(difflm_confidences(NULL, NULL, NULL, NULL, NULL, 0, &n), DIFFLM_E_INVALID_ARG);
    difflm_free(ctx);
}
END_TEST

static Suite *infill_suite(void) {
    Suite *s = suite_create("infill");
    TCase *tc = tcase_create("infill");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, template_pieces);
    tcase_add_test(tc, canvas_equals_prompt_begin);
    tcase_add_test(tc, holes_and_caches);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv) {
    int rc = api_fixture_args(argc, argv, 0, NULL);
    return rc ? rc : dl_run_suite(infill_suite());
}
