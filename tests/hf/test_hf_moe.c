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
#include "kernels/types.h"
#include "model_tiny.h"

#define N_TOK 45   /* two of llada2's blocks of 32 */

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

/* _i / 2: llada-moe, llada2 (fused query_key_value, partial rotary factor, a dense
 * first layer, groups, expert_bias, a shared expert, routed scaling); _i % 2: F32, BF16 */
START_TEST(moe_folder_equals_gguf) {
    const uint32_t types[] = { DL_TYPE_F32, DL_TYPE_BF16 };
    const int llada2 = _i / 2;
    dl_tiny_spec s;
    dl_tiny_spec_init(&s, llada2 ? DIFFLM_ARCH_LLADA2 : DIFFLM_ARCH_LLADA_MOE);
    s.n_head_kv = 2;
    s.n_expert = 8, s.n_expert_used = 3, s.n_ff_exp = 48;
    if (llada2) {
        /* no diffusion.block_length: the GGUF and the folder both take the row's 32 */
        s.n_layer = 3, s.n_dense_lead = 1, s.n_ff = 80, s.n_ff_shexp = 48;
        s.n_group = 4, s.topk_group = 2, s.routed_scale = 2.5f;
    }
    s.wtype = types[_i % 2];
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
    /* llada-moe: not llada's row, though its model_type says llada */
    ck_assert_ptr_eq(c.arch, dl_arch_by_id(s.arch));
    const dl_hparams *a = &mg->hp, *b = &mh->hp;
    ck_assert_int_eq(a->n_expert, b->n_expert);
    ck_assert_int_eq(a->n_expert_used, b->n_expert_used);
    ck_assert_int_eq(a->n_ff_exp, b->n_ff_exp);
    ck_assert_int_eq(b->n_ff_shexp, s.n_ff_shexp);
    ck_assert_int_eq(b->n_group, s.n_group);
    ck_assert_int_eq(b->topk_group, s.topk_group);
    ck_assert_int_eq(b->n_dense_lead, s.n_dense_lead);
    ck_assert(b->routed_scale == s.routed_scale);
    ck_assert_int_eq(b->n_rot, llada2 ? b->head_dim / 2 : b->head_dim);
    ck_assert_int_eq(b->n_rot, a->n_rot);
    ck_assert_int_eq(b->block_length, llada2 ? 32 : 0);
    ck_assert_int_eq(a->block_length, b->block_length);
    ck_assert_int_eq(b->rope_layout, DL_ROPE_HALF);
    ck_assert_uint_eq(a->n_params, b->n_params);
    /* the views are the folder's tensors in place */
    char name[160];
    if (llada2)
        for (int il = 0; il < b->n_layer; il++) {
            snprintf(name, sizeof name, "model.layers.%d.attention.query_key_value.weight", il);
            const dl_st_tensor *t = dl_st_find(st, name);
            ck_assert_ptr_nonnull(t);
            const dl_layer *L = &mh->layers[il];
            size_t rb = dl_row_bytes(t->t.type, t->t.ne[0]);
            ck_assert_ptr_eq(L->wq.data, t->t.data);
            ck_assert_ptr_eq(L->wk.data, (const uint8_t *)t->t.data + (size_t)L->wq.ne1 * rb);
            ck_assert_ptr_eq(L->wv.data, (const uint8_t *)L->wk.data + (size_t)L->wk.ne1 * rb);
            ck_assert_int_eq(L->wq.ne1 + L->wk.ne1 + L->wv.ne1, t->t.ne[1]);
        }
    for (int il = b->n_dense_lead; il < b->n_layer; il++)
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

/* The published LLaDA2-mini config.json's keys (the fuzz seed llada2-mini.json) give
 * its hyperparameters; keys naming another router or rotary are refused. */
static const char k_llada2_mini[] =
    "{\"architectures\":[\"LLaDA2MoeModelLM\"],\"model_type\":\"llada2_moe\",\"hidden_size\":2048,"
    "\"num_hidden_layers\":20,\"num_attention_heads\":16,\"num_key_value_heads\":4,\"head_dim\":128,"
    "\"intermediate_size\":5120,\"moe_intermediate_size\":512,\"num_experts\":256,"
    "\"num_experts_per_tok\":8,\"num_shared_experts\":1,\"n_group\":8,\"topk_group\":4,"
    "\"routed_scaling_factor\":2.5,\"first_k_dense_replace\":1,\"score_function\":\"sigmoid\","
    "\"norm_topk_prob\":true,\"partial_rotary_factor\":0.5,\"max_position_embeddings\":32768,"
    "\"vocab_size\":157184,\"rope_theta\":600000,\"rms_norm_eps\":1e-06,"
    "\"tie_word_embeddings\":false,\"rope_scaling\":null,\"eos_token_id\":156892}";

static int parse_with(const char *from, const char *to, dl_hf_config *c, dl_err *e) {
    char buf[sizeof k_llada2_mini + 64];
    const char *at = strstr(k_llada2_mini, from);
    ck_assert_ptr_nonnull(at);
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - k_llada2_mini), k_llada2_mini, to,
             at + strlen(from));
    return dl_hf_config_parse(c, buf, strlen(buf), NULL, 0, e);
}

START_TEST(llada2_config) {
    dl_hf_config c;
    dl_err e = { 0 };
    ck_assert_msg(dl_hf_config_parse(&c, k_llada2_mini, strlen(k_llada2_mini), NULL, 0, &e) == 0,
                  "%s", e.msg);
    const dl_hparams *hp = &c.hp;
    ck_assert_ptr_eq(c.arch, dl_arch_by_id(DIFFLM_ARCH_LLADA2));
    ck_assert_int_eq(hp->n_embd, 2048);
    ck_assert_int_eq(hp->n_layer, 20);
    ck_assert_int_eq(hp->n_head, 16);
    ck_assert_int_eq(hp->n_head_kv, 4);
    ck_assert_int_eq(hp->head_dim, 128);
    ck_assert_int_eq(hp->n_rot, 64);
    ck_assert_int_eq(hp->n_ff, 5120);
    ck_assert_int_eq(hp->n_expert, 256);
    ck_assert_int_eq(hp->n_expert_used, 8);
    ck_assert_int_eq(hp->n_ff_exp, 512);
    ck_assert_int_eq(hp->n_ff_shexp, 512);
    ck_assert_int_eq(hp->n_group, 8);
    ck_assert_int_eq(hp->topk_group, 4);
    ck_assert_int_eq(hp->n_dense_lead, 1);
    ck_assert(hp->routed_scale == 2.5f);
    ck_assert_int_eq(hp->block_length, 32);
    ck_assert_int_eq(hp->shift_logits, 0);
    ck_assert_int_eq(hp->n_ctx_train, 32768);
    ck_assert(hp->rope_theta == 600000.0f);
    ck_assert_int_eq(c.tied, 0);
    /* another router, unnormalised weights, an odd rotary width */
    ck_assert_int_eq(parse_with("\"sigmoid\"", "\"softmax\"", &c, &e), DIFFLM_E_UNSUPPORTED);
    ck_assert_msg(strstr(e.msg, "score_function"), "%s", e.msg);
    ck_assert_int_eq(parse_with("\"norm_topk_prob\":true", "\"norm_topk_prob\":false", &c, &e),
                     DIFFLM_E_UNSUPPORTED);
    ck_assert_msg(strstr(e.msg, "norm_topk_prob"), "%s", e.msg);
    ck_assert_int_eq(parse_with("\"partial_rotary_factor\":0.5", "\"partial_rotary_factor\":0.2890625",
                                &c, &e), DIFFLM_E_FORMAT);   /* 37 dimensions */
    ck_assert_int_eq(parse_with("\"n_group\":8", "\"n_group\":3", &c, &e), DIFFLM_E_FORMAT);
    /* without the key, the family's default: half the head turns */
    ck_assert_msg(parse_with("\"partial_rotary_factor\":0.5,", "", &c, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(c.hp.n_rot, 64);
    ck_assert_msg(parse_with("\"partial_rotary_factor\":0.5,", "\"partial_rotary_factor\":1.0,",
                             &c, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(c.hp.n_rot, 128);
    /* a whole-head row refuses a partial factor */
    ck_assert_int_eq(parse_with("\"LLaDA2MoeModelLM\"],\"model_type\":\"llada2_moe\"",
                                "\"LLaDAMoEModelLM\"],\"model_type\":\"llada\"", &c, &e),
                     DIFFLM_E_UNSUPPORTED);
    ck_assert_msg(strstr(e.msg, "partial_rotary_factor"), "%s", e.msg);
}
END_TEST

int main(void) {
    Suite *s = suite_create("hf_moe");
    TCase *tc = tcase_create("folder");
    tcase_add_loop_test(tc, moe_folder_equals_gguf, 0, 4);
    tcase_add_test(tc, llada2_config);
    suite_add_tcase(s, tc);
    return dl_run_suite(s);
}
