/* model_tiny.h - tiny random-weight `llada` / `dream` GGUF files for tests and tools.
 *
 * The files carry the real metadata keys, tensor names, shapes and a small but real
 * byte-level BPE vocabulary (8 control tokens, the 256 GPT-2 byte tokens, ~100 English
 * merges, [PAD{id}] fillers), so the library, the numpy reference and llama.cpp's loader
 * all read them. Weights are a pure function of (seed, tensor name): changing the
 * element type, tying or omitting one tensor leaves every other tensor's values alone. */
#ifndef DL_MODEL_TINY_H
#define DL_MODEL_TINY_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "difflm.h"
#include "fmt/gguf.h"

#define DL_TINY_N_SPECIAL 8   /* <|startoftext|> .. <|im_end|>, ids 0..7 */

typedef struct dl_tiny_spec {
    int32_t arch;              /* DIFFLM_ARCH_LLADA or DIFFLM_ARCH_DREAM */
    int32_t n_embd, n_layer, n_head, n_head_kv, n_ff;
    int32_t n_vocab;           /* total tokens, >= dl_tiny_min_vocab() */
    int32_t n_ctx;             /* {arch}.context_length */
    int32_t tied;              /* 1: no output.weight */
    int32_t output_bias;       /* 1: write an output.bias (Dream allows one) */
    int32_t mask_id;           /* tokenizer.ggml.mask_token_id */
    uint32_t wtype;            /* DL_TYPE_F32 / F16 / BF16 for matrices; vectors stay F32 */
    uint64_t seed;
    float rope_theta, eps;
    int32_t shift_key;         /* 1: write diffusion.shift_logits (llada false, dream true) */
    /* test knobs */
    int32_t round_f16;         /* matrices rounded through f16 (an F32 file equal to an F16 one) */
    const char *arch_name;     /* non-NULL: general.architecture and key prefix */
    const char *omit_tensor;   /* non-NULL: this tensor is left out */
    const char *bad_shape_tensor;  /* non-NULL: this tensor gets one extra row */
    const char *q8_tensor;     /* non-NULL: this matrix is stored as Q8_0 */
} dl_tiny_spec;

/* Defaults: 2 layers, n_embd 64, 4 heads (MHA), n_ff 128, vocab 512, ctx 256, F32,
 * seed 1, the arch's published theta / eps, mask id 5, shift key written. */
void dl_tiny_spec_init(dl_tiny_spec *s, int32_t arch);

/* 8 specials + 256 bytes + the merge list. */
int32_t dl_tiny_min_vocab(void);

/* Builds the file in memory (malloc'd; free() it). E_INVALID_ARG names a bad field. */
int dl_tiny_to_buffer(const dl_tiny_spec *s, void **buf, size_t *n, dl_err *err);
/* Same, written to path. */
int dl_tiny_write(const dl_tiny_spec *s, const char *path, dl_err *err);

#endif
