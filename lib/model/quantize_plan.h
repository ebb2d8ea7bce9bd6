/* quantize_plan.h - which type each tensor of a GGUF gets under one of llama-quantize's
 * presets (doc/formats.md, "Quantization presets"): the preset table, the tensors that are
 * quantized at all, the head and "more bits" layer rules and the fallbacks for rows a
 * block size does not divide. Pure data and pure functions: the converter (convert.c)
 * asks, the tools only name a preset. */
#ifndef DL_QUANTIZE_PLAN_H
#define DL_QUANTIZE_PLAN_H

#include <stdint.h>

#include "fmt/gguf.h"

enum dl_qrule { DL_QRULE_PLAIN = 0, DL_QRULE_KM = 1, DL_QRULE_KS = 2 };

typedef struct dl_qpreset {
    const char *name;           /* upper case, as llama-quantize spells it */
    uint32_t type;              /* the default type of quantizable matrices */
    uint32_t ftype;             /* general.file_type (llama ftype) */
    int rule;                   /* enum dl_qrule */
} dl_qpreset;

/* The preset (Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q4_K_S Q4_K_M Q4_K Q5_K_S Q5_K_M Q5_K Q6_K, and
 * the float types F16 BF16 F32) named by s, case-insensitively; NULL for any other name. */
const dl_qpreset *dl_qpreset_find(const char *s);

/* "Q4_0 Q4_1 ... F32": the accepted names, space-separated, for error messages. */
const char *dl_qpreset_names(void);

/* 1 for the tensors a preset re-encodes: 2+ dimensions (two of them above 1), a name
 * ending in "weight", not a norm and not the MoE router (llama-quantize's rule). */
int dl_qplan_quantizable(const dl_gguf_tensor *t);

/* Layer index of a "blk.N." name, else -1. */
int dl_qplan_layer(const char *name);

/* The type a quantizable tensor gets: the preset's rule (pure: the preset's type for
 * all), before the divisibility fallback. is_head: output.weight, or token_embd.weight
 * of a tied model. n_layer: the model's block count. */
uint32_t dl_qplan_rule_type(const dl_qpreset *p, int pure, const char *name, int64_t ne0,
                            int is_head, int n_layer);

/* llama-quantize's fallbacks for rows of ne0 that the type's blocks do not divide
 * (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0 below 256; F16 below the block size). */
uint32_t dl_qplan_fallback(uint32_t type, int64_t ne0);

#endif
