/* test_arch.c - the architecture table (lib/model/arch.c) is consistent, its schema
 * reads back what it writes (lib/model/hparams.c), and the loader follows a row's
 * flags: refused tensors and kinds without kernels are E_UNSUPPORTED by name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check_compat.h"
#include "fmt/gguf.h"
#include "model/model.h"
#include "model_tiny.h"

static const int32_t k_ids[] = { DIFFLM_ARCH_LLADA, DIFFLM_ARCH_DREAM, DIFFLM_ARCH_LLADA_MOE };
#define N_IDS (sizeof k_ids / sizeof k_ids[0])

START_TEST(test_rows_consistent) {
    char list[128];
    dl_arch_list(list, sizeof list);
    for (size_t i = 0; i < N_IDS; i++) {
        const dl_arch *a = dl_arch_by_id(k_ids[i]);
        ck_assert_ptr_nonnull(a);
        ck_assert_int_eq(a->id, k_ids[i]);
        ck_assert_ptr_eq(dl_arch_find(a->name, strlen(a->name)), a);
        ck_assert_msg(strstr(list, a->name), "'%s' not in '%s'", a->name, list);
        ck_assert_int_eq(dl_arch_check(a, NULL), 0);
        ck_assert_ptr_nonnull(a->tok_pre);
        ck_assert(a->ref_rope_theta > 1.0f && a->ref_rms_eps > 0.0f);
        for (int t = 0; t < DL_T_COUNT; t++) {
            const dl_tensor_desc *d = dl_tensor_desc_get((dl_tensor_id)t);
            unsigned use = a->tensors[t];
            ck_assert_ptr_nonnull(d->name);
            ck_assert_int_eq(d->per_layer, t >= DL_T_FIRST_LAYER);
            ck_assert_int_eq(strstr(d->name, "%d") != NULL, d->per_layer);
            if (use & DL_TU_REQUIRED)
                ck_assert_msg(use & DL_TU_LOAD, "%s: %s required but not loaded", a->name, d->name);
            if (use & DL_TU_REFUSE) {
                ck_assert_msg(!(use & (DL_TU_LOAD | DL_TU_WRITE)), "%s: %s", a->name, d->name);
                ck_assert_ptr_nonnull(d->what);
            }
            if (use & (DL_TU_LOAD | DL_TU_WRITE))
                ck_assert_msg(d->ne[0] != DL_DIM_NONE && d->ne[1] != DL_DIM_NONE, "%s", d->name);
        }
    }
    ck_assert_ptr_null(dl_arch_find("gpt2", 4));
    ck_assert_ptr_null(dl_arch_find("lla", 3));
    ck_assert_ptr_null(dl_arch_by_id(0));
    /* tensor names are unique */
    for (int t = 0; t < DL_T_COUNT; t++)
        for (int u = t + 1; u < DL_T_COUNT; u++)
            ck_assert_str_ne(dl_tensor_desc_get((dl_tensor_id)t)->name,
                             dl_tensor_desc_get((dl_tensor_id)u)->name);
}
END_TEST

START_TEST(test_names) {
    char buf[96];
    const dl_arch *a = dl_arch_by_id(DIFFLM_ARCH_LLADA);
    ck_assert_str_eq(dl_arch_key(a, DL_KEY_BLOCK_COUNT, buf, sizeof buf), "llada.block_count");
    ck_assert_str_eq(dl_arch_key(a, DL_KEY_RMS_EPS, buf, sizeof buf),
                     "llada.attention.layer_norm_rms_epsilon");
    ck_assert_str_eq(dl_arch_key(a, DL_KEY_SHIFT_LOGITS, buf, sizeof buf), "diffusion.shift_logits");
    ck_assert_str_eq(dl_tensor_name(DL_T_ATTN_Q, 3, buf, sizeof buf), "blk.3.attn_q.weight");
    ck_assert_str_eq(dl_tensor_name(DL_T_OUTPUT, 3, buf, sizeof buf), "output.weight");
}
END_TEST

/* A row naming a kind the forward pass lacks is refused before anything is read. */
START_TEST(test_check_refuses_missing_kernels) {
    dl_arch a = *dl_arch_by_id(DIFFLM_ARCH_LLADA);
    dl_err e = { 0 };
    a.ffn = DL_FFN_MOE;   /* an MoE row must name its router */
    ck_assert_int_eq(dl_arch_check(&a, &e), DIFFLM_E_UNSUPPORTED);
    ck_assert_msg(strstr(e.msg, "router") && strstr(e.msg, "llada"), "%s", e.msg);
    a.router = DL_ROUTER_SOFTMAX;
    ck_assert_int_eq(dl_arch_check(&a, &e), 0);
    a.ffn = DL_FFN_DENSE;
    a.mask = DL_MASK_BLOCK_CAUSAL;   /* the block mask has its kernel (layers.c) */
    ck_assert_int_eq(dl_arch_check(&a, &e), 0);
    a.mask = DL_MASK_KINDS;
    ck_assert_int_eq(dl_arch_check(&a, &e), DIFFLM_E_UNSUPPORTED);
    ck_assert_msg(strstr(e.msg, "unknown attention mask"), "%s", e.msg);
    a.mask = DL_MASK_BIDIRECTIONAL;
    a.qk_norm = 1;   /* QK norm has its kernel (layers.c) */
    ck_assert_int_eq(dl_arch_check(&a, &e), 0);
    a.qk_norm = 0;
    a.rope_partial = 1;   /* hparams.c would accept a short rope.dimension_count */
    ck_assert_int_eq(dl_arch_check(&a, &e), DIFFLM_E_UNSUPPORTED);
    ck_assert_msg(strstr(e.msg, "partial RoPE"), "%s", e.msg);
}
END_TEST

static void roundtrip(const dl_arch *a, const dl_hparams *in, unsigned flags, int want_lengths) {
    dl_gguf_writer *w = dl_gguf_writer_new();
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(dl_hparams_write(w, a, in, flags), 0);
    void *buf;
    size_t n;
    dl_err e = { 0 };
    ck_assert_int_eq(dl_gguf_writer_to_buffer(w, &buf, &n, &e), 0);
    dl_gguf *g;
    ck_assert_int_eq(dl_gguf_open_mem(&g, buf, n, &e), 0);
    char key[96];
    ck_assert_int_eq(dl_gguf_find_key(g, dl_arch_key(a, DL_KEY_KEY_LENGTH, key, sizeof key)) >= 0,
                     want_lengths);
    ck_assert_int_eq(dl_gguf_find_key(g, dl_arch_key(a, DL_KEY_SHIFT_LOGITS, key, sizeof key)) >= 0,
                     !(flags & DL_HP_WRITE_NO_SHIFT_KEY));
    dl_hparams out;
    memset(&out, 0, sizeof out);
    ck_assert_msg(dl_hparams_read(&out, a, g, NULL, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(out.arch, a->id);
    ck_assert_int_eq(out.n_embd, in->n_embd);
    ck_assert_int_eq(out.n_layer, in->n_layer);
    ck_assert_int_eq(out.n_head, in->n_head);
    ck_assert_int_eq(out.n_head_kv, in->n_head_kv);
    ck_assert_int_eq(out.head_dim, in->head_dim);
    ck_assert_int_eq(out.n_rot, in->n_rot);
    ck_assert_int_eq(out.n_ff, in->n_ff);
    ck_assert_int_eq(out.n_ctx_train, in->n_ctx_train);
    ck_assert(out.rms_eps == in->rms_eps && out.rope_theta == in->rope_theta);
    /* without the key the loader assumes shifted logits, as llama.cpp does */
    ck_assert_int_eq(out.shift_logits, flags & DL_HP_WRITE_NO_SHIFT_KEY ? 1 : in->shift_logits);
    ck_assert_int_eq(out.rope_layout, a->rope);
    ck_assert_int_eq(out.n_expert, in->n_expert);
    ck_assert_int_eq(out.n_expert_used, in->n_expert_used);
    ck_assert_int_eq(out.n_ff_exp, in->n_ff_exp);
    ck_assert_int_eq(out.n_ff_shexp, in->n_ff_shexp);
    ck_assert_int_eq(out.n_group, in->n_group);
    ck_assert_int_eq(out.topk_group, in->topk_group);
    ck_assert_int_eq(out.n_dense_lead, in->n_dense_lead);
    ck_assert(out.routed_scale == in->routed_scale);
    dl_gguf_close(g);
    free(buf);
    dl_gguf_writer_free(w);
}

START_TEST(test_hparams_roundtrip) {
    for (size_t i = 0; i < N_IDS; i++) {
        const dl_arch *a = dl_arch_by_id(k_ids[i]);
        dl_hparams hp = {
            .n_vocab = 300, .n_embd = 64, .n_layer = 3, .n_head = 8, .n_head_kv = 2,
            .head_dim = 8, .n_rot = 8, .n_ff = 96, .n_ctx_train = 4096,
            .rms_eps = a->ref_rms_eps, .rope_theta = a->ref_rope_theta,
            .shift_logits = a->shift_logits, .n_group = 1, .topk_group = 1,
            .routed_scale = 1.0f,
        };
        if (a->ffn == DL_FFN_MOE) {
            hp.n_expert = 8;
            hp.n_expert_used = 3;
            hp.n_ff_exp = 24;
        }
        roundtrip(a, &hp, 0, 0);
        roundtrip(a, &hp, DL_HP_WRITE_HEAD_LENGTHS | DL_HP_WRITE_NO_SHIFT_KEY, 1);
        hp.head_dim = hp.n_rot = 16;   /* not n_embd / n_head: the lengths must be written */
        roundtrip(a, &hp, 0, 1);
    }
}
END_TEST

static int load_status(const dl_tiny_spec *s, dl_err *e) {
    void *buf;
    size_t n;
    dl_gguf *g;
    dl_model *m = NULL;
    ck_assert_int_eq(dl_tiny_to_buffer(s, &buf, &n, e), 0);
    ck_assert_int_eq(dl_gguf_open_mem(&g, buf, n, e), 0);
    int rc = dl_model_load(&m, g, NULL, e);
    if (rc == 0) {
        ck_assert_ptr_eq(m->arch, dl_arch_by_id(s->arch));
        ck_assert_int_eq(m->hp.arch, s->arch);
    }
    dl_model_free(m);
    dl_gguf_close(g);
    free(buf);
    return rc;
}

/* Every row's own files load; a fused q/k/v tensor is refused by name even when the
 * separate ones are there (a file difflm would otherwise half-read). */
START_TEST(test_loader_follows_rows) {
    for (size_t i = 0; i < N_IDS; i++) {
        dl_tiny_spec s;
        dl_err e = { 0 };
        dl_tiny_spec_init(&s, k_ids[i]);
        ck_assert_msg(load_status(&s, &e) == 0, "%s", e.msg);
        s.extra_tensor = "blk.1.attn_qkv.weight";
        ck_assert_int_eq(load_status(&s, &e), DIFFLM_E_UNSUPPORTED);
        ck_assert_msg(strstr(e.msg, "blk.1.attn_qkv.weight") && strstr(e.msg, "fused"), "%s", e.msg);
    }
    /* a tensor no row knows is ignored, as before the table */
    dl_tiny_spec s;
    dl_err e = { 0 };
    dl_tiny_spec_init(&s, DIFFLM_ARCH_LLADA);
    s.extra_tensor = "blk.0.attn_q_norm.weight";
    ck_assert_msg(load_status(&s, &e) == 0, "%s", e.msg);
}
END_TEST

int main(void) {
    Suite *s = suite_create("arch");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, test_rows_consistent);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_check_refuses_missing_kernels);
    tcase_add_test(tc, test_hparams_roundtrip);
    tcase_add_test(tc, test_loader_follows_rows);
    suite_add_tcase(s, tc);
    return dl_run_suite(s);
}
