/* difflm_internal.h - the one private header a program outside lib/ may include.
 *
 * Hosts use include/difflm.h. A few programs of this repository work on the library's
 * internals rather than through its API: the trainers (tools/train, tools/train_tokenizer:
 * they run the layers' backward passes and write vocabularies), the benchmarks of the
 * kernels and of one forward pass per weight type, and the tools that still lack a
 * public call (difflm-bigram). They include
 * this header and nothing else of lib/; tests/layering/check_layers.py lists them with
 * the reason, and fails when any other program reaches past difflm.h. Nothing here is
 * stable: it changes with the library, and is not installed.
 *
 * What it gives: the status detail and log sink (core), the thread pool, the GGUF reader
 * and writer and the weight types (fmt), the kernels and their CPU dispatch, the model's
 * hyperparameters, weight table, architecture rows and forward pass, the tokenizer, and
 * the sampler's RNG and filters. */
#ifndef DIFFLM_INTERNAL_H
#define DIFFLM_INTERNAL_H

#include "difflm.h"

#include "core/core.h"
#include "core/pool.h"
#include "fmt/ggml_types.h"
#include "fmt/gguf.h"
#include "fmt/gguf_internal.h"
#include "kernels/attention_tiled.h"
#include "kernels/cpu.h"
#include "kernels/gemm.h"
#include "kernels/gemm_bf16.h"
#include "kernels/kernels.h"
#include "kernels/kernels_backward.h"
#include "kernels/quant.h"
#include "kernels/types.h"
#include "model/arch.h"
#include "model/layers.h"
#include "model/layers_backward.h"
#include "model/model.h"
#include "model/model_weights.h"
#include "sample/sample.h"
#include "tok/tok.h"
#include "tok/tok_internal.h"

#endif
