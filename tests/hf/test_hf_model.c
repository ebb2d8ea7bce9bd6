/* test_hf_model.c - a Hugging Face folder against the GGUF it was made from: tiny GGUF
 * models (tests/fixtures/model_tiny.c) of LLaDA (MHA), an iLLaDA-like LLaDA (GQA, tied
 * head, mask id 5) and Dream (GQA, q/k/v biases) are rewritten as folders with HF names,
 * HF q/k row order and config.json / generation_config.json (hf_folder.c); the folder's
 * model must give the GGUF model's hidden states and logits bit for bit (F32), and the
 * same within half-precision rounding for BF16 and F16 folders of BF16 and F16 GGUFs
 * (bitwise too: the same bytes are widened the same way). A control run with the
 * GGUF's adjacent RoPE pairs on the HF rows must differ, so the match proves the
 * layout is handled, not that RoPE does nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_compat.h"
#include "hf_folder.h"
#include "model/hf_config.h"
#include "model/hf_convert.h"
#include "model/model.h"
#include "model_tiny.h"

typedef struct variant {
    const char *what;
    int32_t arch, n_head_kv, tied, mask_id, shards;
    uint32_t wtype;
} variant;

static const variant k_variants[] = {
    { "llada mha", DIFFLM_ARCH_LLADA, 4, 0, 126, 1, DL_TYPE_F32 },
    { "illada gqa tied mask 5", DIFFLM_ARCH_LLADA, 2, 1, 5, 3, DL_TYPE_F32 },
    { "dream", DIFFLM_ARCH_DREAM, 2, 0, 300, 2, DL_TYPE_F32 },
    { "llada bf16", DIFFLM_ARCH_LLADA, 4, 0, 126, 1, DL_TYPE_BF16 },
    { "dream f16", DIFFLM_ARCH_DREAM, 2, 0, 300, 1, DL_TYPE_F16 },
};
#define N_TOK 24

/* hidden states and logits of every row */
static void run(const dl_model *m, float **hid, float **lg) {
    int32_t tok[N_TOK], rows[N_TOK];
    for (int i = 0; i < N_TOK; i++) {
        tok[i] = (i * 37 + 11) % m->hp.n_vocab;
        rows[i] = i;
    }
    tok[5] = tok[9] = 5;
    void *scr = aligned_alloc(64, (dl_model_scratch_size(m, N_TOK) + 63) / 64 * 64);
    void *ls = aligned_alloc(64, (dl_model_logits_scratch_size(m, N_TOK) + 63) / 64 * 64);
    *hid = malloc(sizeof(float) * N_TOK * (size_t)m->hp.n_embd);
    *lg = malloc(sizeof(float) * N_TOK * (size_t)m->hp.n_vocab);
    dl_err err;
    ck_assert_int_eq(dl_model_forward(m, scr, tok, N_TOK, *hid, NULL, &err), 0);
    dl_model_logits(m, ls, *hid, rows, N_TOK, *lg);
    free(scr);
    free(ls);
}

static char g_dir[256];
static int g_progress;

static void progress(size_t done, size_t total, const char *name, void *user) {
    (void)user;
    (void)name;
    ck_assert_uint_le(done, total);
    g_progress++;
}

/* no file but the folder's own is left in it */
static int n_files(void) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "ls '%s' | wc -l", g_dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (fscanf(p, "%d", &n) != 1)
        n = -1;
    pclose(p);
    return n;
}

static void rm_dir(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(folder_equals_gguf) {
    const variant *v = &k_variants[_i];
    dl_tiny_spec s;
    dl_tiny_spec_init(&s, v->arch);
    s.n_head_kv = v->n_head_kv;
    s.tied = v->tied;
    s.mask_id = v->mask_id;
    s.wtype = v->wtype;
    s.seed = 7 + (uint64_t)_i;
    void *buf;
    size_t n;
    dl_err err;
    ck_assert_int_eq(dl_tiny_to_buffer(&s, &buf, &n, &err), 0);
    dl_gguf *g;
    ck_assert_int_eq(dl_gguf_open_mem(&g, buf, n, &err), 0);
    dl_model *mg;
    ck_assert_int_eq(dl_model_load(&mg, g, NULL, &err), 0);

    snprintf(g_dir, sizeof g_dir, "/tmp/difflm-hf-%d-%d", (int)getpid(), _i);
    mkdir(g_dir, 0700);
    hf_folder_opts o = { v->shards, v->mask_id, 1 };
    ck_assert_int_eq(hf_write_folder(g, g_dir, &o), 0);
    dl_model *mh;
    dl_st *st;
    dl_hf_config c;
    /* the folder's config.json names it just as well */
    char cfg[300];
    snprintf(cfg, sizeof cfg, "%s/config.json", g_dir);
    char dir[300];
    ck_assert_int_eq(dl_hf_is_folder(cfg, dir, sizeof dir), 1);
    ck_assert_str_eq(dir, g_dir);
    int rc = dl_hf_model_load(&mh, &st, &c, dir, &err);
    ck_assert_msg(rc == 0, "%s: %s", v->what, err.msg);
    ck_assert_uint_eq(dl_st_n_files(st), (size_t)v->shards);

    /* the same hyperparameters, with the HF row order of q/k for LLaDA */
    const dl_hparams *a = &mg->hp, *b = &mh->hp;
    ck_assert_int_eq(a->n_vocab, b->n_vocab);
    ck_assert_int_eq(a->n_embd, b->n_embd);
    ck_assert_int_eq(a->n_layer, b->n_layer);
    ck_assert_int_eq(a->n_head, b->n_head);
    ck_assert_int_eq(a->n_head_kv, b->n_head_kv);
    ck_assert_int_eq(a->n_ff, b->n_ff);
    ck_assert_int_eq(a->n_ctx_train, b->n_ctx_train);
    ck_assert_float_eq(a->rms_eps, b->rms_eps);
    ck_assert_float_eq(a->rope_theta, b->rope_theta);
    ck_assert_int_eq(a->shift_logits, b->shift_logits);
    ck_assert_int_eq(a->tied_output, b->tied_output);
    ck_assert_int_eq(b->tied_output, v->tied);
    ck_assert_uint_eq(a->n_params, b->n_params);
    ck_assert_int_eq(b->rope_layout, v->arch == DIFFLM_ARCH_LLADA ? DL_ROPE_HALF_TO_PAIRS : DL_ROPE_HALF);
    ck_assert_int_eq(c.mask_id, v->mask_id);
    ck_assert_int_eq(c.n_eos, 2);
    ck_assert_int_eq(c.eos[0], 1);
    ck_assert_int_eq(c.eos[1], 4);
    ck_assert_uint_eq(mh->tok_embd.type, v->wtype);
    /* weights stay in the mapping */
    const dl_st_tensor *te = dl_st_find(st, v->arch == DIFFLM_ARCH_LLADA ? "model.transformer.wte.weight"
                                                                     : "model.embed_tokens.weight");
    ck_assert_ptr_eq(mh->tok_embd.data, te->t.data);

    float *hg, *lgg, *hh, *lgh;
    run(mg, &hg, &lgg);
    run(mh, &hh, &lgh);
    size_t nh = sizeof(float) * N_TOK * (size_t)a->n_embd, nl = sizeof(float) * N_TOK * (size_t)a->n_vocab;
    ck_assert_msg(memcmp(hg, hh, nh) == 0, "%s: hidden states differ", v->what);
    ck_assert_msg(memcmp(lgg, lgh, nl) == 0, "%s: logits differ", v->what);
    /* control: the GGUF's pairing on the HF rows is wrong (LLaDA only) */
    if (v->arch == DIFFLM_ARCH_LLADA) {
        mh->hp.rope_layout = DL_ROPE_PAIRS;
        float *hx, *lx;
        run(mh, &hx, &lx);
        ck_assert_msg(memcmp(lgg, lx, nl) != 0, "%s: RoPE layout made no difference", v->what);
        free(hx);
        free(lx);
    }

    /* the folder converted back: the fixture's tensors, tokenizer and logits */
    char out[400];
    snprintf(out, sizeof out, "%s/out.gguf", g_dir);
    g_progress = 0;
    rc = dl_hf_convert(g_dir, out, v->wtype, progress, NULL, &err);
    ck_assert_msg(rc == 0, "%s: convert: %s", v->what, err.msg);
    ck_assert_int_gt(g_progress, 10);
    dl_gguf *gc;
    ck_assert_int_eq(dl_gguf_open(&gc, out, &err), 0);
    ck_assert_uint_eq(dl_gguf_n_tensors(gc), dl_gguf_n_tensors(g));
    for (size_t i = 0; i < dl_gguf_n_tensors(g); i++) {
        const dl_gguf_tensor *x = dl_gguf_tensor_at(g, i), *y = dl_gguf_tensor_at(gc, i);
        ck_assert_str_eq(x->name, y->name);
        ck_assert_uint_eq(x->type, y->type);
        ck_assert_uint_eq(x->n_dims, y->n_dims);
        for (int d = 0; d < 4; d++)
            ck_assert_int_eq(x->ne[d], y->ne[d]);
        ck_assert_msg(x->size == y->size && memcmp(x->data, y->data, x->size) == 0,
                      "%s: tensor %s differs", v->what, x->name);
    }
    const char *arrs[] = { "tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges" };
    for (int k = 0; k < 3; k++) {
        uint32_t e1, e2;
        uint64_t n1, n2;
        ck_assert_int_eq(dl_gguf_get_arr(g, arrs[k], &e1, &n1, &err), 0);
        ck_assert_int_eq(dl_gguf_get_arr(gc, arrs[k], &e2, &n2, &err), 0);
        ck_assert_uint_eq(e1, e2);
        ck_assert_uint_eq(n1, n2);
        for (uint64_t i = 0; i < n1; i++) {
            if (e1 == DL_GGUF_STRING) {
                dl_str a1, a2;
                dl_gguf_arr_str(g, arrs[k], i, &a1, &err);
                dl_gguf_arr_str(gc, arrs[k], i, &a2, &err);
                ck_assert_msg(a1.n == a2.n && memcmp(a1.p, a2.p, a1.n) == 0, "%s %llu", arrs[k],
                              (unsigned long long)i);
            } else {
                int64_t a1, a2;
                dl_gguf_arr_i64(g, arrs[k], i, &a1, &err);
                dl_gguf_arr_i64(gc, arrs[k], i, &a2, &err);
                ck_assert_int_eq(a1, a2);
            }
        }
    }
    const char *ids[] = { "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                          "tokenizer.ggml.mask_token_id" };
    for (int k = 0; k < 3; k++) {
        uint32_t a1, a2;
        ck_assert_int_eq(dl_gguf_get_u32(g, ids[k], &a1, &err), 0);
        ck_assert_int_eq(dl_gguf_get_u32(gc, ids[k], &a2, &err), 0);
        ck_assert_uint_eq(a1, a2);
    }
    dl_str pre, tpl;
    ck_assert_int_eq(dl_gguf_get_str(gc, "tokenizer.ggml.pre", &pre, &err), 0);
    ck_assert_int_eq(dl_gguf_get_str(gc, "tokenizer.chat_template", &tpl, &err), 0);
    dl_model *mc;
    ck_assert_int_eq(dl_model_load(&mc, gc, NULL, &err), 0);
    ck_assert_int_eq(mc->hp.shift_logits, mg->hp.shift_logits);
    float *hc, *lc;
    run(mc, &hc, &lc);
    ck_assert_msg(memcmp(lgg, lc, nl) == 0, "%s: converted logits differ", v->what);
    free(hc);
    free(lc);
    dl_model_free(mc);
    dl_gguf_close(gc);

    free(hg);
    free(lgg);
    free(hh);
    free(lgh);
    dl_model_free(mh);
    dl_st_close(st);
    dl_model_free(mg);
    dl_gguf_close(g);
    free(buf);
    rm_dir();
}
END_TEST

static void write_file(const char *name, const char *text) {
    char p[400];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
}

START_TEST(bad_configs) {
    snprintf(g_dir, sizeof g_dir, "/tmp/difflm-hfc-%d", (int)getpid());
    mkdir(g_dir, 0700);
    dl_hf_config c;
    dl_err err;
    ck_assert_int_eq(dl_hf_config_read(&c, g_dir, &err), DIFFLM_E_IO);
    ck_assert_msg(strstr(err.msg, "config.json' is missing"), "%s", err.msg);
    const struct { const char *json; int rc; const char *needle; } cases[] = {
        { "{\"model_type\":\"gpt2\"}", DIFFLM_E_UNSUPPORTED, "model_type 'gpt2'" },
        { "{\"d_model\":64}", DIFFLM_E_FORMAT, "'model_type' is missing" },
        { "[1]", DIFFLM_E_FORMAT, "not a JSON object" },
        { "{\"model_type\":\"llada\",\"model_type\":\"Dream\"}", DIFFLM_E_FORMAT, "duplicate" },
        { "{\"model_type\":\"llada\",\"d_model\":64,\"n_layers\":2,\"n_heads\":4}", DIFFLM_E_FORMAT,
          "'mlp_hidden_size' is missing" },
        { "{\"model_type\":\"llada\",\"d_model\":64,\"n_layers\":-2,\"n_heads\":4,\"mlp_hidden_size\":8}",
          DIFFLM_E_FORMAT, "'n_layers' = -2" },
        { "{\"model_type\":\"llada\",\"d_model\":64,\"n_layers\":2,\"n_heads\":4,\"n_kv_heads\":3,"
          "\"mlp_hidden_size\":8}", DIFFLM_E_FORMAT, "do not divide" },
        { "{\"model_type\":\"Dream\",\"hidden_size\":64,\"num_hidden_layers\":2,\"num_attention_heads\":4,"
          "\"intermediate_size\":8,\"max_position_embeddings\":64,\"rope_scaling\":{\"type\":\"yarn\"}}",
          DIFFLM_E_UNSUPPORTED, "rope_scaling" },
        { "{\"model_type\":\"Dream\",\"hidden_size\":64,\"num_hidden_layers\":2,\"num_attention_heads\":4,"
          "\"intermediate_size\":8,\"max_position_embeddings\":64,\"rope_theta\":\"big\"}",
          DIFFLM_E_FORMAT, "'rope_theta' is not a number" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file("config.json", cases[i].json);
        int rc = dl_hf_config_read(&c, g_dir, &err);
        ck_assert_msg(rc == cases[i].rc && strstr(err.msg, cases[i].needle), "%s: %d %s",
                      cases[i].json, rc, err.msg);
    }
    /* a config without weights */
    write_file("config.json", "{\"model_type\":\"Dream\",\"hidden_size\":64,\"num_hidden_layers\":2,"
               "\"num_attention_heads\":4,\"intermediate_size\":8,\"max_position_embeddings\":64}");
    dl_model *m;
    dl_st *st;
    ck_assert_int_eq(dl_hf_model_load(&m, &st, &c, g_dir, &err), DIFFLM_E_IO);
    ck_assert_msg(strstr(err.msg, "model.safetensors"), "%s", err.msg);
    write_file("generation_config.json", "{\"eos_token_id\":[1,\"x\"]}");
    ck_assert_int_eq(dl_hf_config_read(&c, g_dir, &err), DIFFLM_E_FORMAT);
    ck_assert_msg(strstr(err.msg, "generation_config.json': key 'eos_token_id'"), "%s", err.msg);
    rm_dir();
}
END_TEST

START_TEST(convert_failures) {
    dl_tiny_spec s;
    dl_tiny_spec_init(&s, DIFFLM_ARCH_LLADA);
    void *buf;
    size_t n;
    dl_err err;
    ck_assert_int_eq(dl_tiny_to_buffer(&s, &buf, &n, &err), 0);
    dl_gguf *g;
    ck_assert_int_eq(dl_gguf_open_mem(&g, buf, n, &err), 0);
    snprintf(g_dir, sizeof g_dir, "/tmp/difflm-hfx-%d", (int)getpid());
    mkdir(g_dir, 0700);
    hf_folder_opts o = { 2, 126, 1 };
    ck_assert_int_eq(hf_write_folder(g, g_dir, &o), 0);
    int base = n_files();
    char out[400], p[400];
    snprintf(out, sizeof out, "%s/out.gguf", g_dir);
    ck_assert_int_eq(dl_hf_convert(g_dir, out, 12345, NULL, NULL, &err), DIFFLM_E_INVALID_ARG);
    /* a missing shard */
    snprintf(p, sizeof p, "%s/model-00002-of-00002.safetensors", g_dir);
    char moved[420];
    snprintf(moved, sizeof moved, "%s.away", p);
    ck_assert_int_eq(rename(p, moved), 0);
    ck_assert_int_eq(dl_hf_convert(g_dir, out, DL_TYPE_F32, NULL, NULL, &err), DIFFLM_E_IO);
    ck_assert_msg(strstr(err.msg, "model-00002-of-00002.safetensors"), "%s", err.msg);
    ck_assert_int_eq(n_files(), base);
    ck_assert_int_eq(rename(moved, p), 0);
    /* an unknown architecture */
    snprintf(p, sizeof p, "%s/config.json", g_dir);
    snprintf(moved, sizeof moved, "%s.away", p);
    ck_assert_int_eq(rename(p, moved), 0);
    write_file("config.json", "{\"model_type\":\"mamba\"}");
    ck_assert_int_eq(dl_hf_convert(g_dir, out, DL_TYPE_F32, NULL, NULL, &err), DIFFLM_E_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "model_type 'mamba'"), "%s", err.msg);
    ck_assert_int_eq(rename(moved, p), 0);
    /* a wrong dtype: the embedding as I32 (same size) */
    ck_assert_int_eq(n_files(), base);
    snprintf(p, sizeof p, "%s/model-00001-of-00002.safetensors", g_dir);
    FILE *f = fopen(p, "r+b");
    char hdr[4096] = { 0 };
    ck_assert_uint_gt(fread(hdr, 1, sizeof hdr - 1, f), 100);
    char *d = strstr(hdr + 8, "\"dtype\":\"F32\"");
    ck_assert_ptr_nonnull(d);
    fseek(f, (long)(d - hdr) + 9, SEEK_SET);
    fwrite("I32", 1, 3, f);
    fclose(f);
    ck_assert_int_eq(dl_hf_convert(g_dir, out, DL_TYPE_F32, NULL, NULL, &err), DIFFLM_E_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "dtype I32"), "%s", err.msg);
    ck_assert_int_eq(n_files(), base);
    dl_gguf_close(g);
    free(buf);
    rm_dir();
}
END_TEST

int main(void) {
    Suite *s = suite_create("hf_model");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, folder_equals_gguf, 0, (int)(sizeof k_variants / sizeof k_variants[0]));
    tcase_add_test(tc, bad_configs);
    tcase_add_test(tc, convert_failures);
    suite_add_tcase(s, tc);
    return dl_run_suite(s);
}
