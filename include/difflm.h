/*
 * difflm.h - run masked diffusion language models (LLaDA, iLLaDA, Dream) on CPUs.
 *
 * A diffusion LM does not write left to right. Generation starts from a canvas
 * [prompt | MASK x gen_length]; every denoising step runs one bidirectional
 * transformer pass over the canvas and commits the most confident predictions,
 * until no MASK is left. difflm owns the model and the scheduler; the host
 * drives the steps (or lets difflm_sample() run them all).
 *
 * Usage (error handling shortened):
 *
 *     #include <difflm.h>
 *
 *     difflm_params p;
 *     difflm_params_init(&p);
 *     p.model_path = "model.gguf";
 *     int st;
 *     difflm_ctx *ctx = difflm_create(&p, &st);
 *     if (!ctx) { fprintf(stderr, "%s\n", difflm_status_str(st)); return 1; }
 *
 *     // Several generations at once (a server, a game): load the model once with
 *     // difflm_model_load() and create a context per generation with difflm_ctx_create().
 *
 *     difflm_gen_params g;
 *     difflm_gen_params_init(&g);
 *     g.gen_length = 64; g.steps = 64; g.block_length = 32;
 *
 *     difflm_token prompt[256]; size_t n;
 *     difflm_tokenize(ctx, "The Lord said", 13, DIFFLM_TOKENIZE_ADD_BOS, prompt, 256, &n);
 *     difflm_generate_begin(ctx, prompt, n, &g);
 *     while ((st = difflm_generate_step(ctx)) == DIFFLM_OK)
 *         ;                                 // read difflm_canvas() here to watch it fill in
 *     if (st < 0) fprintf(stderr, "%s\n", difflm_last_error(ctx));
 *     difflm_free(ctx);
 *
 * Thread safety:
 *   - A model (difflm_model_load) is read-only once loaded: any number of threads may
 *     create contexts from it and use them at once. Contexts created from one model
 *     share its weights, tokenizer and chat format, and the packed copy of its float
 *     weights (difflm_ctx_params.pack_weights), which the first context of a precision
 *     makes under the model's lock: the one thing added to a model after loading;
 *     contexts from separate loads of one file still share its pages through the page
 *     cache (weights are mmapped read-only).
 *   - A context is used by one thread at a time. Different contexts are independent
 *     and may be used concurrently from different threads.
 *   - difflm_cancel() is the one call that is safe from any thread at any time while
 *     the context exists: the running (or next) generation step, or difflm_logits
 *     pass, returns DIFFLM_E_CANCELLED.
 *   - The functions that take no context (difflm_status_str, difflm_status_name,
 *     difflm_version*, difflm_abi_version, difflm_*_params_init) are safe from any
 *     thread, and so are the calls on a const difflm_model * and difflm_model_free.
 *   - Callbacks (log, step) run on the thread that made the call that triggered them.
 *
 * Conventions:
 *   - Every fallible call returns an int status: DIFFLM_OK (0), a small positive
 *     non-error outcome (DIFFLM_DONE), or a negative error from the list below.
 *     difflm_status_str() names a status; difflm_last_error() gives the detail text
 *     of the last failure on a context.
 *   - The caller owns everything it passes in; difflm copies what it keeps.
 *     Variable-size outputs go into caller buffers with a needed-size out-param:
 *     when the buffer is too small the call returns DIFFLM_E_BUFFER_TOO_SMALL and
 *     sets the needed size.
 *   - Parameter structs start with struct_size; fill them with *_params_init().
 *     Fields are only ever appended, so a program built against an older header
 *     keeps working. Every free function accepts NULL.
 *   - The library never prints, exits or aborts on caller input; install a log
 *     callback to see what it has to say.
 */
#ifndef DIFFLM_H
#define DIFFLM_H

#include <stddef.h>
#include <stdint.h>

#include "difflm_status.h"
#include "difflm_version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define DIFFLM_API __attribute__((visibility("default")))
#else
#define DIFFLM_API
#endif

/* ---------------------------------------------------------------- status codes */

/* A static, NUL-terminated description of a status ("unknown status" for other values). */
DIFFLM_API const char *difflm_status_str(int status);
/* The status's name as a static string, e.g. "DIFFLM_E_NOMEM" ("DIFFLM_UNKNOWN_STATUS" for
 * other values): for logs and bindings that map codes to their own errors. */
DIFFLM_API const char *difflm_status_name(int status);

/* ---------------------------------------------------------------- version */

/* The library's version string, e.g. "0.1.0" (static storage). */
DIFFLM_API const char *difflm_version(void);
/* MAJOR * 10000 + MINOR * 100 + PATCH of the library actually loaded. */
DIFFLM_API uint32_t difflm_version_number(void);
/* The ABI number of the library actually loaded; compare with DIFFLM_ABI_VERSION. */
DIFFLM_API uint32_t difflm_abi_version(void);

/* ---------------------------------------------------------------- types */

typedef int32_t difflm_token;
typedef struct difflm_model difflm_model;
typedef struct difflm_ctx difflm_ctx;

/* A host allocator (a game engine's, a test's). alloc returns size bytes aligned to
 * alignment (a power of two, at most 64) or NULL; free accepts NULL and every pointer
 * alloc returned. Every heap allocation of the library goes through the pair given at
 * load or create time (weights are mmapped, not allocated). Both may be called from any
 * thread that calls into the object that was given them. */
typedef void *(*difflm_alloc_fn)(size_t size, size_t alignment, void *user);
typedef void (*difflm_free_fn)(void *ptr, void *user);

/* Log levels: DIFFLM_LOG_ERROR .. DIFFLM_LOG_DEBUG (difflm_status.h). */

/* Receives one message (no trailing newline, valid only during the call). */
typedef void (*difflm_log_fn)(int32_t level, const char *message, void *user);

/* What a step callback sees after each denoising step. Valid only during the call. */
typedef struct difflm_step_info {
    uint32_t struct_size;
    int32_t step;                /* 1-based index of the step just run */
    int32_t total_steps;         /* steps the schedule plans in all (with parallel
                                    decoding or early stop: an upper bound that shrinks,
                                    equal to step on the last step) */
    int32_t n_committed;         /* tokens this step committed (early stop's EOS fill
                                    included) */
    int32_t n_masked;            /* MASK tokens left in the generated region */
    int32_t prompt_length;       /* canvas[0 .. prompt_length) is the prompt (after
                                    difflm_generate_begin_canvas: the fixed positions
                                    before the first MASK) */
    const difflm_token *canvas;  /* the whole canvas, prompt included */
    size_t canvas_length;
    int32_t batch_index;         /* difflm_batch_step: the canvas (0-based) this call
                                    reports; 0 for difflm_generate_step */
} difflm_step_info;

/* Called after every step; a non-zero return stops generation with DIFFLM_E_CANCELLED. */
typedef int (*difflm_step_fn)(const difflm_step_info *info, void *user);

/* ---------------------------------------------------------------- context */

typedef struct difflm_params {
    uint32_t struct_size;        /* sizeof(difflm_params), set by difflm_params_init */
    const char *model_path;      /* GGUF file; required */
    int32_t n_threads;           /* 0 = all cores */
    int32_t max_canvas;          /* longest canvas (prompt + generated) this context
                                    serves; 0 = min(model context, 2048) */
    int32_t mask_token_id;       /* -1 = the file's tokenizer.ggml.mask_token_id */
    int32_t log_level;           /* most verbose level passed to log_fn (default WARN) */
    difflm_log_fn log_fn;        /* NULL = silent */
    void *log_user;
    int32_t max_batch;           /* difflm_ctx_params.max_batch (default 1) */
    int32_t reserved0;           /* never read: it covers the 0.3 struct's tail padding,
                                    so that precision lies past the end of an older
                                    host's struct (see difflm_ctx_params.reserved0) */
    int32_t precision;           /* difflm_ctx_params.precision (default
                                    DIFFLM_PRECISION_EXACT) */
    int32_t pack_weights;        /* difflm_ctx_params.pack_weights (default
                                    DIFFLM_PACK_AUTO) */
} difflm_params;

/* Fills *p with defaults. */
DIFFLM_API void difflm_params_init(difflm_params *p);

/* Loads the model and allocates everything a generation needs (one arena sized for
 * max_canvas): difflm_model_load() and difflm_ctx_create() in one call, the model
 * private to the context (with the C library's allocator: a host allocator is given
 * through those two calls). Returns a new context, or NULL with *status (if non-NULL)
 * set to the reason: E_INVALID_ARG, E_IO, E_FORMAT, E_UNSUPPORTED, E_NOMEM. Details go
 * to the log callback. Free the context with difflm_free(). */
DIFFLM_API difflm_ctx *difflm_create(const difflm_params *p, int *status);

/* Frees the context and everything it owns. NULL is a no-op. */
DIFFLM_API void difflm_free(difflm_ctx *ctx);

/* Detail text of the last failure on this context ("" if none). Owned by the
 * context, valid until the next call on it. */
DIFFLM_API const char *difflm_last_error(const difflm_ctx *ctx);

/* Architectures. */
#define DIFFLM_ARCH_LLADA 1
#define DIFFLM_ARCH_DREAM 2
#define DIFFLM_ARCH_LLADA_MOE 3   /* LLaDA-MoE-7B-A1B (GGUF llada-moe) */
#define DIFFLM_ARCH_LLADA2 4      /* LLaDA2.0 / 2.1 (HF llada2_moe) */

typedef struct difflm_model_info {
    uint32_t struct_size;
    int32_t arch;                /* DIFFLM_ARCH_* */
    int32_t n_vocab;
    int32_t n_ctx_train;         /* context length the model was trained for */
    int32_t max_canvas;          /* what this context was created for */
    int32_t n_layer, n_embd, n_head, n_head_kv, n_ff;
    int32_t shift_logits;        /* 1: position p is predicted from row p-1 (Dream) */
    int32_t mask_id, bos_id, eos_id, eot_id;   /* -1 where the model has none */
    int32_t add_bos;             /* the tokenizer adds BOS by default */
    uint64_t n_params;
    int32_t block_length;        /* > 0: a block-causal model (diffusion.block_length):
                                    attention is bidirectional inside blocks of this many
                                    positions, causal across them; 0: bidirectional */
} difflm_model_info;

/* Fills *out (set out->struct_size first, or use sizeof). Returns OK or E_INVALID_ARG. */
DIFFLM_API int difflm_model_info_get(const difflm_ctx *ctx, difflm_model_info *out);

/* ---------------------------------------------------------------- models and contexts
 *
 * A model is loaded once (mapped weights, hyperparameters, tokenizer, chat format) and
 * never changes afterwards; any number of contexts are created from it, each with its
 * own scratch arena, schedule state, thread pool, last error and cancel flag. A server
 * keeps one model and a pool of contexts; a game gives each character a context. */

/* Reads n bytes at offset of a model image into dst (a pack's asset, say). Returns 0 on
 * success, anything else on failure (the load then fails with E_IO). Called only during
 * difflm_model_load, from its thread, in increasing offsets, chunks of at most 1 MiB. */
typedef int (*difflm_read_fn)(void *user, uint64_t offset, void *dst, size_t n);

typedef struct difflm_model_params {
    uint32_t struct_size;        /* sizeof(difflm_model_params), set by the init call */
    const char *path;            /* GGUF file; exactly one of path, data and read_fn */
    int32_t mask_token_id;       /* -1 = the file's tokenizer.ggml.mask_token_id */
    int32_t log_level;           /* most verbose level passed to log_fn (default WARN) */
    difflm_log_fn log_fn;        /* NULL = silent; may be called from any thread that
                                    loads or frees the model */
    void *log_user;
    difflm_alloc_fn alloc_fn;    /* NULL (with free_fn NULL) = the C library's */
    difflm_free_fn free_fn;
    void *alloc_user;
    /* Appended in 0.3: a model image from memory, validated as a file is. */
    const void *data;            /* a GGUF image of size bytes the host owns: used in place
                                    (nothing copied), so it must stay unchanged and alive
                                    until the model and its last context are freed, and
                                    be 32-byte aligned (else E_INVALID_ARG) */
    size_t size;                 /* bytes of data, or of the read_fn image */
    difflm_read_fn read_fn;      /* reads the image of size bytes once, at load, into one
                                    block the library allocates (through alloc_fn): the
                                    model then costs size bytes of heap, where a file or a
                                    buffer costs none */
    void *read_user;
} difflm_model_params;

/* Fills *p with defaults. */
DIFFLM_API void difflm_model_params_init(difflm_model_params *p);

/* Maps and checks a model file (or the image of data / read_fn) and parses its
 * tokenizer: the same validation for all three; a truncated or malformed image is
 * E_FORMAT, a failing read_fn E_IO. Returns the model, or NULL
 * with *status (if non-NULL) set to E_INVALID_ARG, E_IO, E_FORMAT, E_UNSUPPORTED or
 * E_NOMEM (details to the log callback). The model is read-only from here on (but for
 * the packed weights its contexts may add, under its lock): the calls that take a
 * const difflm_model * are safe from any number of threads at once.
 * Free it with difflm_model_free(). */
DIFFLM_API difflm_model *difflm_model_load(const difflm_model_params *p, int *status);

/* Drops the caller's reference. Contexts created from the model hold their own, so the
 * model may be freed while they live: its memory goes with the last of them. NULL is a
 * no-op. Safe from any thread, but not twice for one load. */
DIFFLM_API void difflm_model_free(difflm_model *model);

/* difflm_model_info_get for a model (max_canvas is 0). Returns OK or E_INVALID_ARG. */
DIFFLM_API int difflm_model_describe(const difflm_model *model, difflm_model_info *out);

typedef struct difflm_ctx_params {
    uint32_t struct_size;        /* sizeof(difflm_ctx_params), set by the init call */
    int32_t n_threads;           /* 0 = all cores */
    int32_t max_canvas;          /* longest canvas (prompt + generated) this context
                                    serves; 0 = min(model context, 2048) */
    int32_t log_level;           /* most verbose level passed to log_fn (default WARN) */
    difflm_log_fn log_fn;        /* NULL = silent */
    void *log_user;
    difflm_alloc_fn alloc_fn;    /* NULL (with free_fn NULL) = the C library's */
    difflm_free_fn free_fn;
    void *alloc_user;
    int32_t max_batch;           /* most canvases difflm_batch_begin takes (default 1,
                                    0 = 1, at most 64); the arena's forward scratch and
                                    hidden states grow to max_batch * max_canvas rows */
    int32_t reserved0;           /* never read. The 0.3 struct ended with 4 bytes of
                                    padding after max_batch, which a host that did not
                                    call difflm_ctx_params_init may have left undefined;
                                    this field fills them, so precision lies past an
                                    older host's struct_size and such a host gets EXACT */
    int32_t precision;           /* DIFFLM_PRECISION_* of the products over F32, F16 and
                                    BF16 weights (default EXACT; see below) */
    int32_t pack_weights;        /* DIFFLM_PACK_*: whether those weights are packed once,
                                    into the model's copy (default AUTO; below) */
} difflm_ctx_params;

/* Precision of the matrix products over float weights (F32, F16, BF16), per context.
 *
 * DIFFLM_PRECISION_EXACT (0, the default): f32 operands, each output one fused
 * multiply-add chain in a fixed order: the same bits on every CPU path and thread count.
 *
 * DIFFLM_PRECISION_BF16 (1, opt-in): both operands rounded to bfloat16 (8 significant
 * bits; to nearest, ties to even), their products summed in f32, on the fastest bf16 path
 * the CPU has: AMX-BF16 tiles, else AVX512_BF16, else a portable loop. The context
 * packs the model's float matrices once, when it is created, into a bf16 copy of its
 * own (2 bytes per weight; F32 and F16 weights rounded, BF16 ones as stored; see
 * pack_weights below), so its steps never convert weights; the activations are rounded
 * once per product. Without
 * AVX512_BF16 or AMX the portable loop is slower than EXACT (about a third of its rate
 * on AVX2): the mode is for CPUs that have one of them. Results are
 * bitwise the same for any n_threads on a given path, and a row's result does not depend
 * on the other rows of a batch (so batches, KV caches and the block cache give the bits
 * of a plain pass, as in EXACT), but they differ from EXACT's by the rounding of the
 * operands (doc/performance.md "bf16 precision mode" measures the logits' error) and
 * between the paths by f32 rounding. Quantized weights (Q8_0, Q4_K, ...) keep their
 * integer kernels (exact in both modes: AMX-INT8 tiles where the CPU has them, else
 * VNNI or AVX2, all giving the same bits), and attention, norms and the softmax stay f32.
 *
 * AMX: the first product that runs on tiles (a bf16 context's on AMX-BF16; a quantized
 * product on AMX-INT8, in either mode) asks Linux for the tile state (arch_prctl
 * ARCH_REQ_XCOMP_PERM, once per process), which enlarges the signal frames of every
 * thread of the host. Where Linux refuses (a thread's sigaltstack too small for the
 * larger frame) the products run on AVX-512 instead, with the same results for quantized
 * weights. The environment variable DIFFLM_CPU_MASK=0x1800, set before the first
 * context, keeps the library off AMX (and so from asking). Float weights in EXACT
 * never use tiles.
 *
 * Any other value: difflm_ctx_create and difflm_create fail with DIFFLM_E_INVALID_ARG.
 * A host built against a header without the field (a smaller struct_size) gets EXACT. */
#define DIFFLM_PRECISION_EXACT 0
#define DIFFLM_PRECISION_BF16 1

/* Whether a context packs the float matrices (F32, F16, BF16: the head and the layers'
 * dense products; MoE experts never) once into panels in the order its products read
 * them: its products then skip the packing they otherwise do in every product of every
 * step. The packed copy belongs to the model: the first context of a precision that
 * packs makes it (when it is created, under the model's lock: safe from many threads),
 * later ones share it, and it goes with the model. The results are the same bits
 * either way; the copy costs memory (difflm_ctx_memory_required counts it while the
 * model has none for that precision) and the first creation's time (about 0.35 s for
 * 300 MB on 2 cores).
 *
 * DIFFLM_PACK_AUTO (0, the default): in DIFFLM_PRECISION_BF16 always (2 bytes per
 * weight); in DIFFLM_PRECISION_EXACT when the copy (each weight in its own type, as
 * large as those matrices in the file) is at most DIFFLM_PACK_AUTO_MAX bytes, so that
 * small and mid-size models get the speed (an exact step at canvas 128 ~1.15x faster on
 * a 150M F16 model, a KV-cached step ~1.2x on the bundled one) and large ones do not
 * double their memory. Nothing is packed when the products do not use the own kernels
 * (DIFFLM_GEMM=openblas) or the model has no float matrices (quantized files).
 * DIFFLM_PACK_OFF (1): never; every product packs as it goes.
 * DIFFLM_PACK_ON (2): always, whatever the size.
 * Any other value: difflm_ctx_create and difflm_create fail with DIFFLM_E_INVALID_ARG. */
#define DIFFLM_PACK_AUTO 0
#define DIFFLM_PACK_OFF 1
#define DIFFLM_PACK_ON 2
#define DIFFLM_PACK_AUTO_MAX ((size_t)1 << 30)

/* Fills *p with defaults. */
DIFFLM_API void difflm_ctx_params_init(difflm_ctx_params *p);

/* Creates a context on a model: its thread pool and one arena sized for max_canvas
 * (difflm_ctx_memory_required bytes), and the model's packed weights when pack_weights
 * asks for them and the model has none yet for this precision (from the model's
 * allocator: they go with the model). The context takes its own reference to the
 * model. Returns the context, or NULL with *status (if non-NULL) set to E_INVALID_ARG
 * or E_NOMEM. Free it with difflm_free(). */
DIFFLM_API difflm_ctx *difflm_ctx_create(difflm_model *model, const difflm_ctx_params *p,
                                         int *status);

/* The bytes of heap a context with these parameters allocates up front (its arena, the
 * largest part, the schedule state, and the model's packed copy of the float weights
 * when creating it would make one, see pack_weights), as ZSTD_estimateCCtxSize does:
 * a host can check before it creates. The KV caches' part of the arena is counted although its
 * pages are touched only by generations that use a cache. Returns OK, E_INVALID_ARG, or
 * E_NOMEM (the size overflows). */
DIFFLM_API int difflm_ctx_memory_required(const difflm_model *model, const difflm_ctx_params *p,
                                          size_t *bytes);

/* The model a context runs (borrowed: valid while the context lives; pass it to
 * difflm_ctx_create for more contexts on the same weights). NULL for NULL. */
DIFFLM_API difflm_model *difflm_ctx_model(const difflm_ctx *ctx);

/* ---------------------------------------------------------------- tokenizer */

#define DIFFLM_TOKENIZE_ADD_BOS 1u        /* prepend BOS (if the model has one) */
/* "<|eot_id|>" in the text becomes that token. Without the flag, special (control) tokens
 * are plain text; added tokens that are not special (e.g. Qwen's "<tool_call>") are still
 * matched, as in Hugging Face's tokenizers with split_special_tokens and in llama.cpp
 * with parse_special off. */
#define DIFFLM_TOKENIZE_PARSE_SPECIAL 2u
#define DIFFLM_DETOKENIZE_SPECIAL 1u      /* render control tokens (default: skip them) */

/* Tokenizes text[0..len). Writes up to cap ids to out and the count to *n_out.
 * Returns OK, E_BUFFER_TOO_SMALL (*n_out = ids needed), E_INVALID_ARG. */
DIFFLM_API int difflm_tokenize(difflm_ctx *ctx, const char *text, size_t len, uint32_t flags,
                               difflm_token *out, size_t cap, size_t *n_out);

/* Turns ids into bytes (not NUL-terminated). Any byte string that was tokenized comes
 * back unchanged, but for the tokenizer's Unicode normalization (Qwen2 / Dream: NFC, as
 * Hugging Face's tokenizer does; LLaDA: none): a text already in that form comes back
 * byte for byte, and what comes back tokenizes to the same ids. An id no token names (a
 * Hugging Face folder's rows past its tokenizer) decodes to nothing, as in Hugging Face's
 * decode. Returns OK, E_BUFFER_TOO_SMALL (*n_out = bytes needed), E_INVALID_ARG (an id
 * outside the vocabulary: a GGUF's tokens, a folder's head rows). */
DIFFLM_API int difflm_detokenize(difflm_ctx *ctx, const difflm_token *ids, size_t n,
                                 uint32_t flags, char *out, size_t cap, size_t *n_out);

typedef struct difflm_chat_message {
    const char *role;            /* "system", "user" or "assistant" */
    const char *content;         /* NUL-terminated UTF-8 */
} difflm_chat_message;

/* Renders messages with the model's chat template: GGUF tokenizer.chat_template (or a
 * Hugging Face folder's tokenizer_config.json "chat_template"), a Jinja template run as
 * transformers' apply_chat_template runs it, with add_assistant as
 * add_generation_prompt (a template may ignore it: LLaDA's always ends with the
 * assistant header) and bos_token/eos_token the texts of the BOS/EOS tokens. Without a
 * template: the vocabulary's format (LLaDA: Llama-3 headers, BOS before the first
 * message only; Dream/Qwen: ChatML with the default system message), ending with the
 * assistant header when add_assistant is non-zero. Tokenize the result with
 * DIFFLM_TOKENIZE_PARSE_SPECIAL and without ADD_BOS. Output is NUL-terminated; *n_out
 * excludes the NUL. Returns OK, E_BUFFER_TOO_SMALL (*n_out = bytes needed, without NUL),
 * E_INVALID_ARG (also the template's raise_exception(msg), with msg, or a template
 * error), E_UNSUPPORTED (a template construct difflm does not implement, named in the
 * message - never text that differs from Jinja's; or no template and neither
 * format's tokens), E_FORMAT (a template with a syntax error), E_NOMEM (also a
 * template exceeding the interpreter's bounds). */
DIFFLM_API int difflm_chat_format(difflm_ctx *ctx, const difflm_chat_message *msgs, size_t n,
                                  int32_t add_assistant, char *out, size_t cap, size_t *n_out);

/* ---------------------------------------------------------------- generation */

/* Schedules: which positions may commit at a step and how many. */
#define DIFFLM_SCHEDULE_AUTO 0       /* BLOCKS for LLaDA, TIMESTEPS for Dream,
                                        BLOCK_DIFFUSION for block-causal models */
#define DIFFLM_SCHEDULE_BLOCKS 1     /* LLaDA generate.py: semi-AR blocks, linear counts */
#define DIFFLM_SCHEDULE_TIMESTEPS 2  /* Dream: t = linspace(1, eps, steps+1) over the canvas */
#define DIFFLM_SCHEDULE_BLOCK_DIFFUSION 3  /* block-causal models (a block length in the file;
                                        AUTO picks it for them): the canvas padded to whole
                                        blocks, one block at a time against an exact KV cache
                                        of the finished ones, LLaDA2's threshold commits
                                        (block_threshold) and 2.1's token editing
                                        (editing_threshold); doc/sampling.md "Block diffusion" */

/* Remasking rules: which predictions to keep (the rest stay MASK). */
#define DIFFLM_REMASK_AUTO 0           /* LOW_CONFIDENCE for BLOCKS, ENTROPY for TIMESTEPS,
                                          MASKGIT_PLUS for BLOCK_DIFFUSION */
#define DIFFLM_REMASK_LOW_CONFIDENCE 1 /* LLaDA: untempered softmax probability of x0 */
#define DIFFLM_REMASK_RANDOM 2         /* LLaDA: uniform random order */
#define DIFFLM_REMASK_ORIGIN 3         /* Dream: each mask commits with probability 1-t'/t */
#define DIFFLM_REMASK_MASKGIT_PLUS 4   /* Dream: probability of x0 (tempered, filtered) */
#define DIFFLM_REMASK_TOPK_MARGIN 5    /* Dream: p(1st) - p(2nd) */
#define DIFFLM_REMASK_ENTROPY 6        /* Dream: negative entropy, most certain first */

/* gen flags */
#define DIFFLM_GEN_LOGITS_EOS_INF 1u         /* never predict EOS */
#define DIFFLM_GEN_CONFIDENCE_EOS_EOT_INF 2u /* predicted EOS/EoT commit last */
#define DIFFLM_GEN_EARLY_STOP 4u             /* end once EOS/EoT is committed with every
                                                position before it decoded: the MASKs after
                                                it become EOS and no further forward pass
                                                runs (default off; the text up to the first
                                                EOS/EoT is the same either way) */
#define DIFFLM_GEN_ALL_LOGITS 8u             /* run the output head over every canvas row,
                                                not only the step's candidates (for
                                                measuring; the tokens are the same) */
#define DIFFLM_GEN_BLOCK_RECOMPUTE 16u       /* BLOCK_DIFFUSION: every step recomputes the
                                                canvas up to the block's end instead of
                                                running the block against the KV cache (for
                                                measuring and testing: the tokens are the
                                                same; with it cfg_scale may be > 0) */

/* Parallel decoding (difflm_gen_params.parallel): how many of a step's candidates commit.
 * With THRESHOLD or FACTOR, `steps` no longer bounds the loop: each block (BLOCKS) or
 * the whole canvas (TIMESTEPS) runs until it has no MASK left, and every step commits
 * at least one token. Needs a confidence rule (not ORIGIN). doc/sampling.md. */
#define DIFFLM_PARALLEL_NONE 0       /* the schedule's fixed counts (default) */
#define DIFFLM_PARALLEL_THRESHOLD 1  /* the most confident candidate, plus every other
                                        whose confidence is >= threshold (Fast-dLLM) */
#define DIFFLM_PARALLEL_FACTOR 2     /* the most confident n with (n+1)(1 - c_n) < factor,
                                        Fast-dLLM's scan and its edge case */

/* Approximate KV caches (difflm_gen_params.cache), Fast-dLLM's. The first step of every
 * block runs the whole canvas and stores each layer's K and V; the block's later steps
 * run only some rows through the layers and read the other rows' K/V from that store.
 * Needs the BLOCKS schedule (AUTO resolves to it) and cfg_scale 0. For models with
 * shifted logits (Dream) the block's first position commits at the block's first step.
 * doc/sampling.md "KV caches". */
#define DIFFLM_CACHE_NONE 0          /* every step runs the whole canvas (default) */
#define DIFFLM_CACHE_PREFIX 1        /* later steps run the block and everything after it */
#define DIFFLM_CACHE_DUAL 2          /* later steps run only the block */

typedef struct difflm_gen_params {
    uint32_t struct_size;
    int32_t gen_length;          /* MASK tokens appended to the prompt (default 128) */
    int32_t steps;               /* denoising steps (default 128) */
    int32_t block_length;        /* BLOCKS schedule; 0 = gen_length (default 32) */
    int32_t schedule;            /* DIFFLM_SCHEDULE_* */
    int32_t remasking;           /* DIFFLM_REMASK_* */
    float temperature;           /* 0 = greedy (default) */
    int32_t top_k;               /* 0 = off */
    float top_p;                 /* 1 = off */
    float cfg_scale;             /* 0 = off; logits = un + (cfg+1)(cond - un) */
    float eps;                   /* TIMESTEPS: final time (default 1e-3) */
    float alg_temp;              /* TIMESTEPS: > 0 samples positions from softmax(conf/alg_temp) */
    uint64_t seed;               /* same seed, same tokens, whatever the thread count */
    uint32_t flags;              /* DIFFLM_GEN_* */
    difflm_step_fn step_fn;      /* NULL = none */
    void *step_user;
    int32_t parallel;            /* DIFFLM_PARALLEL_* (default NONE) */
    float threshold;             /* PARALLEL_THRESHOLD: in (0, 1] (default 0.9) */
    float factor;                /* PARALLEL_FACTOR: > 0 (default 1.0) */
    int32_t cache;               /* DIFFLM_CACHE_* (default NONE) */
    /* BLOCK_DIFFUSION (LLaDA2.x); the other schedules ignore these. `steps` is shared
     * among the blocks after the prompt's whole ones (steps / blocks each, at least 1) */
    float block_threshold;       /* commit every MASK of the block whose confidence is
                                    > this if they are at least the step's scheduled count,
                                    else the scheduled count of the most confident (LLaDA2;
                                    in [0, 1], default 0.95; 1 = the scheduled counts only) */
    float editing_threshold;     /* LLaDA2.1 token editing: a committed token of the block
                                    whose new prediction differs with confidence > this is
                                    replaced. In [0, 1); 0 = off (default) */
    int32_t max_post_steps;      /* with editing: editing steps after the block has no MASK
                                    left, until one edits nothing (>= 0, default 0) */
} difflm_gen_params;

/* Fills *g with defaults (gen 128, steps 128, block 32, greedy, AUTO schedule/remasking,
 * no parallel decoding (threshold 0.9, factor 1.0 when chosen), no cache, no early stop;
 * block diffusion: block_threshold 0.95, no editing, max_post_steps 0). */
DIFFLM_API void difflm_gen_params_init(difflm_gen_params *g);

/* Sets the canvas to [prompt | MASK x gen_length] and prepares the schedule. The prompt
 * is copied. Returns OK, E_INVALID_ARG (bad parameters, ids outside the vocabulary, a
 * MASK id in the prompt; with TIMESTEPS, steps above gen_length for ORIGIN or above
 * 2^20 for the confidence rules: more steps could commit nothing, doc/sampling.md),
 * E_UNSUPPORTED (a combination the library does not run, such as a KV cache with CFG),
 * E_TOO_LONG (n + gen_length > max_canvas; checked first). */
DIFFLM_API int difflm_generate_begin(difflm_ctx *ctx, const difflm_token *prompt, size_t n,
                                     const difflm_gen_params *g);

/* Runs one denoising step: one forward pass (two with CFG) and the commits.
 * Returns OK (more steps to go), DONE (the canvas is complete; further calls return
 * DONE and do nothing), E_CANCELLED (difflm_cancel or the step callback; the canvas
 * keeps what was committed), E_STATE (no generate_begin). */
DIFFLM_API int difflm_generate_step(difflm_ctx *ctx);

/* Copies the canvas (prompt + generated, MASK where still masked) into out.
 * Returns OK, E_BUFFER_TOO_SMALL (*n_out = canvas length), E_STATE (no canvas yet). */
DIFFLM_API int difflm_canvas(const difflm_ctx *ctx, difflm_token *out, size_t cap,
                             size_t *n_out);

/* Tokenizes prompt (BOS added if the model says so; special tokens parsed), generates to
 * completion, and writes the generated text, cut before the first EOS / end-of-turn and
 * without control tokens, to out (NUL-terminated; *n_out excludes the NUL).
 * Returns OK, or any error of the calls above. */
DIFFLM_API int difflm_sample(difflm_ctx *ctx, const char *prompt, const difflm_gen_params *g,
                             char *out, size_t cap, size_t *n_out);

/* Asks the running or next step (or difflm_logits pass) to stop. Safe from any thread;
 * cleared by difflm_generate_begin (and by a difflm_logits call outside a generation,
 * which it cancels). */
DIFFLM_API void difflm_cancel(difflm_ctx *ctx);

/* ---------------------------------------------------------------- batches
 *
 * Several canvases (different prompts, the same generation parameters) advanced
 * together: each step runs ONE forward pass over the rows of every canvas still
 * denoising, so every weight is read once per step for all of them (the throughput a
 * server batching users wants), while attention stays per canvas: a canvas never sees
 * another's keys, and each has its own positions, schedule state and random stream.
 * Each canvas gets bitwise the tokens difflm_generate_begin/step give it alone with
 * the same parameters and its seed, for any n_threads and whichever canvases share
 * the batch. The context's max_batch (difflm_ctx_params) bounds the batch.
 *
 * A context runs one generation at a time: difflm_batch_begin ends a single
 * generation (difflm_canvas then returns E_STATE) and difflm_generate_begin or
 * difflm_sample ends a batch. difflm_logits between batch steps leaves the batch alone,
 * as it does a single generation.
 *
 * Supported: both schedules, every remasking rule, temperature / top-k / top-p, the
 * gen flags LOGITS_EOS_INF, CONFIDENCE_EOS_EOT_INF and EARLY_STOP (a canvas that stops
 * early takes no more rows), parallel decoding (each canvas takes its own number of
 * steps; one that completes takes no more rows). E_UNSUPPORTED: classifier-free
 * guidance (cfg_scale > 0), the KV caches (cache != NONE), DIFFLM_GEN_ALL_LOGITS.
 *
 *     difflm_ctx_params cp;
 *     difflm_ctx_params_init(&cp);
 *     cp.max_batch = 4;
 *     difflm_ctx *ctx = difflm_ctx_create(model, &cp, &st);
 *     const difflm_token *prompts[2] = { a, b };
 *     size_t lens[2] = { n_a, n_b };
 *     difflm_batch_begin(ctx, prompts, lens, 2, NULL, &g);
 *     while ((st = difflm_batch_step(ctx)) == DIFFLM_OK)
 *         ;
 *     difflm_batch_canvas(ctx, 1, out, cap, &n);   // b's canvas
 */

/* Begins a batch of n_canvases canvases: canvas i is [prompts[i][0 .. n[i]) | MASK x
 * g->gen_length], its random stream seeded with seeds[i] (seeds NULL: every canvas
 * g->seed), everything else from g as for difflm_generate_begin (the prompts are
 * copied). A canvas that fails its checks fails the call, and no batch is then begun.
 * Returns OK; E_INVALID_ARG (ctx, prompts, n or g NULL, a prompt NULL with n[i] > 0,
 * n_canvases 0 or above the context's max_batch, or what difflm_generate_begin rejects,
 * the message naming the canvas); E_TOO_LONG (n[i] + gen_length > max_canvas, checked
 * first); E_UNSUPPORTED (cfg_scale > 0, a KV cache, DIFFLM_GEN_ALL_LOGITS). Clears a
 * pending difflm_cancel. */
DIFFLM_API int difflm_batch_begin(difflm_ctx *ctx, const difflm_token *const *prompts,
                                  const size_t *n, size_t n_canvases, const uint64_t *seeds,
                                  const difflm_gen_params *g);

/* Runs one denoising step of every canvas not yet complete, in one forward pass.
 * The step callback (g->step_fn) runs after the pass and every canvas's commits, once
 * per canvas that took part, in canvas order, with info->batch_index naming it and the
 * step, counts and canvas of that canvas; a non-zero return stops the batch with
 * E_CANCELLED (the later canvases' calls of that step are skipped; every canvas keeps
 * what this step committed). Returns OK (some canvas has steps to go), DONE (every
 * canvas is complete; further calls return DONE and do nothing), E_CANCELLED
 * (difflm_cancel or the callback), E_STATE (no batch begun). */
DIFFLM_API int difflm_batch_step(difflm_ctx *ctx);

/* Copies canvas i of the batch (prompt + generated, MASK where still masked) into out.
 * Returns OK (the canvas is still being denoised) or DONE (it is complete: it takes no
 * more steps) with the canvas copied; E_BUFFER_TOO_SMALL (*n_out = its length);
 * E_STATE (no batch begun); E_INVALID_ARG (i >= the batch's canvas count, NULL
 * arguments). Thread safety as difflm_canvas. */
DIFFLM_API int difflm_batch_canvas(const difflm_ctx *ctx, size_t i, difflm_token *out,
                                   size_t cap, size_t *n_out);
/* ---------------------------------------------------------------- infilling
 *
 * A diffusion model can fill holes anywhere, not only after a prompt. The host lays out
 * the whole canvas: fixed tokens, and the MASK id (difflm_model_info.mask_id) at every
 * position to generate, before, between and after the fixed text. */

/* Sets the canvas to a copy of canvas[0 .. n) and prepares the schedule over its MASK
 * positions; the other positions are fixed and never change. g->gen_length is ignored
 * (the number of MASKs is the generated length); everything else means what it means
 * for difflm_generate_begin, over the MASK positions in canvas order (doc/sampling.md
 * "Infilling"): BLOCKS cuts them into consecutive runs of block_length MASK positions
 * (a block may span fixed text), TIMESTEPS works over all of them, the parallel rules and
 * the KV caches work per block as usual, CFG's unconditional canvas masks every fixed
 * position. Then drive it with difflm_generate_step as usual; the step callback's
 * prompt_length is the number of fixed positions before the first MASK.
 * difflm_generate_begin with a prompt is this call on [prompt | MASK x gen_length].
 * Returns OK, E_TOO_LONG (n > max_canvas; checked first), E_INVALID_ARG (bad parameters
 * as for difflm_generate_begin, an id outside the vocabulary, no MASK in the canvas,
 * DIFFLM_GEN_EARLY_STOP when a fixed token follows a MASK: early stop ends the text at
 * an EOS, which fixed text after a hole contradicts), E_UNSUPPORTED (as
 * difflm_generate_begin: a KV cache with CFG). The canvas is copied. */
DIFFLM_API int difflm_generate_begin_canvas(difflm_ctx *ctx, const difflm_token *canvas,
                                            size_t n, const difflm_gen_params *g);

/* Builds a canvas from a template: the NUL-terminated UTF-8 text with each marker
 * "<mask:N>" (N decimal, 1 .. max_canvas) replaced by N MASK ids, e.g.
 * "The<mask:12> sat on the<mask:4>." The text between markers is tokenized piece by
 * piece with difflm_tokenize and flags (DIFFLM_TOKENIZE_PARSE_SPECIAL applies to every
 * piece; DIFFLM_TOKENIZE_ADD_BOS puts one BOS first, before a leading hole too). A
 * piece is tokenized as it stands: a space next to a marker belongs to the piece, so
 * write "The<mask:4> sat" to let the hole begin with a space-led word. Escaping: a
 * backslash right before "<mask:" makes the marker literal text; before a marker, each
 * pair of backslashes stands for one (so "\\<mask:2>" is a backslash and a hole);
 * backslashes elsewhere are text. "<mask" not followed by ':' is text. Writes up to cap
 * ids to out and the count to *n_out. Returns OK, E_BUFFER_TOO_SMALL (*n_out = ids
 * needed), E_INVALID_ARG (NULL text or n_out, out NULL with cap > 0, unknown flags, a
 * malformed marker: the message gives its byte offset), E_NOMEM. */
DIFFLM_API int difflm_infill_canvas(difflm_ctx *ctx, const char *text, uint32_t flags,
                                    difflm_token *out, size_t cap, size_t *n_out);

/* ---------------------------------------------------------------- confidences */

/* difflm_confidences' step values that are not a step number. */
#define DIFFLM_CONF_FIXED (-1)    /* a fixed position (the prompt, a canvas's text) */
#define DIFFLM_CONF_MASKED 0      /* still MASK */

/* How sure the model was, per canvas position, after any step (no extra forward pass:
 * these are the values the steps computed). For each position i < canvas length, into
 * whichever of the arrays are non-NULL (each of cap entries at least):
 *   - fixed position: token[i] its id, step[i] = DIFFLM_CONF_FIXED, prob/score NaN;
 *   - committed: token[i] its id, step[i] the 1-based step that committed it (as
 *     difflm_step_info.step), prob[i] = softmax(l)[token] of the step's logits row l
 *     (untempered, unfiltered, after CFG, with -inf for MASK, ids past the tokenizer and
 *     EOS under DIFFLM_GEN_LOGITS_EOS_INF; not the CONFIDENCE_EOS_EOT_INF suppression),
 *     score[i] the remasking rule's confidence that ranked it (doc/sampling.md: for
 *     RANDOM and ORIGIN the uniform draw; not alg_temp's Gumbel key); a MASK filled with
 *     EOS by an early stop has prob and score NaN;
 *   - still MASK: step[i] = DIFFLM_CONF_MASKED; if the last step that ran predicted it
 *     (a candidate of that step: BLOCKS, its block), token[i] is that prediction x0
 *     (the argmax at temperature 0, the sampled token at T > 0) and prob/score as
 *     above; otherwise (before the first step, a later block) token[i] = -1, prob and
 *     score NaN.
 * With shifted logits (Dream) the values belong to the predicted position p (computed
 * from row p - 1). Under a KV cache they are the approximate pass's, and under parallel
 * decoding each position keeps its own step's values. Returns OK, E_BUFFER_TOO_SMALL
 * (*n_out = canvas length, nothing written), E_STATE (no canvas), E_INVALID_ARG. */
DIFFLM_API int difflm_confidences(const difflm_ctx *ctx, difflm_token *token, int32_t *step,
                                  float *prob, float *score, size_t cap, size_t *n_out);

/* ---------------------------------------------------------------- logits */

/* One bidirectional forward pass over ids[0 .. n) at positions 0 .. n-1 (every position
 * sees every other; MASK ids are allowed: that is how a host asks what the model
 * predicts for a hole), then the output head over the canvas rows rows[0 .. n_rows)
 * (any order, repeats allowed), or over all n rows in order when rows is NULL (n_rows
 * must then be 0). Writes out[i * n_vocab + v], the logit of token v at row rows[i]
 * (row i for all rows), and sets *n_out to the floats written: n_rows * n_vocab, or
 * n * n_vocab for all rows. n_vocab is difflm_model_info's.
 *
 * The logits are raw: the head's output (an output bias included), without temperature,
 * filtering, the -inf a generation gives the ids past the tokenizer's vocabulary, or the
 * shift. With difflm_model_info.shift_logits (Dream) row r predicts position r + 1, so
 * canvas position p >= 1 is predicted by row p - 1 (and position 0 by row 0, as the
 * steps do); without it (LLaDA) row p predicts position p.
 *
 * Deterministic: the same bits for any n_threads, and a row's logits are the same
 * whichever other rows are asked for. Allocates nothing: the pass runs in the context's
 * arena (so n <= max_canvas).
 *
 * A generation in progress is not disturbed: its canvas, schedule, random stream and
 * KV cache are untouched, so a host may call this between difflm_generate_step calls
 * (on difflm_canvas's copy, say) and the generation goes on to the tokens it would have
 * given without.
 *
 * Cancel: difflm_cancel before or during the call stops it (between layers and between
 * chunks of rows) with E_CANCELLED. That call spends the request, so the next one runs,
 * except while a generation has begun and not completed: the request is then that
 * generation's too and stays (its steps and this call return E_CANCELLED) until
 * difflm_generate_begin clears it.
 *
 * Returns OK; E_BUFFER_TOO_SMALL (cap < the floats needed, *n_out = floats needed;
 * checked before any work, so out NULL with cap 0 asks for the size); E_TOO_LONG
 * (n > max_canvas); E_INVALID_ARG (ctx, ids or n_out NULL, n 0, an id outside [0, n_vocab),
 * a row outside [0, n), rows NULL with n_rows not 0, out NULL with cap > 0, or
 * n_rows * n_vocab overflowing a size_t); E_CANCELLED. After an error *n_out is 0 (but
 * for E_BUFFER_TOO_SMALL) and out's contents are unspecified. */
DIFFLM_API int difflm_logits(difflm_ctx *ctx, const difflm_token *ids, size_t n,
                             const int32_t *rows, size_t n_rows, float *out, size_t cap,
                             size_t *n_out);

/* ---------------------------------------------------------------- scoring */

/* How difflm_score estimates. */
typedef struct difflm_score_params {
    uint32_t struct_size;        /* sizeof(difflm_score_params), set by the init call */
    int32_t mc;                  /* forward passes in all, a multiple of batch (default 128,
                                    LLaDA's mc_num) */
    int32_t batch;               /* rows sharing one stratified draw of mask counts
                                    (default 16, LLaDA's batch_size) */
    uint64_t seed;               /* the random stream of the masks (default 0) */
} difflm_score_params;

/* What difflm_score found. Set struct_size (sizeof) before the call: an older, smaller
 * struct gets the fields it has. */
typedef struct difflm_score_result {
    uint32_t struct_size;
    int32_t n_tokens;            /* tokens scored: n */
    int32_t n_iter;              /* mc / batch */
    double nll;                  /* the estimate of -ELBO in nats: an upper bound, in
                                    expectation, on -log p(ids | prompt) */
    double var;                  /* the estimate's variance (from the n_iter iteration
                                    means; from the batch's rows when n_iter is 1; NaN
                                    when mc is 1) */
    double se;                   /* its standard error, sqrt(var) */
} difflm_score_result;

/* Fills *p with defaults. */
DIFFLM_API void difflm_score_params_init(difflm_score_params *p);

/* LLaDA's Monte Carlo estimate of -log p(ids | prompt) (get_log_likelihood, the negative
 * ELBO, an upper bound on the negative log-likelihood), over the sequence prompt[0 ..
 * n_prompt) followed by ids[0 .. n): the prompt is never masked. For each of mc / batch
 * iterations one k is drawn uniform in 1..n and row i of the batch masks
 * m_i = ((round(k + i*n/batch) - 1) mod n) + 1 positions of ids chosen uniformly at random
 * (ties rounded to even); one forward pass per row gives loss_i = (n / m_i) * the sum of
 * -log p(true token) over the masked positions. out->nll is the mean of the mc losses.
 * doc/api.md ("Scoring") gives the order of the random draws. Without a prompt
 * (n_prompt 0) this is the unconditional ELBO of the text; give BOS as the prompt when
 * the model adds BOS (difflm_model_info.add_bos), as generation does.
 *
 * Shifted logits (difflm_model_info.shift_logits, Dream): position p is predicted from
 * row p - 1, so a non-empty text needs n_prompt >= 1.
 *
 * Deterministic: the same bits for the same inputs and seed, for any n_threads. Costs mc
 * forward passes of n_prompt + n tokens. Allocates nothing: it runs in the context's
 * arena (so n_prompt + n <= max_canvas). A generation in progress is not disturbed, as
 * with difflm_logits; cancel as there (difflm_cancel stops it between forward passes and
 * layers with E_CANCELLED).
 *
 * Returns OK (n 0 scores 0 with variance 0); E_TOO_LONG (n_prompt + n > max_canvas);
 * E_INVALID_ARG (ctx or out NULL, out->struct_size too small, prompt NULL with n_prompt
 * > 0, ids NULL with n > 0, an id outside [0, n_vocab), mc or batch < 1, mc not a
 * multiple of batch, a shifted-logits model without a prompt, a bad p->struct_size);
 * E_CANCELLED. p NULL takes the defaults. On error *out is unchanged. */
DIFFLM_API int difflm_score(difflm_ctx *ctx, const difflm_token *prompt, size_t n_prompt,
                            const difflm_token *ids, size_t n, const difflm_score_params *p,
                            difflm_score_result *out);

/* ---------------------------------------------------------------- converting model files
 *
 * difflm_convert writes a GGUF file from a Hugging Face model folder (as downloaded:
 * config.json, *.safetensors or shards with their index, tokenizer.json,
 * tokenizer_config.json) or from a GGUF file, in F32, F16, BF16 or under one of
 * llama-quantize's presets. A folder becomes the GGUF llama.cpp's convert_hf_to_gguf.py
 * writes for it (keys, tokenizer keys and chat template, tensor names and order,
 * LLaDA's q/k permutation); a preset then picks each tensor's type as llama-quantize does
 * (doc/formats.md, "Quantization presets"), so converting a folder to Q4_K_M gives the
 * bytes of converting it to F32 and quantizing that file. The model is read one tensor at
 * a time while the output is written: memory stays near one tensor whatever the model's
 * size. The output is written under a temporary name next to it and renamed at the
 * end: on any failure, or a cancellation, no output file is left behind and an existing
 * file of that name is untouched. */

/* What the progress callback is told after each tensor is written. */
typedef struct difflm_convert_progress {
    uint32_t struct_size;        /* sizeof(difflm_convert_progress) of the library */
    size_t done;                 /* tensors written, this one included */
    size_t total;                /* tensors in the output */
    const char *tensor;          /* its GGUF name, e.g. "blk.0.attn_q.weight" */
    const char *type;            /* its type in the output, e.g. "Q4_K", "F32" */
    uint32_t ggml_type;          /* the same as the GGUF type id (ggml's numbering) */
    uint64_t in_bytes;           /* its bytes in the source (a folder's tensors counted
                                    in the float type they are converted through) */
    uint64_t out_bytes;          /* its bytes in the output */
} difflm_convert_progress;

/* Called on the converting thread after each tensor; p is valid during the call only.
 * Return 0 to go on, anything else to cancel (difflm_convert returns E_CANCELLED). */
typedef int (*difflm_convert_progress_fn)(const difflm_convert_progress *p, void *user);

typedef struct difflm_convert_params {
    uint32_t struct_size;        /* sizeof(difflm_convert_params), set by the init call */
    const char *input;           /* a Hugging Face folder, its config.json, or a GGUF file */
    const char *output;          /* the GGUF file to write (replaced only on success) */
    const char *type;            /* output type, any case: "f32", "f16", "bf16", or a
                                    preset "q4_0" "q4_1" "q5_0" "q5_1" "q8_0" "q4_k_s"
                                    "q4_k_m" "q5_k_s" "q5_k_m" "q6_k" ("q4_k" = "q4_k_m",
                                    "q5_k" = "q5_k_m"); NULL = "f16" (llama.cpp's
                                    converter's default) */
    int32_t pure;                /* 1: every quantizable matrix gets the preset's type (no
                                    head or layer rules, as llama-quantize --pure) */
    int32_t allow_requantize;    /* 1: accept a GGUF whose matrices are already quantized */
    int32_t n_threads;           /* threads that encode rows; 0 = all cores. The output is
                                    the same for any count */
    difflm_convert_progress_fn progress_fn;   /* NULL = none */
    void *progress_user;
    int32_t log_level;           /* most verbose level passed to log_fn (default WARN) */
    difflm_log_fn log_fn;        /* NULL = silent. Errors (ERROR) and rows that fall back
                                    to another type (WARN) are reported here */
    void *log_user;
    difflm_alloc_fn alloc_fn;    /* NULL (with free_fn NULL) = the C library's */
    difflm_free_fn free_fn;
    void *alloc_user;
} difflm_convert_params;

/* Fills *p with defaults. */
DIFFLM_API void difflm_convert_params_init(difflm_convert_params *p);

/* 1 if difflm_convert takes type as its output type (case-insensitive), else 0 (also
 * for NULL). Safe from any thread. */
DIFFLM_API int difflm_convert_type_supported(const char *type);

/* Converts p->input into p->output as described above. Runs on the calling thread (and
 * n_threads - 1 helpers it starts and joins); concurrent calls on different outputs are
 * independent. Returns OK, or, with the detail (naming the file, key or tensor) sent to
 * the log callback at ERROR level, as difflm_model_load does:
 *   E_INVALID_ARG: p NULL or a bad struct_size, no input or output, an unknown type, a
 *     quantized source matrix without allow_requantize, alloc_fn without free_fn;
 *   E_IO: a missing or unreadable input, config.json or shard, an unwritable output;
 *   E_FORMAT: a malformed GGUF, safetensors or JSON file, a tensor with a NaN or an
 *     infinity that would be re-encoded;
 *   E_UNSUPPORTED: an architecture (model_type), dtype, tokenizer or tensor type difflm
 *     does not convert, a folder tensor with no GGUF name;
 *   E_CANCELLED: the progress callback asked to stop;
 *   E_NOMEM. */
DIFFLM_API int difflm_convert(const difflm_convert_params *p);

#ifdef __cplusplus
}
#endif

#endif /* DIFFLM_H */
