/* test_hf_moe.c - LLaDA-MoE from a Hugging Face folder: a tiny llada-moe GGUF rewritten
 * as a folder (hf_folder.c: one safetensors tensor per expert, LLaDAMoEConfig's keys, the
 * architectures entry LLaDAMoEModelLM beside llada's model_type) must load into the same
 * hyperparameters and give the GGUF's hidden states bit for bit, with every expert view
 * pointing into the safetensors mapping (never copied). */
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

#define N_TOK 29

static float *hidden(const dl_model *m) {
    int32_t tok[N_TOK];
    for (int i = 0; i < N_TOK; i++)
        tok[i] = (i * 53 + 7) % m->hp.n_vocab;
    void *scr = aligned_alloc(64, (dl_model_scratch_size(m, N_TOK) + 63) / 64 * 64);
    float *h = malloc(sizeof(float) * N_TOK * (size_t)m->hp.n_embd);
    dl_err err;
    ck_assert_int_eq(dl_model_forward(m, scr, tok, N_TOK, h, NULL, &err), 0);
    free(scr);
    return h;
}

START_TEST(moe_folder_equals_gguf) {
    const uint32_t types[] = { DL_TYPE_F32, DL_TYPE_BF16 };
    dl_tiny_spec s;
    dl_tiny_spec_init(&s, DIFFLM_ARCH_LLADA_MOE);
    s.n_head_kv = 2;
    s.n_expert = 8, s.n_expert_used = 3, s.n_ff_exp = 48;
    s.wtype = types[_i];
    s.seed = 21;
    void *buf;
    size_t n;
    dl_err err;
    ck_assert_int_eq(dl_tiny_to_buffer(&s, &buf, &n, &err), 0);
    dl_gguf *g;
    ck_assert_int_eq(dl_gguf_open_mem(&g, buf, n, &err), 0);
    dl_model *mg;
    ck_assert_msg(dl_model_load(&mg, g, NULL, &err) == 0, "%s", err.msg);

    char dir[256];
    snprintf(dir, sizeof dir, "/tmp/difflm-hfmoe-%d-%d", (int)getpid(), _i);
    mkdir(dir, 0700);
    hf_folder_opts o = { 2, 5, 1 };
    ck_assert_int_eq(hf_write_folder(g, dir, &o), 0);
    dl_model *mh;
    dl_st *st;
    dl_hf_config c;
    int rc = dl_hf_model_load(&mh, &st, &c, dir, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert_ptr_eq(c.arch, dl_arch_by_id(DIFFLM_ARCH_LLADA_MOE));   /* not llada's row */
    const dl_hparams *a = &mg->hp, *b = &mh->hp;
    ck_assert_int_eq(a->n_expert, b->n_expert);
    ck_assert_int_eq(a->n_expert_used, b->n_expert_used);
    ck_assert_int_eq(a->n_ff_exp, b->n_ff_exp);
    ck_assert_int_eq(b->n_ff_shexp, 0);
    ck_assert_int_eq(b->n_group, 1);
    ck_assert_int_eq(b->n_dense_lead, 0);
    ck_assert(b->routed_scale == 1.0f);
    ck_assert_int_eq(b->rope_layout, DL_ROPE_HALF);
    ck_assert_uint_eq(a->n_params, b->n_params);
    /* the views are the folder's tensors in place */
    char name[160];
    for (int il = 0; il < b->n_layer; il++)
        for (int e = 0; e < b->n_expert; e++) {
            snprintf(name, sizeof name, "model.layers.%d.mlp.experts.%d.down_proj.weight", il, e);
            const dl_st_tensor *t = dl_st_find(st, name);
            ck_assert_ptr_nonnull(t);
            ck_assert_ptr_eq(mh->layers[il].exp_down[e].data, t->t.data);
        }
    float *hg = hidden(mg), *hh = hidden(mh);
    ck_assert_msg(memcmp(hg, hh, sizeof(float) * N_TOK * (size_t)a->n_embd) == 0,
                  "hidden states differ");
    free(hg);
    free(hh);
    dl_model_free(mh);
    dl_st_close(st);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    dl_model_free(mg);
    dl_gguf_close(g);
    free(buf);
}
END_TEST

int main(void) {
    Suite *s = suite_create("hf_moe");
    TCase *tc = tcase_create("folder");
    tcase_add_loop_test(tc, moe_folder_equals_gguf, 0, 2);
    suite_add_tcase(s, tc);
    return dl_run_suite(s);
}
