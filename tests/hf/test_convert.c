/* test_convert.c - difflm_convert through the public API, on tiny GGUF models
 * (tests/fixtures/model_tiny.c) of LLaDA (MHA), an iLLaDA-like LLaDA (GQA, tied head,
 * mask id 5, 3 shards) and Dream (GQA, biases, 2 shards), rewritten as Hugging Face
 * folders (hf_folder.c):
 *   - the folder converted to F32 holds the fixture's tensors byte for byte (names,
 *     order, types, shapes, LLaDA's q/k permutation), its tokenizer arrays and ids, and
 *     the tokenizer_config.json chat template, which difflm_chat_format then renders;
 *   - greedy generation from the folder, from the converted GGUF and from the fixture
 *     gives the same canvas;
 *   - a folder converted to a preset is byte-identical to the folder converted to F32
 *     and that file converted to the preset (difflm-quantize's path), for several
 *     presets and pure mode, and for any thread count;
 *   - every bad input fails with its status and a message naming the file or tensor,
 *     leaving no file in the output folder (and an existing output untouched);
 *   - a host allocator sees every block freed; cancelling from the callback stops. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_compat.h"
#include "difflm.h"
#include "hf_folder.h"
#include "model_tiny.h"

typedef struct variant {
    const char *what;
    int32_t arch, n_head_kv, tied, mask_id, shards;
} variant;

static const variant k_variants[] = {
    { "llada mha", DIFFLM_ARCH_LLADA, 4, 0, 126, 1 },
    { "illada gqa tied mask 5", DIFFLM_ARCH_LLADA, 2, 1, 5, 3 },
    { "dream", DIFFLM_ARCH_DREAM, 2, 0, 300, 2 },
};

static char g_base[256];        /* the test's scratch folder */
static char g_log[2048];        /* the last ERROR message */

static void on_log(int32_t level, const char *msg, void *user) {
    (void)user;
    if (level == DIFFLM_LOG_ERROR)
        snprintf(g_log, sizeof g_log, "%s", msg);
}

static void sh(const char *fmt, const char *arg) {
    char cmd[800];
    snprintf(cmd, sizeof cmd, fmt, arg);
    ck_assert_int_eq(system(cmd), 0);
}

static int n_files(const char *dir) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (fscanf(p, "%d", &n) != 1)
        n = -1;
    pclose(p);
    return n;
}

static void *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "open %s", path);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *b = malloc((size_t)sz + 1);
    ck_assert_uint_eq(fread(b, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *n = (size_t)sz;
    return b;
}

static int convert(const char *in, const char *out, const char *type, int pure, int threads) {
    difflm_convert_params p;
    difflm_convert_params_init(&p);
    p.input = in;
    p.output = out;
    p.type = type;
    p.pure = pure;
    p.n_threads = threads;
    p.log_fn = on_log;
    g_log[0] = 0;
    return difflm_convert(&p);
}

/* A fixture GGUF at gpath and its folder at dir. */
static void make_model(const variant *v, int seed, const char *gpath, const char *dir) {
    dl_tiny_spec s;
    dl_tiny_spec_init(&s, v->arch);
    s.n_head_kv = v->n_head_kv;
    s.tied = v->tied;
    s.mask_id = v->mask_id;
    s.seed = (uint64_t)seed;
    dl_err err;
    ck_assert_int_eq(dl_tiny_write(&s, gpath, &err), 0);
    dl_gguf *g;
    ck_assert_int_eq(dl_gguf_open(&g, gpath, &err), 0);
    mkdir(dir, 0700);
    hf_folder_opts o = { v->shards, v->mask_id, 1 };
    ck_assert_int_eq(hf_write_folder(g, dir, &o), 0);
    dl_gguf_close(g);
}

static difflm_ctx *open_ctx(const char *path) {
    difflm_params p;
    difflm_params_init(&p);
    p.model_path = path;
    p.n_threads = 2;
    p.max_canvas = 64;
    int st;
    difflm_ctx *c = difflm_create(&p, &st);
    ck_assert_msg(c != NULL, "create %s: %s", path, difflm_status_str(st));
    return c;
}

/* The greedy canvas of a fixed prompt. */
static size_t generate(const char *path, difflm_token *out, size_t cap) {
    difflm_ctx *c = open_ctx(path);
    const char *text = "the cat sat on the mat";
    difflm_token prompt[32];
    size_t n;
    ck_assert_int_eq(difflm_tokenize(c, text, strlen(text), 0, prompt, 32, &n), DIFFLM_OK);
    difflm_gen_params g;
    difflm_gen_params_init(&g);
    g.gen_length = 16;
    g.steps = 8;
    g.block_length = 8;
    ck_assert_int_eq(difflm_generate_begin(c, prompt, n, &g), DIFFLM_OK);
    int st;
    while ((st = difflm_generate_step(c)) == DIFFLM_OK)
        ;
    ck_assert_int_eq(st, DIFFLM_DONE);
    size_t nc;
    ck_assert_int_eq(difflm_canvas(c, out, cap, &nc), DIFFLM_OK);
    difflm_free(c);
    return nc;
}

/* Logits of a fixed canvas (prompt, then MASKs) from a and b, bit for bit. */
static void same_logits(const char *what, const char *a_path, const char *b_path) {
    difflm_ctx *a = open_ctx(a_path), *b = open_ctx(b_path);
    difflm_model_info info = { .struct_size = sizeof info };
    ck_assert_int_eq(difflm_model_info_get(a, &info), DIFFLM_OK);
    difflm_token ids[24];
    size_t n;
    const char *text = "the cat sat on the mat";
    ck_assert_int_eq(difflm_tokenize(a, text, strlen(text), 0, ids, 16, &n), DIFFLM_OK);
    while (n < 24)
        ids[n++] = info.mask_id;
    size_t cap = n * (size_t)info.n_vocab, na, nb;
    float *la = malloc(cap * sizeof *la), *lb = malloc(cap * sizeof *lb);
    ck_assert_int_eq(difflm_logits(a, ids, n, NULL, 0, la, cap, &na), DIFFLM_OK);
    ck_assert_int_eq(difflm_logits(b, ids, n, NULL, 0, lb, cap, &nb), DIFFLM_OK);
    ck_assert_uint_eq(na, nb);
    ck_assert_msg(memcmp(la, lb, na * sizeof *la) == 0, "%s: folder and converted logits differ", what);
    free(la);
    free(lb);
    difflm_free(a);
    difflm_free(b);
}

static void same_tensors(const char *what, const char *a_path, const char *b_path) {
    dl_err err;
    dl_gguf *a, *b;
    ck_assert_int_eq(dl_gguf_open(&a, a_path, &err), 0);
    ck_assert_int_eq(dl_gguf_open(&b, b_path, &err), 0);
    ck_assert_uint_eq(dl_gguf_n_tensors(a), dl_gguf_n_tensors(b));
    for (size_t i = 0; i < dl_gguf_n_tensors(a); i++) {
        const dl_gguf_tensor *x = dl_gguf_tensor_at(a, i), *y = dl_gguf_tensor_at(b, i);
        ck_assert_str_eq(x->name, y->name);
        ck_assert_uint_eq(x->type, y->type);
        ck_assert_uint_eq(x->n_dims, y->n_dims);
        for (int d = 0; d < 4; d++)
            ck_assert_int_eq(x->ne[d], y->ne[d]);
        ck_assert_msg(x->size == y->size && memcmp(x->data, y->data, x->size) == 0,
                      "%s: tensor %s differs", what, x->name);
    }
    const char *arrs[] = { "tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges" };
    for (int k = 0; k < 3; k++) {
        uint32_t e1, e2;
        uint64_t n1, n2;
        ck_assert_int_eq(dl_gguf_get_arr(a, arrs[k], &e1, &n1, &err), 0);
        ck_assert_int_eq(dl_gguf_get_arr(b, arrs[k], &e2, &n2, &err), 0);
        ck_assert_uint_eq(e1, e2);
        ck_assert_uint_eq(n1, n2);
        for (uint64_t i = 0; i < n1; i++) {
            dl_str s1, s2;
            int64_t v1, v2;
            if (e1 == DL_GGUF_STRING) {
                dl_gguf_arr_str(a, arrs[k], i, &s1, &err);
                dl_gguf_arr_str(b, arrs[k], i, &s2, &err);
                ck_assert_msg(s1.n == s2.n && memcmp(s1.p, s2.p, s1.n) == 0, "%s %llu", arrs[k],
                              (unsigned long long)i);
            } else {
                dl_gguf_arr_i64(a, arrs[k], i, &v1, &err);
                dl_gguf_arr_i64(b, arrs[k], i, &v2, &err);
                ck_assert_int_eq(v1, v2);
            }
        }
    }
    const char *u32s[] = { "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                           "tokenizer.ggml.mask_token_id" };
    for (int k = 0; k < 3; k++) {
        uint32_t v1, v2;
        ck_assert_int_eq(dl_gguf_get_u32(a, u32s[k], &v1, &err), 0);
        ck_assert_int_eq(dl_gguf_get_u32(b, u32s[k], &v2, &err), 0);
        ck_assert_uint_eq(v1, v2);
    }
    const char *strs[] = { "general.architecture", "tokenizer.ggml.model", "tokenizer.ggml.pre" };
    for (int k = 0; k < 3; k++) {
        dl_str s1, s2;
        ck_assert_int_eq(dl_gguf_get_str(a, strs[k], &s1, &err), 0);
        ck_assert_int_eq(dl_gguf_get_str(b, strs[k], &s2, &err), 0);
        ck_assert_msg(s1.n == s2.n && memcmp(s1.p, s2.p, s1.n) == 0, "%s", strs[k]);
    }
    dl_gguf_close(a);
    dl_gguf_close(b);
}

static const char k_template_out[] = "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n"
                                     "hi there<|im_end|>\n";

START_TEST(folder_to_gguf) {
    const variant *v = &k_variants[_i];
    char gpath[300], dir[300], out[300];
    snprintf(g_base, sizeof g_base, "/tmp/difflm-conv-%d-%d", (int)getpid(), _i);
    mkdir(g_base, 0700);
    snprintf(gpath, sizeof gpath, "%s/fixture.gguf", g_base);
    snprintf(dir, sizeof dir, "%s/folder", g_base);
    snprintf(out, sizeof out, "%s/converted.gguf", g_base);
    make_model(v, 11 + _i, gpath, dir);
    ck_assert_msg(convert(dir, out, "f32", 0, 2) == DIFFLM_OK, "%s: %s", v->what, g_log);
    same_tensors(v->what, gpath, out);

    /* the chat template is in the file and renders through difflm_chat_format */
    dl_err err;
    dl_gguf *g;
    ck_assert_int_eq(dl_gguf_open(&g, out, &err), 0);
    dl_str tpl;
    ck_assert_int_eq(dl_gguf_get_str(g, "tokenizer.chat_template", &tpl, &err), 0);
    ck_assert_ptr_nonnull(strstr(tpl.p, "<|im_start|>{{ m['role'] }}"));
    dl_gguf_close(g);
    difflm_chat_message msgs[] = { { "user", "hello" }, { "assistant", "hi there" } };
    char text[512];
    size_t n;
    difflm_ctx *c = open_ctx(out);
    ck_assert_int_eq(difflm_chat_format(c, msgs, 2, 0, text, sizeof text, &n), DIFFLM_OK);
    ck_assert_str_eq(text, k_template_out);
    difflm_free(c);
    if (v->arch == DIFFLM_ARCH_LLADA) {   /* the fixture has no template: another format */
        c = open_ctx(gpath);
        ck_assert_int_eq(difflm_chat_format(c, msgs, 2, 0, text, sizeof text, &n), DIFFLM_OK);
        ck_assert_str_ne(text, k_template_out);
        difflm_free(c);
    }

    /* the same logits bit for bit, and the same greedy tokens on all three paths: the
     * folder's tokenizer names fewer ids than the embedding has rows, and those rows are
     * predicted from the folder as from the converted file (which names them [PAD{id}]) */
    same_logits(v->what, dir, out);
    difflm_token a[64], b[64], f[64];
    size_t na = generate(dir, a, 64), nb = generate(out, b, 64), nf = generate(gpath, f, 64);
    ck_assert_uint_eq(na, nb);
    ck_assert_uint_eq(na, nf);
    ck_assert_msg(memcmp(a, b, na * sizeof *a) == 0, "%s: folder and converted differ", v->what);
    ck_assert_msg(memcmp(a, f, na * sizeof *a) == 0, "%s: folder and fixture differ", v->what);

    /* presets: directly from the folder = F32 file, then quantized */
    const struct { const char *type; int pure; } q[] = {
        { "q8_0", 0 }, { "Q4_K_M", 0 }, { "q4_0", 1 }, { "q6_k", 0 }, { "bf16", 0 },
    };
    for (size_t k = 0; k < sizeof q / sizeof q[0]; k++) {
        char direct[320], twostep[320];
        snprintf(direct, sizeof direct, "%s/direct.gguf", g_base);
        snprintf(twostep, sizeof twostep, "%s/twostep.gguf", g_base);
        ck_assert_msg(convert(dir, direct, q[k].type, q[k].pure, (int)k % 3) == DIFFLM_OK, "%s %s: %s",
                      v->what, q[k].type, g_log);
        ck_assert_msg(convert(out, twostep, q[k].type, q[k].pure, 1) == DIFFLM_OK, "%s %s: %s",
                      v->what, q[k].type, g_log);
        size_t n1, n2;
        void *b1 = slurp(direct, &n1), *b2 = slurp(twostep, &n2);
        /* bf16 from the folder keeps llama.cpp's key order (file_type after the name): compare tensors */
        if (strcmp(q[k].type, "bf16") == 0)
            same_tensors(v->arch == DIFFLM_ARCH_DREAM ? "dream bf16" : "llada bf16", direct, twostep);
        else
            ck_assert_msg(n1 == n2 && memcmp(b1, b2, n1) == 0, "%s %s: direct and two-step "
                          "files differ", v->what, q[k].type);
        free(b1);
        free(b2);
        if (strcmp(q[k].type, "Q4_K_M") == 0) {   /* and it runs */
            difflm_token t[64];
            ck_assert_uint_eq(generate(direct, t, 64), na);
        }
    }
    sh("rm -rf '%s'", g_base);
}
END_TEST

/* --- failures */

static void expect_fail(const char *in, const char *out, const char *type, int rc,
                        const char *needle, const char *outdir) {
    int got = convert(in, out, type, 0, 2);
    ck_assert_msg(got == rc && strstr(g_log, needle), "%s -> %s (%s): %d %s, want %d '%s'", in,
                  out, type, got, g_log, rc, needle);
    ck_assert_int_eq(n_files(outdir), 0);
}

START_TEST(bad_inputs) {
    char gpath[300], dir[300], outdir[300], out[320], p[400], moved[420];
    snprintf(g_base, sizeof g_base, "/tmp/difflm-convx-%d", (int)getpid());
    mkdir(g_base, 0700);
    snprintf(gpath, sizeof gpath, "%s/fixture.gguf", g_base);
    snprintf(dir, sizeof dir, "%s/folder", g_base);
    snprintf(outdir, sizeof outdir, "%s/out", g_base);
    mkdir(outdir, 0700);
    snprintf(out, sizeof out, "%s/model.gguf", outdir);
    variant v = { "llada 2 shards", DIFFLM_ARCH_LLADA, 4, 0, 126, 2 };
    make_model(&v, 3, gpath, dir);

    /* arguments */
    expect_fail(dir, out, "q3_k_m", DIFFLM_E_INVALID_ARG, "unknown output type 'q3_k_m'", outdir);
    ck_assert_int_eq(difflm_convert(NULL), DIFFLM_E_INVALID_ARG);
    difflm_convert_params prm;
    difflm_convert_params_init(&prm);
    prm.input = dir;
    prm.output = out;
    prm.struct_size = 8;
    ck_assert_int_eq(difflm_convert(&prm), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(difflm_convert_type_supported("Q5_K_S"), 1);
    ck_assert_int_eq(difflm_convert_type_supported("q4_k"), 1);
    ck_assert_int_eq(difflm_convert_type_supported("iq2_xs"), 0);
    ck_assert_int_eq(difflm_convert_type_supported(NULL), 0);
    /* a missing input, an unwritable output */
    snprintf(p, sizeof p, "%s/nothing-here", g_base);
    expect_fail(p, out, "f16", DIFFLM_E_IO, "nothing-here", outdir);
    snprintf(p, sizeof p, "%s/no-such-dir/model.gguf", g_base);
    expect_fail(dir, p, "q8_0", DIFFLM_E_IO, "no-such-dir/model.gguf", outdir);
    /* a missing shard */
    snprintf(p, sizeof p, "%s/model-00002-of-00002.safetensors", dir);
    snprintf(moved, sizeof moved, "%s.away", p);
    ck_assert_int_eq(rename(p, moved), 0);
    expect_fail(dir, out, "q4_k_m", DIFFLM_E_IO, "model-00002-of-00002.safetensors", outdir);
    ck_assert_int_eq(rename(moved, p), 0);
    /* an unknown architecture */
    snprintf(p, sizeof p, "%s/config.json", dir);
    snprintf(moved, sizeof moved, "%s.away", p);
    ck_assert_int_eq(rename(p, moved), 0);
    FILE *f = fopen(p, "w");
    fputs("{\"model_type\":\"mamba\"}", f);
    fclose(f);
    expect_fail(dir, out, "f32", DIFFLM_E_UNSUPPORTED, "model_type 'mamba'", outdir);
    ck_assert_int_eq(rename(moved, p), 0);
    /* no tokenizer.json */
    snprintf(p, sizeof p, "%s/tokenizer.json", dir);
    snprintf(moved, sizeof moved, "%s.away", p);
    ck_assert_int_eq(rename(p, moved), 0);
    expect_fail(dir, out, "f16", DIFFLM_E_UNSUPPORTED, "tokenizer.json", outdir);
    ck_assert_int_eq(rename(moved, p), 0);

    /* a quantized GGUF without allow_requantize; with it, it converts */
    char q8[320];
    snprintf(q8, sizeof q8, "%s/q8.gguf", g_base);
    ck_assert_int_eq(convert(gpath, q8, "q8_0", 0, 2), DIFFLM_OK);
    expect_fail(q8, out, "q4_0", DIFFLM_E_INVALID_ARG, "tensor 'token_embd.weight' is already Q8_0",
                outdir);
    difflm_convert_params_init(&prm);
    prm.input = q8;
    prm.output = out;
    prm.type = "q4_0";
    prm.allow_requantize = 1;
    ck_assert_int_eq(difflm_convert(&prm), DIFFLM_OK);
    ck_assert_int_eq(unlink(out), 0);
    /* a tensor of a type difflm cannot read: an F32 file whose token_embd is Q8_0 is
     * fine; requantizing a Q8_0 matrix that holds a NaN stops on it */
    size_t n;
    uint8_t *img = slurp(gpath, &n);
    dl_gguf *g;
    dl_err err;
    ck_assert_int_eq(dl_gguf_open_mem(&g, img, n, &err), 0);
    const dl_gguf_tensor *t = dl_gguf_find_tensor(g, "blk.1.ffn_up.weight");
    ck_assert_ptr_nonnull(t);
    float nan = __builtin_nanf("");
    memcpy((uint8_t *)img + ((const uint8_t *)t->data - img) + 4 * 70, &nan, 4);
    dl_gguf_close(g);
    char bad[320];
    snprintf(bad, sizeof bad, "%s/nan.gguf", g_base);
    f = fopen(bad, "wb");
    ck_assert_uint_eq(fwrite(img, 1, n, f), n);
    fclose(f);
    free(img);
    expect_fail(bad, out, "q4_k_m", DIFFLM_E_FORMAT, "tensor 'blk.1.ffn_up.weight': row 1 holds a NaN",
                outdir);

    /* a wrong dtype: the embedding as I32 (same size) */
    snprintf(p, sizeof p, "%s/model-00001-of-00002.safetensors", dir);
    f = fopen(p, "r+b");
    char hdr[4096] = { 0 };
    ck_assert_uint_gt(fread(hdr, 1, sizeof hdr - 1, f), 100);
    char *d = strstr(hdr + 8, "\"dtype\":\"F32\"");
    ck_assert_ptr_nonnull(d);
    fseek(f, (long)(d - hdr) + 9, SEEK_SET);
    fwrite("I32", 1, 3, f);
    fclose(f);
    expect_fail(dir, out, "q8_0", DIFFLM_E_UNSUPPORTED, "dtype I32", outdir);
    sh("rm -rf '%s'", g_base);
}
END_TEST

/* --- cancelling, and the host allocator */

static int cancel_at_5(const difflm_convert_progress *p, void *user) {
    int *seen = user;
    ck_assert_uint_eq(p->struct_size, sizeof *p);
    ck_assert_uint_eq(p->done, (size_t)*seen + 1);
    ck_assert_ptr_nonnull(p->tensor);
    ck_assert_ptr_nonnull(p->type);
    ck_assert_uint_gt(p->out_bytes, 0);
    (*seen)++;
    return p->done == 5;
}

static long g_live, g_allocs;

static void *host_alloc(size_t size, size_t align, void *user) {
    (void)user;
    void *p = aligned_alloc(align < sizeof(void *) ? sizeof(void *) : align,
                            (size + align - 1) / align * align);
    if (p) {
        __atomic_add_fetch(&g_live, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&g_allocs, 1, __ATOMIC_RELAXED);
    }
    return p;
}

static void host_free(void *p, void *user) {
    (void)user;
    if (p)
        __atomic_sub_fetch(&g_live, 1, __ATOMIC_RELAXED);
    free(p);
}

START_TEST(cancel_and_allocator) {
    char gpath[300], dir[300], out[320];
    snprintf(g_base, sizeof g_base, "/tmp/difflm-convc-%d", (int)getpid());
    mkdir(g_base, 0700);
    snprintf(gpath, sizeof gpath, "%s/fixture.gguf", g_base);
    snprintf(dir, sizeof dir, "%s/folder", g_base);
    snprintf(out, sizeof out, "%s/model.gguf", g_base);
    variant v = { "dream", DIFFLM_ARCH_DREAM, 2, 0, 300, 1 };
    make_model(&v, 5, gpath, dir);
    /* an existing output stays as it was when the conversion is cancelled */
    FILE *f = fopen(out, "w");
    fputs("old", f);
    fclose(f);
    int base = n_files(g_base);
    const char *types[] = { "f16", "q5_k_m" };
    for (int k = 0; k < 2; k++) {
        int seen = 0;
        difflm_convert_params p;
        difflm_convert_params_init(&p);
        p.input = dir;
        p.output = out;
        p.type = types[k];
        p.progress_fn = cancel_at_5;
        p.progress_user = &seen;
        p.log_fn = on_log;
        ck_assert_int_eq(difflm_convert(&p), DIFFLM_E_CANCELLED);
        ck_assert_int_eq(seen, 5);
        ck_assert_msg(strstr(g_log, "cancelled"), "%s", g_log);
        ck_assert_int_eq(n_files(g_base), base);
        size_t n;
        char *old = slurp(out, &n);
        ck_assert(n == 3 && memcmp(old, "old", 3) == 0);
        free(old);
    }
    /* everything the call allocates goes through the host's pair and comes back */
    for (int k = 0; k < 2; k++) {
        g_live = g_allocs = 0;
        difflm_convert_params p;
        difflm_convert_params_init(&p);
        p.input = k ? gpath : dir;
        p.output = out;
        p.type = k ? "q4_k_s" : "bf16";
        p.n_threads = 3;
        p.alloc_fn = host_alloc;
        p.free_fn = host_free;
        ck_assert_int_eq(difflm_convert(&p), DIFFLM_OK);
        ck_assert_int_gt(g_allocs, 10);
        ck_assert_int_eq(g_live, 0);
    }
    difflm_convert_params p;
    difflm_convert_params_init(&p);
    p.input = dir;
    p.output = out;
    p.alloc_fn = host_alloc;
    ck_assert_int_eq(difflm_convert(&p), DIFFLM_E_INVALID_ARG);
    sh("rm -rf '%s'", g_base);
}
END_TEST

int main(void) {
    Suite *s = suite_create("convert");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, folder_to_gguf, 0, (int)(sizeof k_variants / sizeof k_variants[0]));
    tcase_add_test(tc, bad_inputs);
    tcase_add_test(tc, cancel_and_allocator);
    suite_add_tcase(s, tc);
    return dl_run_suite(s);
}
