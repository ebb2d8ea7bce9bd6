/* test_api.c - the public API, linked against the shared library only.
 * usage: test_api LLADA.gguf DREAM.gguf */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_compat.h"
#include "api_fixture.h"

/* One thread, the default canvas. */
static difflm_ctx *open_model(const char *path) {
    return api_open(path, 1, 0);
}

START_TEST(status_strings) {
#define CHECK_STATUS_(name, value, text) \
    ck_assert_str_eq(difflm_status_str(DIFFLM_##name), text);
    DIFFLM_STATUS_LIST(CHECK_STATUS_)
#undef CHECK_STATUS_
    ck_assert_str_eq(difflm_status_str(-9999), "unknown status");
    ck_assert_str_eq(difflm_version(), DIFFLM_VERSION_STRING);
    ck_assert_uint_eq(difflm_version_number(), DIFFLM_VERSION_NUMBER);
    ck_assert_uint_eq(difflm_abi_version(), DIFFLM_ABI_VERSION);
}
END_TEST

START_TEST(create_errors) {
    int st = 0;
    ck_assert_ptr_null(difflm_create(NULL, &st));
    ck_assert_int_eq(st, DIFFLM_E_INVALID_ARG);
    ck_assert_ptr_null(difflm_create(NULL, NULL)); /* status pointer is optional */

    difflm_params p;
    difflm_params_init(&p);
    ck_assert_ptr_null(difflm_create(&p, &st)); /* no model path */
    ck_assert_int_eq(st, DIFFLM_E_INVALID_ARG);

    p.model_path = "/nonexistent/difflm/model.gguf";
    ck_assert_ptr_null(difflm_create(&p, &st));
    ck_assert_int_eq(st, DIFFLM_E_IO);

    char junk[] = "/tmp/difflm-junk-XXXXXX"; /* a regular file that is not a GGUF */
    int fd = mkstemp(junk);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "GGUF\3\0\0\0garbage", 15), 15);
    close(fd);
    p.model_path = junk;
    ck_assert_ptr_null(difflm_create(&p, &st));
    unlink(junk);
    ck_assert_int_eq(st, DIFFLM_E_FORMAT);

    p.model_path = api_model_path[API_LLADA];
    p.n_threads = -1;
    ck_assert_ptr_null(difflm_create(&p, &st));
    ck_assert_int_eq(st, DIFFLM_E_INVALID_ARG);

    difflm_free(NULL); /* a no-op */
}
END_TEST

/* A bigger struct from a newer header: accepted when the unknown tail is zero. */
START_TEST(struct_versioning) {
    struct {
        difflm_params p;
        uint64_t future_field;
    } big;
    memset(&big, 0, sizeof big);
    difflm_params_init(&big.p);
    big.p.struct_size = sizeof big;
    big.p.model_path = api_model_path[API_LLADA];
    int st;
    difflm_ctx *ctx = difflm_create(&big.p, &st);
    ck_assert_int_eq(st, DIFFLM_OK);
    difflm_free(ctx);

    big.future_field = 1;
    ck_assert_ptr_null(difflm_create(&big.p, &st));
    ck_assert_int_eq(st, DIFFLM_E_INVALID_ARG);

    big.p.struct_size = 4; /* smaller than any release */
    ck_assert_ptr_null(difflm_create(&big.p, &st));
    ck_assert_int_eq(st, DIFFLM_E_INVALID_ARG);

    /* The same rules for the generation parameters. */
    ctx = open_model(api_model_path[API_LLADA]);
    struct {
        difflm_gen_params g;
        uint32_t future_field;
    } gbig;
    memset(&gbig, 0, sizeof gbig);
    difflm_gen_params_init(&gbig.g);
    gbig.g.struct_size = sizeof gbig;
    gbig.g.gen_length = 8;
    gbig.g.steps = 8;
    gbig.g.block_length = 8;
    difflm_token prompt[] = {0, 300, 301};
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 3, &gbig.g), DIFFLM_OK);
    gbig.future_field = 7;
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 3, &gbig.g), DIFFLM_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(difflm_last_error(ctx), "difflm_gen_params"));
    difflm_free(ctx);
}
END_TEST

START_TEST(model_info) {
    difflm_ctx *ctx = open_model(api_model_path[API_LLADA]);
    difflm_model_info mi = {.struct_size = sizeof mi};
    ck_assert_int_eq(difflm_model_info_get(ctx, &mi), DIFFLM_OK);
    ck_assert_int_eq(mi.arch, DIFFLM_ARCH_LLADA);
    ck_assert_int_eq(mi.shift_logits, 0);
    ck_assert_int_eq(mi.mask_id, 5);
    ck_assert_int_gt(mi.n_vocab, 264);
    ck_assert_int_gt(mi.max_canvas, 0);
    ck_assert_uint_gt(mi.n_params, 0);
    difflm_free(ctx);

    ctx = open_model(api_model_path[API_DREAM]);
    ck_assert_int_eq(difflm_model_info_get(ctx, &mi), DIFFLM_OK);
    ck_assert_int_eq(mi.arch, DIFFLM_ARCH_DREAM);
    ck_assert_int_eq(mi.shift_logits, 1); /* no diffusion.shift_logits key: shifted */
    ck_assert_int_eq(difflm_model_info_get(ctx, NULL), DIFFLM_E_INVALID_ARG);
    difflm_free(ctx);
}
END_TEST

START_TEST(tokenize_roundtrip) {
    difflm_ctx *ctx = open_model(api_model_path[API_LLADA]);
    const char text[] = "In the beginning\n\xff\xfe odd bytes <|eot_id|> and 12345.";
    size_t len = sizeof text - 1;
    difflm_token ids[256];
    size_t n = 0;
    ck_assert_int_eq(difflm_tokenize(ctx, text, len, 0, ids, 256, &n), DIFFLM_OK);
    ck_assert_uint_gt(n, 0);
    char out[512];
    size_t n_out = 0;
    ck_assert_int_eq(difflm_detokenize(ctx, ids, n, 0, out, sizeof out, &n_out), DIFFLM_OK);
    ck_assert_uint_eq(n_out, len);
    ck_assert_mem_eq(out, text, len);

    /* Too small: the needed size comes back. */
    size_t need = 0;
    ck_assert_int_eq(difflm_tokenize(ctx, text, len, 0, ids, 2, &need), DIFFLM_E_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(need, n);
    ck_assert_int_eq(difflm_detokenize(ctx, ids, n, 0, out, 3, &need), DIFFLM_E_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(need, len);

    /* BOS and special-token parsing. */
    difflm_model_info mi = {.struct_size = sizeof mi};
    difflm_model_info_get(ctx, &mi);
    ck_assert_int_eq(difflm_tokenize(ctx, "<|eot_id|>", 10,
                                     DIFFLM_TOKENIZE_ADD_BOS | DIFFLM_TOKENIZE_PARSE_SPECIAL, ids,
                                     256, &n),
                     DIFFLM_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(ids[0], mi.bos_id);
    ck_assert_int_eq(ids[1], mi.eot_id);

    /* Bad input. */
    ck_assert_int_eq(difflm_tokenize(ctx, NULL, 3, 0, ids, 256, &n), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(difflm_tokenize(ctx, "a", 1, 0x80, ids, 256, &n), DIFFLM_E_INVALID_ARG);
    difflm_token bad = mi.n_vocab;
    ck_assert_int_eq(difflm_detokenize(ctx, &bad, 1, 0, out, sizeof out, &n_out),
                     DIFFLM_E_INVALID_ARG);
    bad = -1;
    ck_assert_int_eq(difflm_detokenize(ctx, &bad, 1, 0, out, sizeof out, &n_out),
                     DIFFLM_E_INVALID_ARG);
    difflm_free(ctx);
}
END_TEST

START_TEST(chat_format) {
    difflm_ctx *ctx = open_model(api_model_path[API_LLADA]);
    difflm_chat_message msgs[] = {{"user", "  Hello  "}};
    char out[512];
    size_t n = 0;
    ck_assert_int_eq(difflm_chat_format(ctx, msgs, 1, 1, out, sizeof out, &n), DIFFLM_OK);
    ck_assert_str_eq(out, "<|startoftext|><|start_header_id|>user<|end_header_id|>\n\nHello"
                          "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    ck_assert_uint_eq(n, strlen(out));
    size_t need = 0;
    ck_assert_int_eq(difflm_chat_format(ctx, msgs, 1, 1, out, 4, &need), DIFFLM_E_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(need, n);
    difflm_free(ctx);
}
END_TEST

START_TEST(generate_steps) {
    difflm_ctx *ctx = open_model(api_model_path[API_LLADA]);
    difflm_model_info mi = {.struct_size = sizeof mi};
    difflm_model_info_get(ctx, &mi);
    difflm_token canvas[64];
    size_t n_canvas = 0;
    ck_assert_int_eq(difflm_generate_step(ctx), DIFFLM_E_STATE); /* before begin */
    ck_assert_int_eq(difflm_canvas(ctx, canvas, 64, &n_canvas), DIFFLM_E_STATE);

    difflm_gen_params g;
    api_gen(&g, 16, 8, 8);
    difflm_token prompt[] = {0, 300, 301, 302};
    int steps = 0;
    ck_assert_int_eq(api_run(ctx, prompt, 4, &g, canvas, 64, &n_canvas, &steps), DIFFLM_DONE);
    ck_assert_int_eq(steps, 8); /* one forward pass per step; 2 tokens each */
    ck_assert_uint_eq(n_canvas, 20);
    ck_assert_mem_eq(canvas, prompt, sizeof prompt);
    for (size_t i = 4; i < n_canvas; i++)
        ck_assert_int_ne(canvas[i], mi.mask_id);
    ck_assert_int_eq(difflm_generate_step(ctx), DIFFLM_DONE); /* stays done */

    /* Same seed, same tokens, whatever the thread count. */
    difflm_params p;
    difflm_params_init(&p);
    p.model_path = api_model_path[API_LLADA];
    p.n_threads = 2;
    difflm_ctx *ctx2 = difflm_create(&p, NULL);
    ck_assert_ptr_nonnull(ctx2);
    g.temperature = 0.8f;
    g.seed = 42;
    difflm_token c1[64], c2[64];
    size_t n1, n2;
    ck_assert_int_eq(api_run(ctx, prompt, 4, &g, c1, 64, &n1, &steps), DIFFLM_DONE);
    ck_assert_int_eq(api_run(ctx2, prompt, 4, &g, c2, 64, &n2, &steps), DIFFLM_DONE);
    ck_assert_uint_eq(n1, n2);
    ck_assert_mem_eq(c1, c2, n1 * sizeof *c1);
    difflm_free(ctx2);

    /* Bad parameters and too-long canvases. */
    g.steps = 0;
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 4, &g), DIFFLM_E_INVALID_ARG);
    ck_assert_str_ne(difflm_last_error(ctx), "");
    ck_assert_int_eq(difflm_generate_step(ctx), DIFFLM_E_STATE); /* a failed begin clears */
    g.steps = 8;
    g.cfg_scale = -1.0f;
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 4, &g), DIFFLM_E_INVALID_ARG);
    g.cfg_scale = 0.0f;
    g.gen_length = mi.max_canvas;
    g.block_length = 0;
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 4, &g), DIFFLM_E_TOO_LONG);
    difflm_token with_mask[] = {0, (difflm_token)mi.mask_id};
    g.gen_length = 8;
    ck_assert_int_eq(difflm_generate_begin(ctx, with_mask, 2, &g), DIFFLM_E_INVALID_ARG);
    difflm_token out_of_vocab[] = {(difflm_token)mi.n_vocab};
    ck_assert_int_eq(difflm_generate_begin(ctx, out_of_vocab, 1, &g), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(difflm_generate_begin(ctx, NULL, 1, &g), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(difflm_generate_begin(ctx, NULL, 0, &g), DIFFLM_OK); /* empty prompt */
    difflm_free(ctx);
}
END_TEST

typedef struct step_log {
    int calls, stop_at, last_total;
    int committed;
} step_log;

static int count_steps(const difflm_step_info *info, void *user) {
    step_log *s = user;
    s->calls++;
    s->committed += info->n_committed;
    s->last_total = info->total_steps;
    ck_assert_int_eq(info->step, s->calls);
    ck_assert_uint_ge(info->canvas_length, (size_t)info->prompt_length);
    return s->stop_at && s->calls == s->stop_at;
}

START_TEST(step_callback) {
    difflm_ctx *ctx = open_model(api_model_path[API_LLADA]);
    difflm_gen_params g;
    api_gen(&g, 12, 6, 12);
    step_log log = {0};
    g.step_fn = count_steps;
    g.step_user = &log;
    difflm_token prompt[] = {0, 300};
    difflm_token canvas[32];
    size_t n;
    int steps;
    ck_assert_int_eq(api_run(ctx, prompt, 2, &g, canvas, 32, &n, &steps), DIFFLM_DONE);
    ck_assert_int_eq(log.calls, 6);
    ck_assert_int_eq(log.last_total, 6);
    ck_assert_int_eq(log.committed, 12);

    /* A non-zero return stops: the canvas keeps what was committed. */
    log = (step_log){.stop_at = 2};
    ck_assert_int_eq(api_run(ctx, prompt, 2, &g, canvas, 32, &n, &steps), DIFFLM_E_CANCELLED);
    ck_assert_int_eq(log.calls, 2);
    ck_assert_int_eq(difflm_canvas(ctx, canvas, 32, &n), DIFFLM_OK);
    ck_assert_uint_eq(n, 14);
    ck_assert_int_eq(difflm_generate_step(ctx), DIFFLM_E_CANCELLED);
    difflm_free(ctx);
}
END_TEST

/* difflm_cancel from another thread while a step callback holds the generating thread. */
typedef struct cancel_ctx {
    difflm_ctx *ctx;
    pthread_t thread;
    int started;
} cancel_ctx;

static void *cancel_thread(void *arg) {
    difflm_cancel(((cancel_ctx *)arg)->ctx);
    return NULL;
}

static int cancel_on_first_step(const difflm_step_info *info, void *user) {
    cancel_ctx *cc = user;
    if (!cc->started) {
        cc->started = 1;
        ck_assert_int_eq(pthread_create(&cc->thread, NULL, cancel_thread, cc), 0);
        pthread_join(cc->thread, NULL); /* cancel has happened when the step returns */
    }
    return 0;
}

START_TEST(cancel_from_thread) {
    difflm_ctx *ctx = open_model(api_model_path[API_LLADA]);
    cancel_ctx cc = {ctx, 0, 0};
    difflm_gen_params g;
    api_gen(&g, 16, 16, 16);
    g.step_fn = cancel_on_first_step;
    g.step_user = &cc;
    difflm_token prompt[] = {0};
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 1, &g), DIFFLM_OK);
    ck_assert_int_eq(difflm_generate_step(ctx), DIFFLM_OK);
    ck_assert_int_eq(difflm_generate_step(ctx), DIFFLM_E_CANCELLED);
    /* A new begin clears the request. */
    g.step_fn = NULL;
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 1, &g), DIFFLM_OK);
    ck_assert_int_eq(difflm_generate_step(ctx), DIFFLM_OK);
    difflm_cancel(NULL); /* a no-op */
    difflm_free(ctx);
}
END_TEST

START_TEST(sample_text) {
    for (int m = 0; m < 2; m++) {
        difflm_ctx *ctx = open_model(m ? api_model_path[API_DREAM] : api_model_path[API_LLADA]);
        difflm_gen_params g;
        api_gen(&g, 16, 8, 16);
        char out[1024];
        size_t n = 99999;
        ck_assert_int_eq(difflm_sample(ctx, "The word", &g, out, sizeof out, &n), DIFFLM_OK);
        ck_assert_uint_lt(n, sizeof out);
        ck_assert_uint_eq(strlen(out), n);
        /* Even an empty text needs room for its NUL. */
        ck_assert_int_eq(difflm_sample(ctx, "The word", &g, NULL, 0, &n),
                         DIFFLM_E_BUFFER_TOO_SMALL);
        ck_assert_int_eq(difflm_sample(ctx, NULL, &g, out, sizeof out, &n), DIFFLM_E_INVALID_ARG);
        difflm_free(ctx);
    }
}
END_TEST

START_TEST(cfg_runs) {
    difflm_ctx *ctx = open_model(api_model_path[API_LLADA]);
    difflm_gen_params g;
    api_gen(&g, 8, 4, 8);
    g.cfg_scale = 1.5f;
    difflm_token prompt[] = {0, 300, 301};
    difflm_token canvas[32];
    size_t n;
    int steps;
    ck_assert_int_eq(api_run(ctx, prompt, 3, &g, canvas, 32, &n, &steps), DIFFLM_DONE);
    ck_assert_int_eq(steps, 4);
    difflm_free(ctx);
}
END_TEST

static Suite *api_suite(void) {
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("api");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, status_strings);
    tcase_add_test(tc, create_errors);
    tcase_add_test(tc, struct_versioning);
    tcase_add_test(tc, model_info);
    tcase_add_test(tc, tokenize_roundtrip);
    tcase_add_test(tc, chat_format);
    tcase_add_test(tc, generate_steps);
    tcase_add_test(tc, step_callback);
    tcase_add_test(tc, cancel_from_thread);
    tcase_add_test(tc, sample_text);
    tcase_add_test(tc, cfg_runs);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv) {
    int rc = api_fixture_args(argc, argv, 0, NULL);
    return rc ? rc : dl_run_suite(api_suite());
}
