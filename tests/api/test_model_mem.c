/* test_model_mem.c - difflm_model_load from a host buffer and from a read callback:
 * logits equal to the file's bit for bit, every truncation of a buffer refused with
 * E_FORMAT, a read callback failing at each of its calls refused with E_IO, and the
 * heap (a counting host allocator) back to zero after every failure.
 *
 *     test_model_mem LLADA.gguf DREAM.gguf SMALL.gguf MULTI_MIB.gguf */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_compat.h"
#include "difflm.h"

static const char *g_paths[4];

typedef struct image {
    unsigned char *data;    /* 32-byte aligned */
    size_t size;
} image;

static image read_image(const char *path) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s", path);
    fseek(f, 0, SEEK_END);
    image im = { NULL, (size_t)ftell(f) };
    fseek(f, 0, SEEK_SET);
    ck_assert(posix_memalign((void **)&im.data, 64, im.size + 64) == 0);
    ck_assert(fread(im.data, 1, im.size, f) == im.size);
    fclose(f);
    return im;
}

/* Host allocator counting live blocks. */
static long g_live;
static void *count_alloc(size_t size, size_t alignment, void *user) {
    (void)user;
    void *p = NULL;
    if (posix_memalign(&p, alignment < sizeof(void *) ? sizeof(void *) : alignment, size) != 0)
        return NULL;
    g_live++;
    return p;
}
static void count_free(void *ptr, void *user) {
    (void)user;
    if (ptr)
        g_live--;
    free(ptr);
}

typedef struct reader {
    const image *im;
    int calls, fail_at;     /* the fail_at-th call (0-based) fails; -1: never */
} reader;

static int read_cb(void *user, uint64_t offset, void *dst, size_t n) {
    reader *r = user;
    if (r->calls++ == r->fail_at || offset + n > r->im->size)
        return -1;
    memcpy(dst, r->im->data + offset, n);
    return 0;
}

static difflm_model *load(const char *path, const void *data, size_t size, reader *rd,
                          int *st) {
    difflm_model_params p;
    difflm_model_params_init(&p);
    p.path = path;
    p.data = data;
    p.size = size;
    p.read_fn = rd ? read_cb : NULL;
    p.read_user = rd;
    p.alloc_fn = count_alloc;
    p.free_fn = count_free;
    return difflm_model_load(&p, st);
}

static float *logits_of(difflm_model *m, size_t *n_out) {
    difflm_ctx_params cp;
    difflm_ctx_params_init(&cp);
    cp.max_canvas = 16;
    cp.n_threads = 2;
    int st = 0;
    difflm_ctx *c = difflm_ctx_create(m, &cp, &st);
    ck_assert_msg(c != NULL, "%d", st);
    difflm_model_info info = { .struct_size = sizeof info };
    ck_assert_int_eq(difflm_model_info_get(c, &info), DIFFLM_OK);
    difflm_token ids[12];
    for (int i = 0; i < 12; i++)
        ids[i] = (i * 37 + 3) % info.n_vocab;
    ids[4] = info.mask_id;
    size_t cap = 12 * (size_t)info.n_vocab;
    float *out = malloc(cap * sizeof *out);
    ck_assert_int_eq(difflm_logits(c, ids, 12, NULL, 0, out, cap, n_out), DIFFLM_OK);
    difflm_free(c);
    return out;
}

START_TEST(buffer_and_reader_equal_file) {
    for (int i = 0; i < 2; i++) {
        image im = read_image(g_paths[i]);
        int st = 0;
        difflm_model *mf = load(g_paths[i], NULL, 0, NULL, &st);
        difflm_model *mb = load(NULL, im.data, im.size, NULL, &st);
        ck_assert_msg(mb != NULL, "buffer: %d", st);
        reader rd = { &im, 0, -1 };
        difflm_model *mr = load(NULL, NULL, im.size, &rd, &st);
        ck_assert_msg(mr != NULL, "reader: %d", st);
        size_t nf, nb, nr;
        float *lf = logits_of(mf, &nf), *lb = logits_of(mb, &nb), *lr = logits_of(mr, &nr);
        ck_assert(nf == nb && nf == nr && nf > 0);
        ck_assert(memcmp(lf, lb, nf * sizeof *lf) == 0);
        ck_assert(memcmp(lf, lr, nf * sizeof *lf) == 0);
        free(lf);
        free(lb);
        free(lr);
        difflm_model_free(mf);
        difflm_model_free(mb);
        difflm_model_free(mr);
        ck_assert_int_eq(g_live, 0);
        free(im.data);
    }
}
END_TEST

START_TEST(every_truncation_fails) {
    image im = read_image(g_paths[2]);
    for (size_t n = 0; n < im.size; n++) {
        int st = 0;
        difflm_model *m = load(NULL, im.data, n, NULL, &st);
        ck_assert_msg(m == NULL && st == DIFFLM_E_FORMAT, "truncated to %zu of %zu: status %d",
                      n, im.size, st);
        ck_assert_msg(g_live == 0, "truncated to %zu: %ld blocks left", n, g_live);
    }
    int st = 0;
    difflm_model *m = load(NULL, im.data, im.size, NULL, &st);
    ck_assert_msg(m != NULL, "%d", st);
    difflm_model_free(m);
    free(im.data);
}
END_TEST

START_TEST(reader_failing_at_each_call) {
    image im = read_image(g_paths[3]);
    const int calls = (int)((im.size + (1u << 20) - 1) >> 20);
    ck_assert(calls >= 2);
    for (int k = 0; k < calls; k++) {
        reader rd = { &im, 0, k };
        int st = 0;
        difflm_model *m = load(NULL, NULL, im.size, &rd, &st);
        ck_assert_msg(m == NULL && st == DIFFLM_E_IO, "failing call %d: status %d", k, st);
        ck_assert_int_eq(rd.calls, k + 1);
        ck_assert_int_eq(g_live, 0);
    }
    reader rd = { &im, 0, -1 };
    int st = 0;
    difflm_model *m = load(NULL, NULL, im.size, &rd, &st);
    ck_assert_msg(m != NULL, "%d", st);
    ck_assert_int_eq(rd.calls, calls);
    ck_assert(g_live > 0);   /* the image lives in the host's heap */
    difflm_model_free(m);
    ck_assert_int_eq(g_live, 0);
    free(im.data);
}
END_TEST

START_TEST(bad_sources) {
    image im = read_image(g_paths[2]);
    int st = 0;
    ck_assert_ptr_null(load(NULL, NULL, 0, NULL, &st));          /* none */
    ck_assert_int_eq(st, DIFFLM_E_INVALID_ARG);
    reader rd = { &im, 0, -1 };
    ck_assert_ptr_null(load(g_paths[2], im.data, im.size, NULL, &st));   /* two */
    ck_assert_int_eq(st, DIFFLM_E_INVALID_ARG);
    ck_assert_ptr_null(load(NULL, im.data, im.size, &rd, &st));
    ck_assert_int_eq(st, DIFFLM_E_INVALID_ARG);
    memmove(im.data + 8, im.data, im.size);                     /* misaligned */
    ck_assert_ptr_null(load(NULL, im.data + 8, im.size, NULL, &st));
    ck_assert_int_eq(st, DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(g_live, 0);
    /* An older, smaller params struct (0.2's layout) still loads a file. */
    difflm_model_params p;
    difflm_model_params_init(&p);
    p.path = g_paths[2];
    p.struct_size = (uint32_t)(offsetof(difflm_model_params, alloc_user) + sizeof(void *));
    difflm_model *m = difflm_model_load(&p, &st);
    ck_assert_msg(m != NULL, "%d", st);
    difflm_model_free(m);
    free(im.data);
}
END_TEST

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: test_model_mem LLADA DREAM SMALL MULTI_MIB\n");
        return 2;
    }
    for (int i = 0; i < 4; i++)
        g_paths[i] = argv[i + 1];
    Suite *s = suite_create("model-mem");
    TCase *tc = tcase_create("model-mem");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, buffer_and_reader_equal_file);
    tcase_add_test(tc, every_truncation_fails);
    tcase_add_test(tc, reader_failing_at_each_call);
    tcase_add_test(tc, bad_sources);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
