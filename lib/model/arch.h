/* arch.h - the architecture table: one row per GGUF `general.architecture` difflm runs.
 *
 * Everything that differs between architectures is a field of its row, so that the
 * loader (model_load.c, hparams.c), the forward pass (model_forward.c), the context's
 * defaults (ctx/), the test-model writer (tests/fixtures/) and the trainer's GGUF export
 * and import (tools/train/) read one description instead of testing architecture ids.
 * The names of the hyperparameter keys and tensors are tables here too: a key or tensor
 * is spelled once, in arch.c.
 *
 * A new architecture is a row in arch.c plus whatever is genuinely new about it: a
 * tensor id and dl_layer field for each new tensor, and the kernel of each new kind
 * (FFN, mask, norm) in model_forward.c. dl_arch_check refuses a row that names a kind
 * the forward pass does not have yet, so a row can be added before its kernels. */
#ifndef DL_ARCH_H
#define DL_ARCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* How RoPE pairs the dimensions of a head. */
enum dl_rope_layout {
    DL_ROPE_PAIRS = 0,          /* adjacent (2i, 2i+1): llama.cpp NORM, LLaDA GGUF (permuted q/k) */
    DL_ROPE_HALF = 1,           /* (i, i + d/2): NeoX / HF, Dream */
    DL_ROPE_HALF_TO_PAIRS = 2,  /* LLaDA read from HF tensors (q/k rows not permuted): the
                                   (i, i + d/2) pairs rotated and written back as (2i, 2i+1),
                                   so q and k (and the KV cache) hold exactly what the
                                   permuted GGUF weights give with DL_ROPE_PAIRS */
};

enum dl_norm_kind {
    DL_NORM_RMS = 0,            /* x / rms(x) * w, eps from attention.layer_norm_rms_epsilon */
};

enum dl_ffn_kind {
    DL_FFN_DENSE = 0,           /* down(silu(gate x) * up x) */
    DL_FFN_MOE = 1,             /* routed SwiGLU experts (model/moe.c); the first
                                   hp.n_dense_lead layers stay DL_FFN_DENSE */
    DL_FFN_KINDS
};

/* How an MoE layer chooses its experts and weighs them (kernels/router.h). */
enum dl_router_kind {
    DL_ROUTER_NONE = 0,         /* dense rows */
    DL_ROUTER_SOFTMAX = 1,      /* softmax over all experts, top-k, weights not renormalised
                                   (LLaDA-MoE, OLMoE) */
    DL_ROUTER_SIGMOID_GROUP = 2,/* sigmoid scores; selection by score + expert bias inside
                                   the best groups; weights = the unbiased scores of the
                                   chosen renormalised, times routed_scaling_factor
                                   (DeepSeek-V3's noaux_tc: LLaDA2) */
};

enum dl_mask_kind {
    DL_MASK_BIDIRECTIONAL = 0,  /* every position attends to every position */
    DL_MASK_BLOCK_CAUSAL = 1,   /* causal across blocks of diffusion.block_length, bidirectional
                                   inside: the row's files must say the block length (any
                                   row's file that says one runs block-causal too) */
    DL_MASK_KINDS
};

/* Hyperparameter keys. "%s" stands for the row's name (llama.cpp's LLM_KV_* spelling). */
typedef enum dl_key {
    DL_KEY_CONTEXT_LENGTH,
    DL_KEY_EMBEDDING_LENGTH,
    DL_KEY_BLOCK_COUNT,
    DL_KEY_FEED_FORWARD_LENGTH,
    DL_KEY_HEAD_COUNT,
    DL_KEY_HEAD_COUNT_KV,
    DL_KEY_KEY_LENGTH,
    DL_KEY_VALUE_LENGTH,
    DL_KEY_RMS_EPS,
    DL_KEY_ROPE_FREQ_BASE,
    DL_KEY_ROPE_DIMENSION_COUNT,
    DL_KEY_VOCAB_SIZE,
    DL_KEY_CAUSAL,
    DL_KEY_SHIFT_LOGITS,        /* diffusion.shift_logits: not prefixed */
    /* mixture of experts (llama.cpp's LLM_KV_EXPERT_*) */
    DL_KEY_EXPERT_COUNT,
    DL_KEY_EXPERT_USED_COUNT,
    DL_KEY_EXPERT_FEED_FORWARD_LENGTH,
    DL_KEY_EXPERT_SHARED_COUNT,
    DL_KEY_EXPERT_SHARED_FEED_FORWARD_LENGTH,
    DL_KEY_EXPERT_WEIGHTS_SCALE,
    DL_KEY_EXPERT_WEIGHTS_NORM,
    DL_KEY_EXPERT_GATING_FUNC,
    DL_KEY_EXPERT_GROUP_COUNT,
    DL_KEY_EXPERT_GROUP_USED_COUNT,
    DL_KEY_LEADING_DENSE_BLOCK_COUNT,
    DL_KEY_BLOCK_LENGTH,        /* diffusion.block_length: not prefixed (block diffusion) */
    DL_KEY_COUNT
} dl_key;

/* Tensors, in the order converters (and the test-model writer) put them in a file.
 * Global ones first; per-layer names hold "%d" for the layer. */
typedef enum dl_tensor_id {
    DL_T_TOKEN_EMBD,
    DL_T_OUTPUT_NORM,
    DL_T_OUTPUT,
    DL_T_OUTPUT_BIAS,
    DL_T_ATTN_NORM,             /* first per-layer tensor */
    DL_T_ATTN_Q,
    DL_T_ATTN_K,
    DL_T_ATTN_V,
    DL_T_ATTN_Q_BIAS,
    DL_T_ATTN_K_BIAS,
    DL_T_ATTN_V_BIAS,
    DL_T_ATTN_OUT,
    DL_T_FFN_NORM,
    DL_T_FFN_GATE,
    DL_T_FFN_UP,
    DL_T_FFN_DOWN,
    DL_T_ATTN_QKV,              /* fused q/k/v: refused, named so the message can say why */
    DL_T_ATTN_Q_NORM,           /* per-head RMSNorm of q before RoPE ({head_dim}) */
    DL_T_ATTN_K_NORM,
    DL_T_FFN_GATE_INP,          /* the router: {n_embd, n_expert} */
    DL_T_FFN_EXP_PROBS_B,       /* the router's selection bias: {n_expert} */
    DL_T_FFN_GATE_EXPS,         /* experts: 3-D {n_embd, n_ff_exp, n_expert} in GGUF, one
                                   2-D tensor per expert in HF folders */
    DL_T_FFN_UP_EXPS,
    DL_T_FFN_DOWN_EXPS,         /* {n_ff_exp, n_embd, n_expert} */
    DL_T_FFN_GATE_SHEXP,        /* the shared expert: {n_embd, n_ff_shexp} */
    DL_T_FFN_UP_SHEXP,
    DL_T_FFN_DOWN_SHEXP,
    DL_T_COUNT
} dl_tensor_id;
#define DL_T_FIRST_LAYER DL_T_ATTN_NORM

/* A tensor's dimensions, as symbols resolved against the hyperparameters. */
enum dl_dim {
    DL_DIM_NONE = 0,            /* not bound (refused tensors) */
    DL_DIM_1,
    DL_DIM_EMBD,                /* n_embd */
    DL_DIM_Q,                   /* n_head * head_dim */
    DL_DIM_KV,                  /* n_head_kv * head_dim */
    DL_DIM_FF,                  /* n_ff */
    DL_DIM_VOCAB,               /* n_vocab */
    DL_DIM_HEAD,                /* head_dim */
    DL_DIM_EXPERT,              /* n_expert */
    DL_DIM_FF_EXP,              /* n_ff_exp: one expert's width */
    DL_DIM_FF_SHEXP,            /* n_ff_shexp: the shared experts' width */
};

enum dl_tensor_kind {
    DL_TK_MATRIX,               /* a product's weight: any supported type */
    DL_TK_NORM,                 /* a norm's scale vector (near 1) */
    DL_TK_BIAS,                 /* an additive vector (near 0) */
    DL_TK_EXPERTS,              /* n_expert matrices of one shape: a 3-D GGUF tensor (ne[2]
                                   experts, each a slice) or one HF tensor per expert; the
                                   dl_layer field is a dl_weight pointer to n_expert views */
};

/* Which class of a layer's tensors a tensor is: an MoE row's first hp.n_dense_lead
 * layers have the dense FFN tensors and none of the MoE ones, its other layers the
 * reverse. */
enum dl_tensor_group {
    DL_TG_ANY = 0,
    DL_TG_DENSE_FFN,            /* ffn_gate / ffn_up / ffn_down */
    DL_TG_MOE,                  /* router, bias, experts, shared expert */
};

typedef struct dl_tensor_desc {
    const char *name;           /* "token_embd.weight", "blk.%d.attn_q.weight" */
    uint8_t per_layer;
    uint8_t kind;               /* enum dl_tensor_kind */
    uint8_t ne[3];              /* enum dl_dim: ne[0] (row length), ne[1] (rows), ne[2] */
    uint16_t offset;            /* offsetof its dl_weight in dl_model (global) or dl_layer
                                   (DL_TK_EXPERTS: of its dl_weight pointer) */
    const char *what;           /* for refused tensors: what the message calls it */
    uint8_t group;              /* enum dl_tensor_group */
} dl_tensor_desc;

/* Per-row use of a tensor (dl_arch.tensors[id]), flags: */
#define DL_TU_LOAD 1u           /* bound when present */
#define DL_TU_REQUIRED 2u       /* the file must have it */
#define DL_TU_WRITE 4u          /* files of this architecture carry it: writers emit it */
#define DL_TU_REFUSE 8u         /* a file with it is a variant difflm does not run */

typedef struct dl_arch {
    int32_t id;                 /* DIFFLM_ARCH_* (difflm_model_info.arch) */
    const char *name;           /* general.architecture, and the prefix of its keys */

    /* attention */
    uint8_t rope;               /* enum dl_rope_layout */
    uint8_t qk_permuted;        /* 1: the HF -> GGUF converter permuted the q/k rows (llama.cpp's
                                   LlamaModel.permute), which is why RoPE pairs are adjacent
                                   here; weights read from HF tensors would need the same */
    uint8_t rope_partial;       /* 1: rope.dimension_count may be below the head dimension */
    uint8_t qk_norm;            /* 1: per-head RMSNorm of q and k before RoPE */
    uint8_t mask;               /* enum dl_mask_kind */

    /* blocks and head */
    uint8_t norm;               /* enum dl_norm_kind */
    uint8_t ffn;                /* enum dl_ffn_kind */
    uint8_t router;             /* enum dl_router_kind (DL_FFN_MOE rows) */
    uint8_t shift_logits;       /* what the model does (writers write it): 1, logits for
                                   position p come from hidden row p-1. A file without
                                   diffusion.shift_logits is read as shifted (llama.cpp). */
    uint8_t tensors[DL_T_COUNT];  /* DL_TU_* flags; 0: not part of this architecture (ignored).
                                     A head without output.weight is tied to token_embd
                                     where output is LOAD but not REQUIRED. */

    /* defaults for what files may leave out, and for writers */
    int32_t schedule;           /* DIFFLM_SCHEDULE_AUTO without a cache resolves to this */
    int32_t mask_id;            /* mask token id when the file has none; -1: the file must say */
    const char *tok_pre;        /* tokenizer.ggml.pre of this architecture's files */
    uint8_t add_bos;            /* tokenizer.ggml.add_bos_token of its files */
    float ref_rope_theta;       /* the published checkpoints' rope.freq_base and rms epsilon: */
    float ref_rms_eps;          /* defaults of writers (test models), never of the loader */

    /* Hugging Face folders (hf_config.c, model_load.c) */
    const char *hf_model_type;  /* config.json "model_type" */
    const char *hf_architecture;/* config.json "architectures"[0] that also selects this row
                                   (NULL: model_type alone); checked before model_type, since
                                   LLaDA-MoE checkpoints are published with llada's model_type */
    const char *hf_names[DL_T_COUNT];  /* tensor names in the safetensors ("%d": layer; an
                                          expert tensor's second "%d" is the expert: a
                                          converter stacks experts 0 .. n-1 into the 3-D
                                          GGUF tensor); NULL: not in HF checkpoints */
} dl_arch;

/* Whether layer il of a model of row a under hp has tensor t at all (the dense-lead
 * split of MoE rows; every per-layer tensor of a dense row). The loader, the test-model
 * writer and converters ask this rather than the row's flags alone. */
int dl_arch_layer_has(const dl_arch *a, int32_t n_dense_lead, dl_tensor_id t, int il);

/* The row whose hf_model_type is model_type (compared case-insensitively), or NULL. */
const dl_arch *dl_arch_find_hf(const char *model_type);
/* Tensor t's HF name for row a, or NULL when the row's checkpoints have none. For a
 * DL_TK_EXPERTS tensor, expert is the expert's index (ignored for the others). */
const char *dl_tensor_hf_name(const dl_arch *a, dl_tensor_id t, int layer, char *buf, size_t cap);
const char *dl_tensor_hf_expert_name(const dl_arch *a, dl_tensor_id t, int layer, int expert,
                                     char *buf, size_t cap);
/* The row whose hf_architecture is name, or NULL. */
const dl_arch *dl_arch_find_hf_architecture(const char *name);

/* The row for a general.architecture string (n bytes, not NUL-terminated), or NULL. */
const dl_arch *dl_arch_find(const char *name, size_t n);
/* The row for a DIFFLM_ARCH_* id, or NULL. */
const dl_arch *dl_arch_by_id(int32_t id);
/* "llada, dream": the names difflm runs, for messages. */
const char *dl_arch_list(char *buf, size_t cap);

/* The full name of key k for architecture a ("llada.block_count"), in buf. */
const char *dl_arch_key(const dl_arch *a, dl_key k, char *buf, size_t cap);

const dl_tensor_desc *dl_tensor_desc_get(dl_tensor_id t);
/* Tensor t's name in a file ("blk.3.attn_q.weight"; layer is ignored for global ones). */
const char *dl_tensor_name(dl_tensor_id t, int layer, char *buf, size_t cap);

/* 0, or DIFFLM_E_UNSUPPORTED naming the first kind in a's row that the forward pass has
 * no kernel for. The loader calls it before reading anything else. */
int dl_arch_check(const dl_arch *a, dl_err *err);

#endif
