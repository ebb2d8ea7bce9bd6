"""The 1:1 layer over include/difflm.h: constants, mirrored structs and prototypes.

Every declaration carries the C prototype it mirrors. Nothing here checks statuses or
converts types; difflm.Context does that.
"""
import ctypes
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p, c_float, c_int,
                    c_int32, c_size_t, c_uint32, c_uint64, c_void_p)

ABI_VERSION = 0  # DIFFLM_ABI_VERSION this module mirrors

# ------------------------------------------------------------------ status codes
OK = 0
DONE = 1
E_INVALID_ARG = -1
E_NOMEM = -2
E_IO = -3
E_FORMAT = -4
E_UNSUPPORTED = -5
E_BUFFER_TOO_SMALL = -6
E_STATE = -7
E_CANCELLED = -8
E_TOO_LONG = -9
E_INTERNAL = -10

STATUS_NAMES = {
    OK: "OK", DONE: "DONE", E_INVALID_ARG: "E_INVALID_ARG", E_NOMEM: "E_NOMEM",
    E_IO: "E_IO", E_FORMAT: "E_FORMAT", E_UNSUPPORTED: "E_UNSUPPORTED",
    E_BUFFER_TOO_SMALL: "E_BUFFER_TOO_SMALL", E_STATE: "E_STATE",
    E_CANCELLED: "E_CANCELLED", E_TOO_LONG: "E_TOO_LONG", E_INTERNAL: "E_INTERNAL",
}

LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG = 0, 1, 2, 3

ARCH_LLADA = 1
ARCH_DREAM = 2
ARCH_LLADA_MOE = 3
ARCH_LLADA2 = 4

TOKENIZE_ADD_BOS = 1
TOKENIZE_PARSE_SPECIAL = 2
DETOKENIZE_SPECIAL = 1

SCHEDULE_AUTO, SCHEDULE_BLOCKS, SCHEDULE_TIMESTEPS, SCHEDULE_BLOCK_DIFFUSION = 0, 1, 2, 3

REMASK_AUTO = 0
REMASK_LOW_CONFIDENCE = 1
REMASK_RANDOM = 2
REMASK_ORIGIN = 3
REMASK_MASKGIT_PLUS = 4
REMASK_TOPK_MARGIN = 5
REMASK_ENTROPY = 6

GEN_LOGITS_EOS_INF = 1
GEN_CONFIDENCE_EOS_EOT_INF = 2
GEN_EARLY_STOP = 4
GEN_ALL_LOGITS = 8
GEN_BLOCK_RECOMPUTE = 16

CONF_FIXED = -1   # difflm_confidences: a fixed position (prompt, a canvas's text)
CONF_MASKED = 0   # difflm_confidences: still MASK

PARALLEL_NONE, PARALLEL_THRESHOLD, PARALLEL_FACTOR = 0, 1, 2

CACHE_NONE, CACHE_PREFIX, CACHE_DUAL = 0, 1, 2
# difflm_ctx_params.precision
PRECISION_EXACT, PRECISION_BF16 = 0, 1
# difflm_ctx_params.pack_weights
PACK_AUTO, PACK_OFF, PACK_ON = 0, 1, 2

difflm_token = c_int32

# ------------------------------------------------------------------ callbacks and structs

# typedef void (*difflm_log_fn)(int32_t level, const char *message, void *user);
difflm_log_fn = CFUNCTYPE(None, c_int32, c_char_p, c_void_p)


class difflm_step_info(Structure):
    """typedef struct difflm_step_info { uint32_t struct_size; int32_t step, total_steps,
    n_committed, n_masked, prompt_length; const difflm_token *canvas;
    size_t canvas_length; int32_t batch_index; } difflm_step_info;"""
    _fields_ = [
        ("struct_size", c_uint32),
        ("step", c_int32),
        ("total_steps", c_int32),
        ("n_committed", c_int32),
        ("n_masked", c_int32),
        ("prompt_length", c_int32),
        ("canvas", POINTER(difflm_token)),
        ("canvas_length", c_size_t),
        ("batch_index", c_int32),
    ]


# typedef int (*difflm_step_fn)(const difflm_step_info *info, void *user);
difflm_step_fn = CFUNCTYPE(c_int, POINTER(difflm_step_info), c_void_p)


class difflm_params(Structure):
    """typedef struct difflm_params { uint32_t struct_size; const char *model_path;
    int32_t n_threads, max_canvas, mask_token_id, log_level; difflm_log_fn log_fn;
    void *log_user; int32_t max_batch, reserved0, precision, pack_weights; } difflm_params;"""
    _fields_ = [
        ("struct_size", c_uint32),
        ("model_path", c_char_p),
        ("n_threads", c_int32),
        ("max_canvas", c_int32),
        ("mask_token_id", c_int32),
        ("log_level", c_int32),
        ("log_fn", difflm_log_fn),
        ("log_user", c_void_p),
        ("max_batch", c_int32),
        ("reserved0", c_int32),
        ("precision", c_int32),
        ("pack_weights", c_int32),
    ]


# typedef int (*difflm_read_fn)(void *user, uint64_t offset, void *dst, size_t n);
difflm_read_fn = CFUNCTYPE(c_int, c_void_p, c_uint64, c_void_p, c_size_t)
# typedef void *(*difflm_alloc_fn)(size_t size, size_t alignment, void *user);
difflm_alloc_fn = CFUNCTYPE(c_void_p, c_size_t, c_size_t, c_void_p)
# typedef void (*difflm_free_fn)(void *ptr, void *user);
difflm_free_fn = CFUNCTYPE(None, c_void_p, c_void_p)


class difflm_model_params(Structure):
    """typedef struct difflm_model_params { uint32_t struct_size; const char *path;
    int32_t mask_token_id, log_level; difflm_log_fn log_fn; void *log_user;
    difflm_alloc_fn alloc_fn; difflm_free_fn free_fn; void *alloc_user;
    const void *data; size_t size; difflm_read_fn read_fn; void *read_user;
    } difflm_model_params;"""
    _fields_ = [
        ("struct_size", c_uint32),
        ("path", c_char_p),
        ("mask_token_id", c_int32),
        ("log_level", c_int32),
        ("log_fn", difflm_log_fn),
        ("log_user", c_void_p),
        ("alloc_fn", difflm_alloc_fn),
        ("free_fn", difflm_free_fn),
        ("alloc_user", c_void_p),
        ("data", c_void_p),
        ("size", c_size_t),
        ("read_fn", difflm_read_fn),
        ("read_user", c_void_p),
    ]


class difflm_ctx_params(Structure):
    """typedef struct difflm_ctx_params { uint32_t struct_size; int32_t n_threads,
    max_canvas, log_level; difflm_log_fn log_fn; void *log_user; difflm_alloc_fn alloc_fn;
    difflm_free_fn free_fn; void *alloc_user; int32_t max_batch, reserved0, precision,
    pack_weights; } difflm_ctx_params;"""
    _fields_ = [
        ("struct_size", c_uint32),
        ("n_threads", c_int32),
        ("max_canvas", c_int32),
        ("log_level", c_int32),
        ("log_fn", difflm_log_fn),
        ("log_user", c_void_p),
        ("alloc_fn", difflm_alloc_fn),
        ("free_fn", difflm_free_fn),
        ("alloc_user", c_void_p),
        ("max_batch", c_int32),
        ("reserved0", c_int32),
        ("precision", c_int32),
        ("pack_weights", c_int32),
    ]


class difflm_model_info(Structure):
    """typedef struct difflm_model_info { uint32_t struct_size; int32_t arch, n_vocab,
    n_ctx_train, max_canvas, n_layer, n_embd, n_head, n_head_kv, n_ff, shift_logits,
    mask_id, bos_id, eos_id, eot_id, add_bos; uint64_t n_params; int32_t block_length;
    } difflm_model_info;"""
    _fields_ = [("struct_size", c_uint32)] + [
        (name, c_int32) for name in (
            "arch", "n_vocab", "n_ctx_train", "max_canvas", "n_layer", "n_embd", "n_head",
            "n_head_kv", "n_ff", "shift_logits", "mask_id", "bos_id", "eos_id", "eot_id",
            "add_bos")
    ] + [("n_params", c_uint64), ("block_length", c_int32)]


class difflm_score_params(Structure):
    """typedef struct difflm_score_params { uint32_t struct_size; int32_t mc, batch;
    uint64_t seed; } difflm_score_params;"""
    _fields_ = [("struct_size", c_uint32), ("mc", c_int32), ("batch", c_int32),
                ("seed", c_uint64)]


class difflm_score_result(Structure):
    """typedef struct difflm_score_result { uint32_t struct_size; int32_t n_tokens, n_iter;
    double nll, var, se; } difflm_score_result;"""
    _fields_ = [("struct_size", c_uint32), ("n_tokens", c_int32), ("n_iter", c_int32),
                ("nll", ctypes.c_double), ("var", ctypes.c_double), ("se", ctypes.c_double)]


class difflm_chat_message(Structure):
    """typedef struct difflm_chat_message { const char *role; const char *content; }"""
    _fields_ = [("role", c_char_p), ("content", c_char_p)]


class difflm_gen_params(Structure):
    """typedef struct difflm_gen_params { uint32_t struct_size; int32_t gen_length, steps,
    block_length, schedule, remasking; float temperature; int32_t top_k; float top_p,
    cfg_scale, eps, alg_temp; uint64_t seed; uint32_t flags; difflm_step_fn step_fn;
    void *step_user; int32_t parallel; float threshold, factor; int32_t cache;
    float block_threshold, editing_threshold; int32_t max_post_steps; } difflm_gen_params;"""
    _fields_ = [
        ("struct_size", c_uint32),
        ("gen_length", c_int32),
        ("steps", c_int32),
        ("block_length", c_int32),
        ("schedule", c_int32),
        ("remasking", c_int32),
        ("temperature", c_float),
        ("top_k", c_int32),
        ("top_p", c_float),
        ("cfg_scale", c_float),
        ("eps", c_float),
        ("alg_temp", c_float),
        ("seed", c_uint64),
        ("flags", c_uint32),
        ("step_fn", difflm_step_fn),
        ("step_user", c_void_p),
        ("parallel", c_int32),
        ("threshold", c_float),
        ("factor", c_float),
        ("cache", c_int32),
        ("block_threshold", c_float),
        ("editing_threshold", c_float),
        ("max_post_steps", c_int32),
    ]


# ------------------------------------------------------------------ prototypes

_ctx_p = c_void_p  # difflm_ctx * (opaque)
_model_p = c_void_p  # difflm_model * (opaque)

# name: (restype, argtypes, C prototype)
PROTOTYPES = {
    "difflm_status_str": (c_char_p, [c_int],
        "const char *difflm_status_str(int status);"),
    "difflm_version": (c_char_p, [],
        "const char *difflm_version(void);"),
    "difflm_version_number": (c_uint32, [],
        "uint32_t difflm_version_number(void);"),
    "difflm_abi_version": (c_uint32, [],
        "uint32_t difflm_abi_version(void);"),
    "difflm_params_init": (None, [POINTER(difflm_params)],
        "void difflm_params_init(difflm_params *p);"),
    "difflm_create": (_ctx_p, [POINTER(difflm_params), POINTER(c_int)],
        "difflm_ctx *difflm_create(const difflm_params *p, int *status);"),
    "difflm_free": (None, [_ctx_p],
        "void difflm_free(difflm_ctx *ctx);"),
    "difflm_last_error": (c_char_p, [_ctx_p],
        "const char *difflm_last_error(const difflm_ctx *ctx);"),
    "difflm_status_name": (c_char_p, [c_int],
        "const char *difflm_status_name(int status);"),
    "difflm_model_params_init": (None, [POINTER(difflm_model_params)],
        "void difflm_model_params_init(difflm_model_params *p);"),
    "difflm_model_load": (_model_p, [POINTER(difflm_model_params), POINTER(c_int)],
        "difflm_model *difflm_model_load(const difflm_model_params *p, int *status);"),
    "difflm_model_free": (None, [_model_p],
        "void difflm_model_free(difflm_model *model);"),
    "difflm_model_describe": (c_int, [_model_p, POINTER(difflm_model_info)],
        "int difflm_model_describe(const difflm_model *model, difflm_model_info *out);"),
    "difflm_ctx_params_init": (None, [POINTER(difflm_ctx_params)],
        "void difflm_ctx_params_init(difflm_ctx_params *p);"),
    "difflm_ctx_create": (_ctx_p, [_model_p, POINTER(difflm_ctx_params), POINTER(c_int)],
        "difflm_ctx *difflm_ctx_create(difflm_model *model, const difflm_ctx_params *p, "
        "int *status);"),
    "difflm_ctx_memory_required": (c_int, [_model_p, POINTER(difflm_ctx_params),
                                           POINTER(c_size_t)],
        "int difflm_ctx_memory_required(const difflm_model *model, "
        "const difflm_ctx_params *p, size_t *bytes);"),
    "difflm_ctx_model": (_model_p, [_ctx_p],
        "difflm_model *difflm_ctx_model(const difflm_ctx *ctx);"),
    "difflm_model_info_get": (c_int, [_ctx_p, POINTER(difflm_model_info)],
        "int difflm_model_info_get(const difflm_ctx *ctx, difflm_model_info *out);"),
    "difflm_tokenize": (c_int, [_ctx_p, c_char_p, c_size_t, c_uint32, POINTER(difflm_token),
                                c_size_t, POINTER(c_size_t)],
        "int difflm_tokenize(difflm_ctx *ctx, const char *text, size_t len, uint32_t flags, "
        "difflm_token *out, size_t cap, size_t *n_out);"),
    "difflm_detokenize": (c_int, [_ctx_p, POINTER(difflm_token), c_size_t, c_uint32,
                                  POINTER(c_char), c_size_t, POINTER(c_size_t)],
        "int difflm_detokenize(difflm_ctx *ctx, const difflm_token *ids, size_t n, "
        "uint32_t flags, char *out, size_t cap, size_t *n_out);"),
    "difflm_chat_format": (c_int, [_ctx_p, POINTER(difflm_chat_message), c_size_t, c_int32,
                                   POINTER(c_char), c_size_t, POINTER(c_size_t)],
        "int difflm_chat_format(difflm_ctx *ctx, const difflm_chat_message *msgs, size_t n, "
        "int32_t add_assistant, char *out, size_t cap, size_t *n_out);"),
    "difflm_gen_params_init": (None, [POINTER(difflm_gen_params)],
        "void difflm_gen_params_init(difflm_gen_params *g);"),
    "difflm_generate_begin": (c_int, [_ctx_p, POINTER(difflm_token), c_size_t,
                                      POINTER(difflm_gen_params)],
        "int difflm_generate_begin(difflm_ctx *ctx, const difflm_token *prompt, size_t n, "
        "const difflm_gen_params *g);"),
    "difflm_generate_step": (c_int, [_ctx_p],
        "int difflm_generate_step(difflm_ctx *ctx);"),
    "difflm_canvas": (c_int, [_ctx_p, POINTER(difflm_token), c_size_t, POINTER(c_size_t)],
        "int difflm_canvas(const difflm_ctx *ctx, difflm_token *out, size_t cap, "
        "size_t *n_out);"),
    "difflm_sample": (c_int, [_ctx_p, c_char_p, POINTER(difflm_gen_params), POINTER(c_char),
                              c_size_t, POINTER(c_size_t)],
        "int difflm_sample(difflm_ctx *ctx, const char *prompt, const difflm_gen_params *g, "
        "char *out, size_t cap, size_t *n_out);"),
    "difflm_cancel": (None, [_ctx_p],
        "void difflm_cancel(difflm_ctx *ctx);"),
    "difflm_batch_begin": (c_int, [_ctx_p, POINTER(POINTER(difflm_token)), POINTER(c_size_t),
                                   c_size_t, POINTER(ctypes.c_uint64),
                                   POINTER(difflm_gen_params)],
        "int difflm_batch_begin(difflm_ctx *ctx, const difflm_token *const *prompts, "
        "const size_t *n, size_t n_canvases, const uint64_t *seeds, "
        "const difflm_gen_params *g);"),
    "difflm_batch_step": (c_int, [_ctx_p],
        "int difflm_batch_step(difflm_ctx *ctx);"),
    "difflm_batch_canvas": (c_int, [_ctx_p, c_size_t, POINTER(difflm_token), c_size_t,
                                    POINTER(c_size_t)],
        "int difflm_batch_canvas(const difflm_ctx *ctx, size_t i, difflm_token *out, "
        "size_t cap, size_t *n_out);"),
    "difflm_logits": (c_int, [_ctx_p, POINTER(difflm_token), c_size_t, POINTER(c_int32),
                              c_size_t, POINTER(c_float), c_size_t, POINTER(c_size_t)],
        "int difflm_logits(difflm_ctx *ctx, const difflm_token *ids, size_t n, "
        "const int32_t *rows, size_t n_rows, float *out, size_t cap, size_t *n_out);"),
    "difflm_score_params_init": (None, [POINTER(difflm_score_params)],
        "void difflm_score_params_init(difflm_score_params *p);"),
    "difflm_score": (c_int, [_ctx_p, POINTER(difflm_token), c_size_t, POINTER(difflm_token),
                             c_size_t, POINTER(difflm_score_params),
                             POINTER(difflm_score_result)],
        "int difflm_score(difflm_ctx *ctx, const difflm_token *prompt, size_t n_prompt, "
        "const difflm_token *ids, size_t n, const difflm_score_params *p, "
        "difflm_score_result *out);"),
    "difflm_generate_begin_canvas": (c_int, [_ctx_p, POINTER(difflm_token), c_size_t,
                                             POINTER(difflm_gen_params)],
        "int difflm_generate_begin_canvas(difflm_ctx *ctx, const difflm_token *canvas, "
        "size_t n, const difflm_gen_params *g);"),
    "difflm_infill_canvas": (c_int, [_ctx_p, c_char_p, c_uint32, POINTER(difflm_token),
                                     c_size_t, POINTER(c_size_t)],
        "int difflm_infill_canvas(difflm_ctx *ctx, const char *text, uint32_t flags, "
        "difflm_token *out, size_t cap, size_t *n_out);"),
    "difflm_confidences": (c_int, [_ctx_p, POINTER(difflm_token), POINTER(c_int32),
                                   POINTER(c_float), POINTER(c_float), c_size_t,
                                   POINTER(c_size_t)],
        "int difflm_confidences(const difflm_ctx *ctx, difflm_token *token, int32_t *step, "
        "float *prob, float *score, size_t cap, size_t *n_out);"),
}


def bind(lib):
    """Sets restype and argtypes on every function of the opened library; returns it."""
    for name, (restype, argtypes, _proto) in PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


def library_struct_size(init_fn):
    """The size the library gives a parameter struct: its *_params_init writes sizeof into
    struct_size. A generous zeroed buffer stands in for the struct, so a library whose
    struct grew cannot write past what Python allocated."""
    buf = ctypes.create_string_buffer(4096)
    init_fn(ctypes.cast(buf, init_fn.argtypes[0]))
    return c_uint32.from_buffer(buf).value
