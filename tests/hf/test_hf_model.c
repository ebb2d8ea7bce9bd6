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

int main(void) {
    Suite *s = suite_create("hf_model");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, folder_equals_gguf, 0, (int)(sizeof k_variants / sizeof k_variants[0]));
    tcase_add_test(tc, bad_configs);
    suite_add_tcase(s, tc);
    return dl_run_suite(s);
}
