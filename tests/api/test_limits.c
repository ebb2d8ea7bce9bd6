/* test_limits.c - parameters that could buy unbounded work or the wrong status, and
 * difflm_cancel racing a running forward pass (the case ThreadSanitizer checks: the
 * flag is written atomically by one thread while the pass reads it on another).
 * Links only the shared library. usage: test_limits LLADA.gguf DREAM.gguf */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_compat.h"
#include "api_fixture.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---------------------------------------------------------------- status codes */

/* prompt + gen_length past max_canvas is E_TOO_LONG, whatever else is wrong, for
 * lengths up to INT32_MAX and prompt lengths up to SIZE_MAX (the prompt is not read). */
START_TEST(too_long_statuses) {
    difflm_model *m = api_load(api_model_path[API_LLADA]);
    difflm_ctx *ctx = api_ctx(m, 1, 64);
    difflm_gen_params g;
    difflm_gen_params_init(&g);
    g.gen_length = 16;
    g.steps = 16;
    difflm_token prompt[4] = {0, 300, 301, 302};

    g.gen_length = 61;   // 4 + 61 = 65 > 64
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 4, &g), DIFFLM_E_TOO_LONG);
    ck_assert_ptr_nonnull(strstr(difflm_last_error(ctx), "max_canvas 64"));
    g.gen_length = 60;   // exactly the canvas
    g.steps = 60;
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 4, &g), DIFFLM_OK);

    g.gen_length = INT32_MAX;
    g.steps = 16;
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 4, &g), DIFFLM_E_TOO_LONG);
    ck_assert_int_eq(difflm_generate_step(ctx), DIFFLM_E_STATE);   // the failure cleared it
    g.steps = INT32_MAX;   // not the fault reported: the canvas is
    g.schedule = DIFFLM_SCHEDULE_TIMESTEPS;
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 4, &g), DIFFLM_E_TOO_LONG);
    ck_assert_int_eq(difflm_generate_begin(ctx, NULL, 0, &g), DIFFLM_E_TOO_LONG);

    // huge prompt lengths with a 4-token buffer: refused before a token is read
    g.gen_length = 16;
    g.steps = 16;
    g.schedule = DIFFLM_SCHEDULE_AUTO;
    const size_t huge[] = {61, (size_t)INT32_MAX, (size_t)INT32_MAX + 1u, SIZE_MAX};
    for (size_t i = 0; i < sizeof huge / sizeof *huge; i++)
        ck_assert_msg(difflm_generate_begin(ctx, prompt, huge[i], &g) == DIFFLM_E_TOO_LONG,
                      "prompt length %zu", huge[i]);
    difflm_free(ctx);
    difflm_model_free(m);
}
END_TEST

/* max_canvas = INT32_MAX fails at once with E_INVALID_ARG naming the limit, in create,
 * in difflm_create and in memory_required (nothing is allocated for it first). */
START_TEST(max_canvas_limit) {
    difflm_model *m = api_load(api_model_path[API_LLADA]);
    difflm_ctx_params cp;
    difflm_ctx_params_init(&cp);
    cp.n_threads = 1;
    const int32_t bad[] = {INT32_MAX, (1 << 22) + 1};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cp.max_canvas = bad[i];
        double t0 = now_s();
        int st = 0;
        ck_assert_ptr_null(difflm_ctx_create(m, &cp, &st));
        ck_assert_int_eq(st, DIFFLM_E_INVALID_ARG);
        size_t bytes = 123;
        ck_assert_int_eq(difflm_ctx_memory_required(m, &cp, &bytes), DIFFLM_E_INVALID_ARG);
        ck_assert_uint_eq(bytes, 123);
        difflm_params p;
        difflm_params_init(&p);
        p.model_path = api_model_path[API_LLADA];
        p.max_canvas = bad[i];
        p.n_threads = 1;
        st = 0;
        ck_assert_ptr_null(difflm_create(&p, &st));
        ck_assert_int_eq(st, DIFFLM_E_INVALID_ARG);
        double dt = now_s() - t0;
        ck_assert_msg(dt < 2.0, "max_canvas %d took %.2f s to fail", bad[i], dt);
    }
    size_t bytes = 0;
    cp.max_canvas = 1 << 22;   // the limit itself is accepted (and only measured here)
    ck_assert_int_eq(difflm_ctx_memory_required(m, &cp, &bytes), DIFFLM_OK);
    ck_assert_uint_gt(bytes, (size_t)1 << 22);
    difflm_model_free(m);
}
END_TEST

/* ---------------------------------------------------------------- bounded work */

/* TIMESTEPS with the confidence rules plans every step at begin: steps beyond the
 * bound are refused at once with a message naming it (INT32_MAX used to take ~85 s and
 * overflow in the schedule's time function). */
START_TEST(timesteps_steps_bound) {
    difflm_model *m = api_load(api_model_path[API_DREAM]);
    difflm_ctx *ctx = api_ctx(m, 1, 64);
    difflm_gen_params g;
    difflm_gen_params_init(&g);
    g.gen_length = 16;
    g.schedule = DIFFLM_SCHEDULE_TIMESTEPS;
    g.remasking = DIFFLM_REMASK_ENTROPY;
    difflm_token prompt[] = {0, 300};
    const int32_t bad[] = {INT32_MAX, (1 << 20) + 1};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        g.steps = bad[i];
        double t0 = now_s();
        ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 2, &g), DIFFLM_E_INVALID_ARG);
        ck_assert_msg(now_s() - t0 < 2.0, "steps %d: begin took %.2f s", bad[i], now_s() - t0);
        ck_assert_msg(strstr(difflm_last_error(ctx), "1048576") != NULL, "message: %s",
                      difflm_last_error(ctx));
    }
    // the bound itself plans, fast, and runs at most gen_length steps
    g.steps = 1 << 20;
    double t0 = now_s();
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 2, &g), DIFFLM_OK);
    ck_assert_msg(now_s() - t0 < 10.0, "planning 2^20 steps took %.2f s", now_s() - t0);
    int n = 0;
    ck_assert_int_eq(api_steps(ctx, &n), DIFFLM_DONE);
    ck_assert_int_le(n + 1, 16);
    // a parallel rule does not read steps: any count is accepted
    g.steps = INT32_MAX;
    g.parallel = DIFFLM_PARALLEL_THRESHOLD;
    t0 = now_s();
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 2, &g), DIFFLM_OK);
    ck_assert_msg(now_s() - t0 < 2.0, "parallel begin took %.2f s", now_s() - t0);
    // BLOCKS plans in O(gen_length): INT32_MAX steps is fine and runs gen_length steps
    g.parallel = DIFFLM_PARALLEL_NONE;
    g.schedule = DIFFLM_SCHEDULE_BLOCKS;
    g.remasking = DIFFLM_REMASK_LOW_CONFIDENCE;
    g.block_length = 8;
    t0 = now_s();
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 2, &g), DIFFLM_OK);
    ck_assert_msg(now_s() - t0 < 2.0, "blocks begin took %.2f s", now_s() - t0);
    ck_assert_int_eq(api_steps(ctx, &n), DIFFLM_DONE);
    ck_assert_int_eq(n + 1, 16);
    difflm_free(ctx);
    difflm_model_free(m);
}
END_TEST

typedef struct pass_count {
    int calls;
} pass_count;

static int count_step(const difflm_step_info *info, void *user) {
    (void)info;
    ((pass_count *)user)->calls++;
    return 0;
}

/* ORIGIN runs a forward pass at every step: steps beyond gen_length are refused (1e9
 * steps used to run one pass per step); steps = gen_length runs at most gen_length. */
START_TEST(origin_steps_bound) {
    difflm_model *m = api_load(api_model_path[API_DREAM]);
    difflm_ctx *ctx = api_ctx(m, 1, 64);
    difflm_gen_params g;
    difflm_gen_params_init(&g);
    g.gen_length = 16;
    g.schedule = DIFFLM_SCHEDULE_TIMESTEPS;
    g.remasking = DIFFLM_REMASK_ORIGIN;
    g.temperature = 0.5f;
    g.seed = 3;
    pass_count pc = {0};
    g.step_fn = count_step;
    g.step_user = &pc;
    difflm_token prompt[] = {0, 300};
    const int32_t bad[] = {1000000000, INT32_MAX, 17};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        g.steps = bad[i];
        double t0 = now_s();
        ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 2, &g), DIFFLM_E_INVALID_ARG);
        ck_assert_msg(now_s() - t0 < 2.0, "begin took %.2f s", now_s() - t0);
        ck_assert_msg(strstr(difflm_last_error(ctx), "gen_length (16)") != NULL,
                      "message: %s", difflm_last_error(ctx));
        ck_assert_int_eq(difflm_generate_step(ctx), DIFFLM_E_STATE);
    }
    ck_assert_int_eq(pc.calls, 0);
    g.steps = 16;
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 2, &g), DIFFLM_OK);
    ck_assert_int_eq(api_steps(ctx, NULL), DIFFLM_DONE);
    ck_assert_int_ge(pc.calls, 1);
    ck_assert_int_le(pc.calls, 16);
    // under BLOCKS, ORIGIN is RANDOM: any steps, at most gen_length of them run
    g.schedule = DIFFLM_SCHEDULE_BLOCKS;
    g.steps = 1000000000;
    g.block_length = 16;
    pc.calls = 0;
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 2, &g), DIFFLM_OK);
    ck_assert_int_eq(api_steps(ctx, NULL), DIFFLM_DONE);
    ck_assert_int_eq(pc.calls, 16);
    difflm_free(ctx);
    difflm_model_free(m);
}
END_TEST

/* ---------------------------------------------------------------- cancel during a pass */

/* steps_seen is relaxed on purpose: it must not order the stepping thread's reads of
 * the cancel flag before difflm_cancel's write, or ThreadSanitizer could not see a plain
 * read racing with it. */
typedef struct racer {
    difflm_ctx *ctx;
    int steps_seen;     /* relaxed atomic: written by the stepping thread */
    int cancelled;      /* written by the cancelling thread after difflm_cancel */
    double t_cancel;
} racer;

static int note_step(const difflm_step_info *info, void *user) {
    (void)info;
    __atomic_add_fetch(&((racer *)user)->steps_seen, 1, __ATOMIC_RELAXED);
    return 0;
}

static void *cancel_soon(void *arg) {
    racer *r = arg;
    while (__atomic_load_n(&r->steps_seen, __ATOMIC_RELAXED) < 2)
        nanosleep(&(struct timespec){0, 200000}, NULL);
    nanosleep(&(struct timespec){0, 3000000}, NULL);   // inside some later step's pass
    r->t_cancel = now_s();
    difflm_cancel(r->ctx);
    __atomic_store_n(&r->cancelled, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Another thread cancels while steps run back to back (the flag is then read by the
 * forward pass between layers while it is written): the generation stops with
 * E_CANCELLED, at most one step completing after difflm_cancel returned (a step past its
 * last layer check finishes; the next one sees the flag). */
START_TEST(cancel_races_pass) {
    difflm_model *m = api_load(api_model_path[_i]);
    difflm_ctx *ctx = api_ctx(m, 2, 400);
    difflm_gen_params g;
    api_gen(&g, 384, 384, 384);
    racer r = {ctx, 0, 0, 0.0};
    g.step_fn = note_step;
    g.step_user = &r;
    difflm_token prompt[] = {0, 300, 301};
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 3, &g), DIFFLM_OK);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, cancel_soon, &r), 0);
    int st, ok_after = 0;
    double t_end = 0.0;
    while ((st = difflm_generate_step(ctx)) == DIFFLM_OK)
        if (__atomic_load_n(&r.cancelled, __ATOMIC_ACQUIRE))
            ok_after++;
    t_end = now_s();
    pthread_join(th, NULL);
    ck_assert_msg(st == DIFFLM_E_CANCELLED, "status %s after %d steps", difflm_status_name(st),
                  r.steps_seen);
    ck_assert_int_le(ok_after, 1);
    ck_assert_int_lt(r.steps_seen, 384);
    ck_assert_double_ge(t_end, r.t_cancel);
    ck_assert_int_eq(difflm_generate_step(ctx), DIFFLM_E_CANCELLED);   // stays cancelled
    // a new begin clears the request and the context works again
    g.step_fn = NULL;
    g.gen_length = 8;
    g.steps = 8;
    g.block_length = 8;
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 3, &g), DIFFLM_OK);
    ck_assert_int_eq(api_steps(ctx, NULL), DIFFLM_DONE);
    difflm_free(ctx);
    difflm_model_free(m);
}
END_TEST

static Suite *limits_suite(void) {
    Suite *s = suite_create("limits");
    TCase *tc = tcase_create("limits");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, too_long_statuses);
    tcase_add_test(tc, max_canvas_limit);
    tcase_add_test(tc, timesteps_steps_bound);
    tcase_add_test(tc, origin_steps_bound);
    tcase_add_loop_test(tc, cancel_races_pass, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv) {
    int rc = api_fixture_args(argc, argv, 0, NULL);
    return rc ? rc : dl_run_suite(limits_suite());
}
