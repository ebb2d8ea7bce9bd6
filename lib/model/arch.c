/* arch.c - the architecture rows, and the one spelling of every key and tensor name
 * (see arch.h). Names follow llama.cpp's converters (convert_hf_to_gguf.py, LLM_KV_* and
 * LLM_TENSOR_*), so that files written by either side read on the other. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "model/arch.h"
#include "model/model.h"

static const char *const k_key_fmt[DL_KEY_COUNT] = {
    [DL_KEY_CONTEXT_LENGTH] = "%s.context_length",
    [DL_KEY_EMBEDDING_LENGTH] = "%s.embedding_length",
    [DL_KEY_BLOCK_COUNT] = "%s.block_count",
    [DL_KEY_FEED_FORWARD_LENGTH] = "%s.feed_forward_length",
    [DL_KEY_HEAD_COUNT] = "%s.attention.head_count",
    [DL_KEY_HEAD_COUNT_KV] = "%s.attention.head_count_kv",
    [DL_KEY_KEY_LENGTH] = "%s.attention.key_length",
    [DL_KEY_VALUE_LENGTH] = "%s.attention.value_length",
    [DL_KEY_RMS_EPS] = "%s.attention.layer_norm_rms_epsilon",
    [DL_KEY_ROPE_FREQ_BASE] = "%s.rope.freq_base",
    [DL_KEY_ROPE_DIMENSION_COUNT] = "%s.rope.dimension_count",
    [DL_KEY_VOCAB_SIZE] = "%s.vocab_size",
    [DL_KEY_CAUSAL] = "%s.attention.causal",
    [DL_KEY_SHIFT_LOGITS] = "diffusion.shift_logits",
    [DL_KEY_EXPERT_COUNT] = "%s.expert_count",
    [DL_KEY_EXPERT_USED_COUNT] = "%s.expert_used_count",
    [DL_KEY_EXPERT_FEED_FORWARD_LENGTH] = "%s.expert_feed_forward_length",
    [DL_KEY_EXPERT_SHARED_COUNT] = "%s.expert_shared_count",
    [DL_KEY_EXPERT_SHARED_FEED_FORWARD_LENGTH] = "%s.expert_shared_feed_forward_length",
    [DL_KEY_EXPERT_WEIGHTS_SCALE] = "%s.expert_weights_scale",
    [DL_KEY_EXPERT_WEIGHTS_NORM] = "%s.expert_weights_norm",
    [DL_KEY_EXPERT_GATING_FUNC] = "%s.expert_gating_func",
    [DL_KEY_EXPERT_GROUP_COUNT] = "%s.expert_group_count",
    [DL_KEY_EXPERT_GROUP_USED_COUNT] = "%s.expert_group_used_count",
    [DL_KEY_LEADING_DENSE_BLOCK_COUNT] = "%s.leading_dense_block_count",
    [DL_KEY_BLOCK_LENGTH] = "diffusion.block_length",
};

#define G(field) (uint16_t)offsetof(dl_model, field)
#define L(field) (uint16_t)offsetof(dl_layer, field)
static const dl_tensor_desc k_tensors[DL_T_COUNT] = {
    [DL_T_TOKEN_EMBD] = { "token_embd.weight", 0, DL_TK_MATRIX, { DL_DIM_EMBD, DL_DIM_VOCAB, DL_DIM_1 }, G(tok_embd), NULL },
    [DL_T_OUTPUT_NORM] = { "output_norm.weight", 0, DL_TK_NORM, { DL_DIM_EMBD, DL_DIM_1, DL_DIM_1 }, G(output_norm), NULL },
    [DL_T_OUTPUT] = { "output.weight", 0, DL_TK_MATRIX, { DL_DIM_EMBD, DL_DIM_VOCAB, DL_DIM_1 }, G(output), NULL },
    [DL_T_OUTPUT_BIAS] = { "output.bias", 0, DL_TK_BIAS, { DL_DIM_VOCAB, DL_DIM_1, DL_DIM_1 }, G(output_bias), NULL },
    [DL_T_ATTN_NORM] = { "blk.%d.attn_norm.weight", 1, DL_TK_NORM, { DL_DIM_EMBD, DL_DIM_1, DL_DIM_1 }, L(attn_norm), NULL },
    [DL_T_ATTN_Q] = { "blk.%d.attn_q.weight", 1, DL_TK_MATRIX, { DL_DIM_EMBD, DL_DIM_Q, DL_DIM_1 }, L(wq), NULL },
    [DL_T_ATTN_K] = { "blk.%d.attn_k.weight", 1, DL_TK_MATRIX, { DL_DIM_EMBD, DL_DIM_KV, DL_DIM_1 }, L(wk), NULL },
    [DL_T_ATTN_V] = { "blk.%d.attn_v.weight", 1, DL_TK_MATRIX, { DL_DIM_EMBD, DL_DIM_KV, DL_DIM_1 }, L(wv), NULL },
    [DL_T_ATTN_Q_BIAS] = { "blk.%d.attn_q.bias", 1, DL_TK_BIAS, { DL_DIM_Q, DL_DIM_1, DL_DIM_1 }, L(bq), NULL },
    [DL_T_ATTN_K_BIAS] = { "blk.%d.attn_k.bias", 1, DL_TK_BIAS, { DL_DIM_KV, DL_DIM_1, DL_DIM_1 }, L(bk), NULL },
    [DL_T_ATTN_V_BIAS] = { "blk.%d.attn_v.bias", 1, DL_TK_BIAS, { DL_DIM_KV, DL_DIM_1, DL_DIM_1 }, L(bv), NULL },
    [DL_T_ATTN_OUT] = { "blk.%d.attn_output.weight", 1, DL_TK_MATRIX, { DL_DIM_Q, DL_DIM_EMBD, DL_DIM_1 }, L(wo), NULL },
    [DL_T_FFN_NORM] = { "blk.%d.ffn_norm.weight", 1, DL_TK_NORM, { DL_DIM_EMBD, DL_DIM_1, DL_DIM_1 }, L(ffn_norm), NULL },
    [DL_T_FFN_GATE] = { "blk.%d.ffn_gate.weight", 1, DL_TK_MATRIX, { DL_DIM_EMBD, DL_DIM_FF, DL_DIM_1 }, L(w_gate), NULL, DL_TG_DENSE_FFN },
    [DL_T_FFN_UP] = { "blk.%d.ffn_up.weight", 1, DL_TK_MATRIX, { DL_DIM_EMBD, DL_DIM_FF, DL_DIM_1 }, L(w_up), NULL, DL_TG_DENSE_FFN },
    [DL_T_FFN_DOWN] = { "blk.%d.ffn_down.weight", 1, DL_TK_MATRIX, { DL_DIM_FF, DL_DIM_EMBD, DL_DIM_1 }, L(w_down), NULL, DL_TG_DENSE_FFN },
    [DL_T_ATTN_QKV] = { "blk.%d.attn_qkv.weight", 1, DL_TK_MATRIX, { DL_DIM_NONE, DL_DIM_NONE, DL_DIM_NONE }, 0, "fused q/k/v", 0 },
    /* llama.cpp's LLM_TENSOR_ATTN_Q_NORM .. LLM_TENSOR_FFN_DOWN_SHEXP */
    [DL_T_ATTN_Q_NORM] = { "blk.%d.attn_q_norm.weight", 1, DL_TK_NORM, { DL_DIM_HEAD, DL_DIM_1, DL_DIM_1 }, L(q_norm), NULL, 0 },
    [DL_T_ATTN_K_NORM] = { "blk.%d.attn_k_norm.weight", 1, DL_TK_NORM, { DL_DIM_HEAD, DL_DIM_1, DL_DIM_1 }, L(k_norm), NULL, 0 },
    [DL_T_FFN_GATE_INP] = { "blk.%d.ffn_gate_inp.weight", 1, DL_TK_MATRIX, { DL_DIM_EMBD, DL_DIM_EXPERT, DL_DIM_1 }, L(router), NULL, DL_TG_MOE },
    [DL_T_FFN_EXP_PROBS_B] = { "blk.%d.exp_probs_b.bias", 1, DL_TK_BIAS, { DL_DIM_EXPERT, DL_DIM_1, DL_DIM_1 }, L(router_bias), NULL, DL_TG_MOE },
    [DL_T_FFN_GATE_EXPS] = { "blk.%d.ffn_gate_exps.weight", 1, DL_TK_EXPERTS, { DL_DIM_EMBD, DL_DIM_FF_EXP, DL_DIM_EXPERT }, L(exp_gate), NULL, DL_TG_MOE },
    [DL_T_FFN_UP_EXPS] = { "blk.%d.ffn_up_exps.weight", 1, DL_TK_EXPERTS, { DL_DIM_EMBD, DL_DIM_FF_EXP, DL_DIM_EXPERT }, L(exp_up), NULL, DL_TG_MOE },
    [DL_T_FFN_DOWN_EXPS] = { "blk.%d.ffn_down_exps.weight", 1, DL_TK_EXPERTS, { DL_DIM_FF_EXP, DL_DIM_EMBD, DL_DIM_EXPERT }, L(exp_down), NULL, DL_TG_MOE },
    [DL_T_FFN_GATE_SHEXP] = { "blk.%d.ffn_gate_shexp.weight", 1, DL_TK_MATRIX, { DL_DIM_EMBD, DL_DIM_FF_SHEXP, DL_DIM_1 }, L(sh_gate), NULL, DL_TG_MOE },
    [DL_T_FFN_UP_SHEXP] = { "blk.%d.ffn_up_shexp.weight", 1, DL_TK_MATRIX, { DL_DIM_EMBD, DL_DIM_FF_SHEXP, DL_DIM_1 }, L(sh_up), NULL, DL_TG_MOE },
    [DL_T_FFN_DOWN_SHEXP] = { "blk.%d.ffn_down_shexp.weight", 1, DL_TK_MATRIX, { DL_DIM_FF_SHEXP, DL_DIM_EMBD, DL_DIM_1 }, L(sh_down), NULL, DL_TG_MOE },
};
#undef G
#undef L

/* The tensors of a dense pre-norm llama-style block: every one required. */
#define LR (DL_TU_LOAD | DL_TU_REQUIRED | DL_TU_WRITE)
#define DENSE_BLOCK                                                                        \
    [DL_T_TOKEN_EMBD] = LR, [DL_T_OUTPUT_NORM] = LR,                                       \
    [DL_T_OUTPUT] = DL_TU_LOAD | DL_TU_WRITE,   /* absent: the head is token_embd */       \
    [DL_T_OUTPUT_BIAS] = DL_TU_LOAD,            /* no published file has one */            \
    [DL_T_ATTN_NORM] = LR, [DL_T_ATTN_Q] = LR, [DL_T_ATTN_K] = LR, [DL_T_ATTN_V] = LR,     \
    [DL_T_ATTN_OUT] = LR, [DL_T_FFN_NORM] = LR, [DL_T_FFN_GATE] = LR, [DL_T_FFN_UP] = LR,  \
    [DL_T_FFN_DOWN] = LR, [DL_T_ATTN_QKV] = DL_TU_REFUSE

static const dl_arch k_arch[] = {
    {
        /* LLaDA-8B (GSAI-ML): llama-style, MHA, no biases, unshifted logits. llama.cpp's
         * converter permutes q/k as for llama, so RoPE pairs adjacent dimensions. */
        .id = DIFFLM_ARCH_LLADA,
        .name = "llada",
        .rope = DL_ROPE_PAIRS,
        .qk_permuted = 1,
        .mask = DL_MASK_BIDIRECTIONAL,
        .norm = DL_NORM_RMS,
        .ffn = DL_FFN_DENSE,
        .shift_logits = 0,
        .tensors = { DENSE_BLOCK },
        .schedule = DIFFLM_SCHEDULE_BLOCKS,
        .mask_id = -1,
        .tok_pre = "llama-bpe",
        .add_bos = 1,
        .ref_rope_theta = 500000.0f,
        .ref_rms_eps = 1e-5f,
        /* OLMo-style names of the LLaDA remote code (LLaDAModelLM.model.transformer) */
        .hf_model_type = "llada",
        .hf_names = {
            [DL_T_TOKEN_EMBD] = "model.transformer.wte.weight",
            [DL_T_OUTPUT_NORM] = "model.transformer.ln_f.weight",
            [DL_T_OUTPUT] = "model.transformer.ff_out.weight",
            [DL_T_ATTN_NORM] = "model.transformer.blocks.%d.attn_norm.weight",
            [DL_T_ATTN_Q] = "model.transformer.blocks.%d.q_proj.weight",
            [DL_T_ATTN_K] = "model.transformer.blocks.%d.k_proj.weight",
            [DL_T_ATTN_V] = "model.transformer.blocks.%d.v_proj.weight",
            [DL_T_ATTN_OUT] = "model.transformer.blocks.%d.attn_out.weight",
            [DL_T_FFN_NORM] = "model.transformer.blocks.%d.ff_norm.weight",
            [DL_T_FFN_GATE] = "model.transformer.blocks.%d.ff_proj.weight",
            [DL_T_FFN_UP] = "model.transformer.blocks.%d.up_proj.weight",
            [DL_T_FFN_DOWN] = "model.transformer.blocks.%d.ff_out.weight",
            [DL_T_ATTN_QKV] = "model.transformer.blocks.%d.att_proj.weight",
        },
    },
    {
        /* Dream-v0 7B (Qwen2.5 weights): GQA, q/k/v biases, NeoX RoPE on unpermuted q/k,
         * logits shifted by one as the autoregressive model it starts from. */
        .id = DIFFLM_ARCH_DREAM,
        .name = "dream",
        .rope = DL_ROPE_HALF,
        .qk_permuted = 0,
        .mask = DL_MASK_BIDIRECTIONAL,
        .norm = DL_NORM_RMS,
        .ffn = DL_FFN_DENSE,
        .shift_logits = 1,
        .tensors = { DENSE_BLOCK,
                     [DL_T_ATTN_Q_BIAS] = DL_TU_LOAD | DL_TU_WRITE,
                     [DL_T_ATTN_K_BIAS] = DL_TU_LOAD | DL_TU_WRITE,
                     [DL_T_ATTN_V_BIAS] = DL_TU_LOAD | DL_TU_WRITE },
        .schedule = DIFFLM_SCHEDULE_TIMESTEPS,
        .mask_id = -1,
        .tok_pre = "qwen2",
        .add_bos = 0,
        .ref_rope_theta = 1000000.0f,
        .ref_rms_eps = 1e-6f,
        /* plain Qwen2 names */
        .hf_model_type = "Dream",
        .hf_names = {
            [DL_T_TOKEN_EMBD] = "model.embed_tokens.weight",
            [DL_T_OUTPUT_NORM] = "model.norm.weight",
            [DL_T_OUTPUT] = "lm_head.weight",
            [DL_T_OUTPUT_BIAS] = "lm_head.bias",
            [DL_T_ATTN_NORM] = "model.layers.%d.input_layernorm.weight",
            [DL_T_ATTN_Q] = "model.layers.%d.self_attn.q_proj.weight",
            [DL_T_ATTN_K] = "model.layers.%d.self_attn.k_proj.weight",
            [DL_T_ATTN_V] = "model.layers.%d.self_attn.v_proj.weight",
            [DL_T_ATTN_Q_BIAS] = "model.layers.%d.self_attn.q_proj.bias",
            [DL_T_ATTN_K_BIAS] = "model.layers.%d.self_attn.k_proj.bias",
            [DL_T_ATTN_V_BIAS] = "model.layers.%d.self_attn.v_proj.bias",
            [DL_T_ATTN_OUT] = "model.layers.%d.self_attn.o_proj.weight",
            [DL_T_FFN_NORM] = "model.layers.%d.post_attention_layernorm.weight",
            [DL_T_FFN_GATE] = "model.layers.%d.mlp.gate_proj.weight",
            [DL_T_FFN_UP] = "model.layers.%d.mlp.up_proj.weight",
            [DL_T_FFN_DOWN] = "model.layers.%d.mlp.down_proj.weight",
        },
    },
    {
        /* LLaDA-MoE-7B-A1B (inclusionAI): OLMoE-shaped, MHA, QK RMSNorm per head before
         * NeoX RoPE (q/k not permuted), every layer MoE: softmax router over all experts,
         * top-k, no renormalisation. Keys and names of llama.cpp's LLaDAMoEModel
         * converter and src/models/llada-moe.cpp. */
        .id = DIFFLM_ARCH_LLADA_MOE,
        .name = "llada-moe",
        .rope = DL_ROPE_HALF,
        .qk_permuted = 0,
        .qk_norm = 1,
        .mask = DL_MASK_BIDIRECTIONAL,
        .norm = DL_NORM_RMS,
        .ffn = DL_FFN_MOE,
        .router = DL_ROUTER_SOFTMAX,
        .shift_logits = 0,
        .tensors = { [DL_T_TOKEN_EMBD] = LR, [DL_T_OUTPUT_NORM] = LR,
                     [DL_T_OUTPUT] = LR,   /* llama.cpp requires output.weight */
                     [DL_T_ATTN_NORM] = LR, [DL_T_ATTN_Q] = LR, [DL_T_ATTN_K] = LR,
                     [DL_T_ATTN_V] = LR, [DL_T_ATTN_OUT] = LR, [DL_T_FFN_NORM] = LR,
                     [DL_T_ATTN_Q_NORM] = LR, [DL_T_ATTN_K_NORM] = LR,
                     [DL_T_FFN_GATE_INP] = LR, [DL_T_FFN_GATE_EXPS] = LR,
                     [DL_T_FFN_UP_EXPS] = LR, [DL_T_FFN_DOWN_EXPS] = LR,
                     [DL_T_ATTN_QKV] = DL_TU_REFUSE },
        .schedule = DIFFLM_SCHEDULE_BLOCKS,
        .mask_id = 156895,   /* llama.cpp's converter hard-codes it */
        .tok_pre = "llada-moe",
        .add_bos = 0,
        .ref_rope_theta = 50000.0f,
        .ref_rms_eps = 1e-5f,
        .hf_model_type = "lladamoe",
        .hf_architecture = "LLaDAMoEModelLM",
        .hf_names = {
            [DL_T_TOKEN_EMBD] = "model.embed_tokens.weight",
            [DL_T_OUTPUT_NORM] = "model.norm.weight",
            [DL_T_OUTPUT] = "lm_head.weight",
            [DL_T_ATTN_NORM] = "model.layers.%d.input_layernorm.weight",
            [DL_T_ATTN_Q] = "model.layers.%d.self_attn.q_proj.weight",
            [DL_T_ATTN_K] = "model.layers.%d.self_attn.k_proj.weight",
            [DL_T_ATTN_V] = "model.layers.%d.self_attn.v_proj.weight",
            [DL_T_ATTN_OUT] = "model.layers.%d.self_attn.o_proj.weight",
            [DL_T_ATTN_Q_NORM] = "model.layers.%d.self_attn.q_norm.weight",
            [DL_T_ATTN_K_NORM] = "model.layers.%d.self_attn.k_norm.weight",
            [DL_T_FFN_NORM] = "model.layers.%d.post_attention_layernorm.weight",
            [DL_T_FFN_GATE_INP] = "model.layers.%d.mlp.gate.weight",
            [DL_T_FFN_GATE_EXPS] = "model.layers.%d.mlp.experts.%d.gate_proj.weight",
            [DL_T_FFN_UP_EXPS] = "model.layers.%d.mlp.experts.%d.up_proj.weight",
            [DL_T_FFN_DOWN_EXPS] = "model.layers.%d.mlp.experts.%d.down_proj.weight",
        },
    },
};
#undef DENSE_BLOCK
#undef LR
#define N_ARCH (sizeof k_arch / sizeof k_arch[0])

const dl_arch *dl_arch_find(const char *name, size_t n) {
    for (size_t i = 0; i < N_ARCH; i++)
        if (strlen(k_arch[i].name) == n && memcmp(k_arch[i].name, name, n) == 0)
            return &k_arch[i];
    return NULL;
}

const dl_arch *dl_arch_find_hf(const char *model_type) {
    for (size_t i = 0; i < N_ARCH; i++)
        if (k_arch[i].hf_model_type && strcasecmp(k_arch[i].hf_model_type, model_type) == 0)
            return &k_arch[i];
    return NULL;
}

const dl_arch *dl_arch_find_hf_architecture(const char *name) {
    for (size_t i = 0; i < N_ARCH; i++)
        if (k_arch[i].hf_architecture && strcmp(k_arch[i].hf_architecture, name) == 0)
            return &k_arch[i];
    return NULL;
}

const char *dl_tensor_hf_expert_name(const dl_arch *a, dl_tensor_id t, int layer, int expert,
                                     char *buf, size_t cap) {
    const char *f = a->hf_names[t];
    if (!f)
        return NULL;
    if (k_tensors[t].kind == DL_TK_EXPERTS)
        snprintf(buf, cap, f, layer, expert);
    else if (k_tensors[t].per_layer)
        snprintf(buf, cap, f, layer);
    else
        snprintf(buf, cap, "%s", f);
    return buf;
}

const char *dl_tensor_hf_name(const dl_arch *a, dl_tensor_id t, int layer, char *buf, size_t cap) {
    return dl_tensor_hf_expert_name(a, t, layer, 0, buf, cap);
}

int dl_arch_layer_has(const dl_arch *a, int32_t n_dense_lead, dl_tensor_id t, int il) {
    if (a->ffn != DL_FFN_MOE || !k_tensors[t].per_layer)
        return k_tensors[t].group != DL_TG_MOE;
    int dense = il < n_dense_lead;
    if (k_tensors[t].group == DL_TG_DENSE_FFN)
        return dense;
    if (k_tensors[t].group == DL_TG_MOE)
        return !dense;
    return 1;
}

const dl_arch *dl_arch_by_id(int32_t id) {
    for (size_t i = 0; i < N_ARCH; i++)
        if (k_arch[i].id == id)
            return &k_arch[i];
    return NULL;
}

const char *dl_arch_list(char *buf, size_t cap) {
    size_t used = 0;
    if (cap)
        buf[0] = '\0';
    for (size_t i = 0; i < N_ARCH && used < cap; i++) {
        int n = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", k_arch[i].name);
        used += n > 0 ? (size_t)n : 0;
    }
    return buf;
}

const char *dl_arch_key(const dl_arch *a, dl_key k, char *buf, size_t cap) {
    snprintf(buf, cap, k_key_fmt[k], a->name);   /* formats without "%s" ignore the name */
    return buf;
}

const dl_tensor_desc *dl_tensor_desc_get(dl_tensor_id t) {
    return &k_tensors[t];
}

const char *dl_tensor_name(dl_tensor_id t, int layer, char *buf, size_t cap) {
    if (k_tensors[t].per_layer)
        snprintf(buf, cap, k_tensors[t].name, layer);
    else
        snprintf(buf, cap, "%s", k_tensors[t].name);
    return buf;
}

int dl_arch_check(const dl_arch *a, dl_err *err) {
    /* each kind the forward pass gains leaves this list */
    const char *missing = a->ffn == DL_FFN_MOE && a->router == DL_ROUTER_NONE ? "a router"
                        : a->mask >= DL_MASK_KINDS ? "an unknown attention mask"
                        : a->norm != DL_NORM_RMS ? "its norm"
                        : a->rope_partial ? "partial RoPE"
                        : NULL;
    if (missing)
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "architecture '%s' needs %s, which difflm "
                       "does not run yet", a->name, missing);
    return 0;
}
