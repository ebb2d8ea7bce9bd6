/* test_precision.c - difflm_ctx_params.precision / difflm_params.precision through the
 * public API only: a BF16 context on the bundled model (F16 weights) generates, its
 * logits stay within a measured bound of the exact context's, they are the same bits
 * on 1 and 2 threads and for a batch of canvases as for each alone; an older host's
 * smaller struct gets EXACT; pack_weights changes memory, never bits; an unknown value
 * of either field is E_INVALID_ARG with a message.
 *
 *   test_precision MODEL.gguf (the bundled model) */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../check_compat.h"
#include "difflm.h"

static const char *g_model;

/* The bound on |bf16 logit - exact logit| for the bundled model: measured 0.10 to 0.16
 * over the prompts below on the avx512-bf16 and portable paths (logits up to about 17;
 * doc/performance.md, "bf16 precision mode"): about 3x the largest, a margin for other
 * CPUs' bf16 paths (AMX sums in its own order). */
#define LOGIT_BOUND 0.5

static char g_log[512];
static void keep_log(int32_t level, const char *msg, void *user) {
    (void)level;
    (void)user;
    snprintf(g_log, sizeof g_log, "%s", msg);
}

static difflm_model *load(void) {
    difflm_model_params mp;
    difflm_model_params_init(&mp);
    mp.path = g_model;
    int st;
    difflm_model *m = difflm_model_load(&mp, &st);
    ck_assert_msg(m != NULL, "%s: %s", g_model, difflm_status_str(st));
    return m;
}

static difflm_ctx *ctx_on(difflm_model *m, int32_t precision, int threads) {
    difflm_ctx_params cp;
    difflm_ctx_params_init(&cp);
    cp.n_threads = threads;
    cp.max_canvas = 256;
    cp.max_batch = 2;
    cp.precision = precision;
    int st;
    difflm_ctx *c = difflm_ctx_create(m, &cp, &st);
    ck_assert_msg(c != NULL, "create: %s", difflm_status_str(st));
    return c;
}

/* a prompt's ids followed by masks: n ids */
static size_t canvas_of(difflm_ctx *c, const char *text, difflm_token *ids, size_t n) {
    size_t np = 0;
    ck_assert_int_eq(difflm_tokenize(c, text, strlen(text), DIFFLM_TOKENIZE_ADD_BOS, ids, n, &np),
                     DIFFLM_OK);
    difflm_model_info info = { .struct_size = sizeof info };
    ck_assert_int_eq(difflm_model_info_get(c, &info), DIFFLM_OK);
    for (size_t i = np; i < n; i++)
        ids[i] = info.mask_id;
    return np;
}

static float *logits_of(difflm_ctx *c, const difflm_token *ids, size_t n, size_t *count) {
    size_t need = 0;
    ck_assert_int_eq(difflm_logits(c, ids, n, NULL, 0, NULL, 0, &need), DIFFLM_E_BUFFER_TOO_SMALL);
    float *out = malloc(sizeof(float) * need);
    ck_assert_int_eq(difflm_logits(c, ids, n, NULL, 0, out, need, count), DIFFLM_OK);
    return out;
}

static const char *const prompts[] = { "The capital of France is", "Once upon a time, there was",
                                       "def add(a, b):" };

/* DIFFLM_TEST_QUICK=1 (the valgrind and sanitizer setups): one prompt for the bound,
 * shorter canvases and generations */
static int quick(void) {
    const char *q = getenv("DIFFLM_TEST_QUICK");
    return q && *q && strcmp(q, "0");
}
static size_t n_prompts(void) { return quick() ? 1 : sizeof prompts / sizeof prompts[0]; }

START_TEST(test_bf16_logits_bound) {
    difflm_model *m = load();
    difflm_ctx *ex = ctx_on(m, DIFFLM_PRECISION_EXACT, 2);
    difflm_ctx *bf = ctx_on(m, DIFFLM_PRECISION_BF16, 2);
    difflm_ctx *bf1 = ctx_on(m, DIFFLM_PRECISION_BF16, 1);
    for (size_t p = 0; p < n_prompts(); p++) {
        difflm_token ids[96];
        const size_t n = quick() ? 32 : 96;
        canvas_of(ex, prompts[p], ids, n);
        size_t n1, n2, n3;
        float *le = logits_of(ex, ids, n, &n1), *lb = logits_of(bf, ids, n, &n2);
        float *lb1 = logits_of(bf1, ids, n, &n3);
        ck_assert(n1 == n2 && n2 == n3);
        double worst = 0.0, big = 0.0;
        int differ = 0;
        for (size_t i = 0; i < n1; i++) {
            double d = fabs((double)lb[i] - le[i]);
            worst = d > worst ? d : worst;
            big = fabs(le[i]) > big ? fabs(le[i]) : big;
            differ |= lb[i] != le[i];
        }
        printf("prompt %zu: max |bf16 - exact| logit %.4f (max |logit| %.2f)\n", p, worst, big);
        ck_assert_msg(worst <= LOGIT_BOUND, "prompt %zu: bf16 logits %.4f from exact", p, worst);
        ck_assert_msg(differ, "the bf16 context computed the exact logits");   /* it ran bf16 */
        ck_assert_int_eq(memcmp(lb, lb1, sizeof(float) * n1), 0);   /* 1 and 2 threads */
        free(le);
        free(lb);
        free(lb1);
    }
    difflm_free(ex);
    difflm_free(bf);
    difflm_free(bf1);
    difflm_model_free(m);
}
END_TEST

/* a generation runs to the end, reproducibly, and a batch of two canvases gives each
 * canvas's solo tokens (the products compute each row on its own) */
START_TEST(test_bf16_generates) {
    difflm_model *m = load();
    difflm_ctx *bf = ctx_on(m, DIFFLM_PRECISION_BF16, 2);
    difflm_gen_params g;
    difflm_gen_params_init(&g);
    g.gen_length = quick() ? 8 : 32;
    g.steps = quick() ? 4 : 16;
    difflm_token solo[2][128];
    size_t n_solo[2];
    difflm_token pr[2][64];
    size_t npr[2];
    for (int i = 0; i < 2; i++) {
        npr[i] = 0;
        ck_assert_int_eq(difflm_tokenize(bf, prompts[i], strlen(prompts[i]),
                                         DIFFLM_TOKENIZE_ADD_BOS, pr[i], 64, &npr[i]), DIFFLM_OK);
        ck_assert_int_eq(difflm_generate_begin(bf, pr[i], npr[i], &g), DIFFLM_OK);
        int st;
        while ((st = difflm_generate_step(bf)) == DIFFLM_OK)
            ;
        ck_assert_int_eq(st, DIFFLM_DONE);
        ck_assert_int_eq(difflm_canvas(bf, solo[i], 128, &n_solo[i]), DIFFLM_OK);
    }
    char text[2][512];
    size_t nt[2];
    for (int r = 0; r < 2; r++) {
        ck_assert_int_eq(difflm_sample(bf, prompts[0], &g, text[r], sizeof text[r] - 1, &nt[r]),
                         DIFFLM_OK);
        text[r][nt[r]] = '\0';
    }
    ck_assert_msg(nt[0] > 0 && !strcmp(text[0], text[1]), "'%s' then '%s'", text[0], text[1]);
    const difflm_token *ps[2] = { pr[0], pr[1] };
    ck_assert_int_eq(difflm_batch_begin(bf, ps, npr, 2, NULL, &g), DIFFLM_OK);
    int st;
    while ((st = difflm_batch_step(bf)) == DIFFLM_OK)
        ;
    ck_assert_int_eq(st, DIFFLM_DONE);
    for (int i = 0; i < 2; i++) {
        difflm_token out[128];
        size_t n;
        ck_assert_int_eq(difflm_batch_canvas(bf, (size_t)i, out, 128, &n), DIFFLM_DONE);
        ck_assert_int_eq(n, n_solo[i]);
        ck_assert_msg(!memcmp(out, solo[i], sizeof(difflm_token) * n), "canvas %d of the batch", i);
    }
    difflm_free(bf);
    difflm_model_free(m);
}
END_TEST

/* an older host's struct ends before precision: whatever lies past it, EXACT */
START_TEST(test_old_struct_size) {
    difflm_model *m = load();
    difflm_ctx *ex = ctx_on(m, DIFFLM_PRECISION_EXACT, 2);
    difflm_ctx_params cp;
    difflm_ctx_params_init(&cp);
    cp.n_threads = 2;
    cp.max_canvas = 256;
    cp.precision = DIFFLM_PRECISION_BF16;   /* past the old size: must not be read */
    cp.reserved0 = -7;                      /* the old padding's garbage */
    /* 0.3's sizeof(difflm_ctx_params): 64 on LP64, where precision now starts */
    cp.struct_size = (uint32_t)offsetof(difflm_ctx_params, precision);
    ck_assert(sizeof(void *) != 8 || cp.struct_size == 64);
    int st;
    difflm_ctx *old = difflm_ctx_create(m, &cp, &st);
    ck_assert_msg(old != NULL, "%s", difflm_status_str(st));
    cp.precision = 12345;                   /* not even a valid value */
    difflm_ctx *old2 = difflm_ctx_create(m, &cp, &st);
    ck_assert_msg(old2 != NULL, "%s", difflm_status_str(st));
    difflm_params p;
    difflm_params_init(&p);
    p.model_path = g_model;
    p.n_threads = 2;
    p.max_canvas = 256;
    p.precision = DIFFLM_PRECISION_BF16;
    p.reserved0 = 99;
    p.struct_size = (uint32_t)offsetof(difflm_params, precision);   /* 0.3's: 56 on LP64 */
    ck_assert(sizeof(void *) != 8 || p.struct_size == 56);
    difflm_ctx *old3 = difflm_create(&p, &st);
    ck_assert_msg(old3 != NULL, "%s", difflm_status_str(st));
    difflm_token ids[64];
    const size_t n = quick() ? 16 : 64;
    canvas_of(ex, prompts[0], ids, n);
    size_t n0, n1, n2, n3;
    float *l0 = logits_of(ex, ids, n, &n0), *l1 = logits_of(old, ids, n, &n1);
    float *l2 = logits_of(old2, ids, n, &n2), *l3 = logits_of(old3, ids, n, &n3);
    ck_assert(n0 == n1 && n0 == n2 && n0 == n3);
    ck_assert_int_eq(memcmp(l0, l1, sizeof(float) * n0), 0);
    ck_assert_int_eq(memcmp(l0, l2, sizeof(float) * n0), 0);
    ck_assert_int_eq(memcmp(l0, l3, sizeof(float) * n0), 0);
    /* and the new size with BF16 is not exact (the field is read), whatever reserved0 holds */
    cp.struct_size = sizeof cp;
    cp.precision = DIFFLM_PRECISION_BF16;
    difflm_ctx *bf = difflm_ctx_create(m, &cp, &st);
    ck_assert_ptr_nonnull(bf);
    size_t nb;
    float *lb = logits_of(bf, ids, n, &nb);
    ck_assert(memcmp(l0, lb, sizeof(float) * n0) != 0);
    free(l0);
    free(l1);
    free(l2);
    free(l3);
    free(lb);
    difflm_free(ex);
    difflm_free(old);
    difflm_free(old2);
    difflm_free(old3);
    difflm_free(bf);
    difflm_model_free(m);
}
END_TEST

static difflm_ctx *ctx_packed(difflm_model *m, int32_t precision, int32_t pack) {
    difflm_ctx_params cp;
    difflm_ctx_params_init(&cp);
    cp.max_canvas = 256;
    cp.precision = precision;
    cp.pack_weights = pack;
    int st;
    difflm_ctx *c = difflm_ctx_create(m, &cp, &st);
    ck_assert_msg(c != NULL, "create: %s", difflm_status_str(st));
    return c;
}

static size_t bytes_for(difflm_model *m, int32_t precision, int32_t pack) {
    difflm_ctx_params cp;
    difflm_ctx_params_init(&cp);
    cp.max_canvas = 256;
    cp.precision = precision;
    cp.pack_weights = pack;
    size_t bytes = 0;
    ck_assert_int_eq(difflm_ctx_memory_required(m, &cp, &bytes), DIFFLM_OK);
    return bytes;
}

/* the tokens of a dual-cache generation (its passes run 32 rows: the products' packing
 * per call is largest there) */
static void dual_tokens(difflm_ctx *c, difflm_token *out, size_t cap, size_t *n) {
    difflm_gen_params g;
    difflm_gen_params_init(&g);
    g.gen_length = quick() ? 32 : 64;
    g.steps = g.gen_length;
    g.cache = DIFFLM_CACHE_DUAL;
    difflm_token pr[64];
    size_t np = 0;
    ck_assert_int_eq(difflm_tokenize(c, prompts[1], strlen(prompts[1]), DIFFLM_TOKENIZE_ADD_BOS,
                                     pr, 64, &np), DIFFLM_OK);
    ck_assert_int_eq(difflm_generate_begin(c, pr, np, &g), DIFFLM_OK);
    int st;
    while ((st = difflm_generate_step(c)) == DIFFLM_OK)
        ;
    ck_assert_int_eq(st, DIFFLM_DONE);
    ck_assert_int_eq(difflm_canvas(c, out, cap, n), DIFFLM_OK);
}

/* pack_weights: the float matrices packed once (the bundled model's F16 ones: ~2 bytes
 * per parameter in either precision, the tied embedding being the head too) are counted
 * by difflm_ctx_memory_required until a context has made the model's copy, shared from
 * then on; packed or not, a context computes the same bits (logits, and the tokens of a
 * KV-cached generation); and a model shared with a bf16 context still gives the exact
 * context its own logits. */
START_TEST(test_packed_copy) {
    difflm_model *m = load();
    difflm_model_info info = { .struct_size = sizeof info };
    difflm_ctx *ex_off = ctx_packed(m, DIFFLM_PRECISION_EXACT, DIFFLM_PACK_OFF);
    ck_assert_int_eq(difflm_model_info_get(ex_off, &info), DIFFLM_OK);
    const int32_t prec[2] = { DIFFLM_PRECISION_EXACT, DIFFLM_PRECISION_BF16 };
    for (int i = 0; i < 2; i++) {
        size_t off = bytes_for(m, prec[i], DIFFLM_PACK_OFF), on = bytes_for(m, prec[i], DIFFLM_PACK_ON);
        double per_param = (double)(on - off) / (double)info.n_params;
        ck_assert_msg(on > off && per_param > 1.9 && per_param < 2.3,
                      "precision %d: copy %zu bytes for %llu parameters", (int)prec[i], on - off,
                      (unsigned long long)info.n_params);
        ck_assert_int_eq(bytes_for(m, prec[i], DIFFLM_PACK_AUTO), on);   /* a small model */
    }
    difflm_ctx *ex_on = ctx_packed(m, DIFFLM_PRECISION_EXACT, DIFFLM_PACK_AUTO);
    /* the model holds the exact copy now: a second context adds nothing for it */
    ck_assert_int_eq(bytes_for(m, DIFFLM_PRECISION_EXACT, DIFFLM_PACK_ON),
                     bytes_for(m, DIFFLM_PRECISION_EXACT, DIFFLM_PACK_OFF));
    ck_assert_int_gt(bytes_for(m, DIFFLM_PRECISION_BF16, DIFFLM_PACK_ON),
                     bytes_for(m, DIFFLM_PRECISION_BF16, DIFFLM_PACK_OFF));
    difflm_ctx *ex_on2 = ctx_packed(m, DIFFLM_PRECISION_EXACT, DIFFLM_PACK_ON);
    difflm_ctx *bf_off = ctx_packed(m, DIFFLM_PRECISION_BF16, DIFFLM_PACK_OFF);
    difflm_ctx *bf_on = ctx_packed(m, DIFFLM_PRECISION_BF16, DIFFLM_PACK_AUTO);
    difflm_token ids[32];
    canvas_of(ex_off, prompts[0], ids, 32);
    size_t n[6];
    float *l_off = logits_of(ex_off, ids, 32, &n[0]), *l_on = logits_of(ex_on, ids, 32, &n[1]);
    float *l_on2 = logits_of(ex_on2, ids, 32, &n[2]);
    float *lb_off = logits_of(bf_off, ids, 32, &n[3]), *lb_on = logits_of(bf_on, ids, 32, &n[4]);
    difflm_free(bf_on);   /* the model's bf16 copy stays; the exact contexts are untouched */
    float *after = logits_of(ex_on, ids, 32, &n[5]);
    for (int i = 1; i < 6; i++)
        ck_assert(n[i] == n[0]);
    ck_assert_int_eq(memcmp(l_off, l_on, sizeof(float) * n[0]), 0);
    ck_assert_int_eq(memcmp(l_off, l_on2, sizeof(float) * n[0]), 0);
    ck_assert_int_eq(memcmp(lb_off, lb_on, sizeof(float) * n[0]), 0);
    ck_assert_int_eq(memcmp(l_off, after, sizeof(float) * n[0]), 0);
    ck_assert(memcmp(l_off, lb_on, sizeof(float) * n[0]) != 0);   /* bf16 ran bf16 */
    difflm_token t_off[128], t_on[128];
    size_t nt_off, nt_on;
    dual_tokens(ex_off, t_off, 128, &nt_off);
    dual_tokens(ex_on, t_on, 128, &nt_on);
    ck_assert_uint_eq(nt_off, nt_on);
    ck_assert_int_eq(memcmp(t_off, t_on, sizeof(difflm_token) * nt_off), 0);
    free(l_off);
    free(l_on);
    free(l_on2);
    free(lb_off);
    free(lb_on);
    free(after);
    difflm_free(ex_off);
    difflm_free(ex_on);
    difflm_free(ex_on2);
    difflm_free(bf_off);
    difflm_model_free(m);   /* the copies go with the last context */
}
END_TEST

/* precision and pack_weights as given are refused by difflm_ctx_create,
 * difflm_ctx_memory_required and difflm_create, the message naming the field */
static void check_refused(difflm_model *m, int32_t precision, int32_t pack, const char *field) {
    difflm_ctx_params cp;
    difflm_ctx_params_init(&cp);
    cp.precision = precision;
    cp.pack_weights = pack;
    cp.log_fn = keep_log;
    cp.log_level = DIFFLM_LOG_ERROR;
    g_log[0] = '\0';
    int st = 0;
    ck_assert_ptr_null(difflm_ctx_create(m, &cp, &st));
    ck_assert_int_eq(st, DIFFLM_E_INVALID_ARG);
    ck_assert_msg(strstr(g_log, field) != NULL, "message: '%s'", g_log);
    size_t bytes = 0;
    ck_assert_int_eq(difflm_ctx_memory_required(m, &cp, &bytes), DIFFLM_E_INVALID_ARG);
    difflm_params p;
    difflm_params_init(&p);
    p.model_path = g_model;
    p.precision = precision;
    p.pack_weights = pack;
    p.log_fn = keep_log;
    p.log_level = DIFFLM_LOG_ERROR;
    g_log[0] = '\0';
    st = 0;
    ck_assert_ptr_null(difflm_create(&p, &st));
    ck_assert_int_eq(st, DIFFLM_E_INVALID_ARG);
    ck_assert_msg(strstr(g_log, field) != NULL, "message: '%s'", g_log);
}

START_TEST(test_bad_precision) {
    difflm_model_params mp;
    difflm_model_params_init(&mp);
    mp.path = g_model;
    int st;
    difflm_model *m = difflm_model_load(&mp, &st);
    ck_assert_ptr_nonnull(m);
    const int32_t bad[] = { 2, -1, 100 }, bad_pack[] = { 3, -1, 1000 };
    for (int i = 0; i < 3; i++) {
        check_refused(m, bad[i], DIFFLM_PACK_AUTO, "precision");
        check_refused(m, DIFFLM_PRECISION_EXACT, bad_pack[i], "pack_weights");
    }
    /* the defaults */
    difflm_ctx_params cp;
    difflm_ctx_params_init(&cp);
    difflm_params p;
    difflm_params_init(&p);
    ck_assert_int_eq(cp.precision, DIFFLM_PRECISION_EXACT);
    ck_assert_int_eq(p.precision, DIFFLM_PRECISION_EXACT);
    ck_assert_int_eq(cp.pack_weights, DIFFLM_PACK_AUTO);
    ck_assert_int_eq(p.pack_weights, DIFFLM_PACK_AUTO);
    difflm_model_free(m);
}
END_TEST

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_precision MODEL.gguf\n");
        return 2;
    }
    g_model = argv[1];
    Suite *s = suite_create("precision");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_bf16_logits_bound);
    tcase_add_test(tc, test_bf16_generates);
    tcase_add_test(tc, test_old_struct_size);
    tcase_add_test(tc, test_packed_copy);
    tcase_add_test(tc, test_bad_precision);
    suite_add_tcase(s, tc);
    return dl_run_suite(s);
}
