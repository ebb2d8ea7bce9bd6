/* convert.h - one model file to a GGUF file: a Hugging Face folder (hf_convert.c) or a
 * GGUF, written in F32 / F16 / BF16 or under one of llama-quantize's presets
 * (quantize_plan.c). Streaming: one tensor is produced at a time while the output is
 * written, the source's pages of each finished tensor are dropped from the resident
 * set, and the output is a temporary file renamed at the end, so a failure or a
 * cancellation leaves no file behind. What difflm_convert (lib/api.c) runs. */
#ifndef DL_CONVERT_H
#define DL_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* One finished tensor. */
typedef struct dl_conv_report {
    size_t done, total;         /* tensors written, this one included, of all */
    const char *name;           /* its GGUF name */
    uint32_t type;              /* its ggml type in the output */
    uint64_t in_bytes;          /* its bytes in the source (as the source stores it) */
    uint64_t out_bytes;         /* its bytes in the output */
} dl_conv_report;

/* Non-zero cancels the conversion (E_CANCELLED; no output file). */
typedef int (*dl_conv_progress_fn)(const dl_conv_report *r, void *user);

typedef struct dl_conv_opts {
    const char *input;          /* a Hugging Face folder, its config.json, or a GGUF file */
    const char *output;         /* the GGUF written (replaced only on success) */
    const char *type;           /* a dl_qpreset_find name: F32 F16 BF16 Q8_0 Q4_K_M ... */
    int pure;                   /* every quantizable matrix in the preset's type */
    int allow_requantize;       /* accept quantized source matrices (GGUF input) */
    int n_threads;              /* 0: all cores */
    dl_conv_progress_fn progress;
    void *user;
    const dl_log *log;          /* warnings (a fallback type for rows a block does not
                                   divide); may be NULL */
} dl_conv_opts;

/* Returns 0; E_INVALID_ARG (no input or output, an unknown type name, an already
 * quantized matrix without allow_requantize), E_IO (a missing or unreadable input or
 * shard, an unwritable output), E_FORMAT, E_UNSUPPORTED (an architecture, dtype,
 * tokenizer or tensor type difflm does not convert), E_CANCELLED, E_NOMEM. The
 * message names the file or the tensor. */
int dl_convert(const dl_conv_opts *o, dl_err *err);

#endif
