//! Raw declarations of `include/difflm.h` (ABI 0), one to one. Every item carries the C
//! declaration it mirrors; see the header for the contract of each call. The safe
//! wrapper is the `difflm` crate.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_void};

/// The ABI these declarations mirror (`DIFFLM_ABI_VERSION`).
pub const DIFFLM_ABI_VERSION: u32 = 0;

// ---------------------------------------------------------------- status codes
pub const DIFFLM_OK: c_int = 0;
pub const DIFFLM_DONE: c_int = 1;
pub const DIFFLM_E_INVALID_ARG: c_int = -1;
pub const DIFFLM_E_NOMEM: c_int = -2;
pub const DIFFLM_E_IO: c_int = -3;
pub const DIFFLM_E_FORMAT: c_int = -4;
pub const DIFFLM_E_UNSUPPORTED: c_int = -5;
pub const DIFFLM_E_BUFFER_TOO_SMALL: c_int = -6;
pub const DIFFLM_E_STATE: c_int = -7;
pub const DIFFLM_E_CANCELLED: c_int = -8;
pub const DIFFLM_E_TOO_LONG: c_int = -9;
pub const DIFFLM_E_INTERNAL: c_int = -10;

pub const DIFFLM_LOG_ERROR: i32 = 0;
pub const DIFFLM_LOG_WARN: i32 = 1;
pub const DIFFLM_LOG_INFO: i32 = 2;
pub const DIFFLM_LOG_DEBUG: i32 = 3;

pub const DIFFLM_ARCH_LLADA: i32 = 1;
pub const DIFFLM_ARCH_DREAM: i32 = 2;
pub const DIFFLM_ARCH_LLADA_MOE: i32 = 3;
pub const DIFFLM_ARCH_LLADA2: i32 = 4;

pub const DIFFLM_TOKENIZE_ADD_BOS: u32 = 1;
pub const DIFFLM_TOKENIZE_PARSE_SPECIAL: u32 = 2;
pub const DIFFLM_DETOKENIZE_SPECIAL: u32 = 1;

pub const DIFFLM_SCHEDULE_AUTO: i32 = 0;
pub const DIFFLM_SCHEDULE_BLOCKS: i32 = 1;
pub const DIFFLM_SCHEDULE_TIMESTEPS: i32 = 2;
pub const DIFFLM_SCHEDULE_BLOCK_DIFFUSION: i32 = 3;

pub const DIFFLM_REMASK_AUTO: i32 = 0;
pub const DIFFLM_REMASK_LOW_CONFIDENCE: i32 = 1;
pub const DIFFLM_REMASK_RANDOM: i32 = 2;
pub const DIFFLM_REMASK_ORIGIN: i32 = 3;
pub const DIFFLM_REMASK_MASKGIT_PLUS: i32 = 4;
pub const DIFFLM_REMASK_TOPK_MARGIN: i32 = 5;
pub const DIFFLM_REMASK_ENTROPY: i32 = 6;

pub const DIFFLM_GEN_LOGITS_EOS_INF: u32 = 1;
pub const DIFFLM_GEN_CONFIDENCE_EOS_EOT_INF: u32 = 2;
pub const DIFFLM_GEN_EARLY_STOP: u32 = 4;
pub const DIFFLM_GEN_ALL_LOGITS: u32 = 8;
pub const DIFFLM_GEN_BLOCK_RECOMPUTE: u32 = 16;
/// `difflm_confidences`: a fixed position (the prompt, a canvas's text).
pub const DIFFLM_CONF_FIXED: i32 = -1;
/// `difflm_confidences`: a position still MASK.
pub const DIFFLM_CONF_MASKED: i32 = 0;

pub const DIFFLM_PARALLEL_NONE: i32 = 0;
pub const DIFFLM_PARALLEL_THRESHOLD: i32 = 1;
pub const DIFFLM_PARALLEL_FACTOR: i32 = 2;

pub const DIFFLM_CACHE_NONE: i32 = 0;
pub const DIFFLM_CACHE_PREFIX: i32 = 1;
pub const DIFFLM_CACHE_DUAL: i32 = 2;
/// `difflm_ctx_params.precision`
pub const DIFFLM_PRECISION_EXACT: i32 = 0;
pub const DIFFLM_PRECISION_BF16: i32 = 1;
/// `difflm_ctx_params.pack_weights`
pub const DIFFLM_PACK_AUTO: i32 = 0;
pub const DIFFLM_PACK_OFF: i32 = 1;
pub const DIFFLM_PACK_ON: i32 = 2;

// ---------------------------------------------------------------- types

/// `typedef int32_t difflm_token;`
pub type difflm_token = i32;

/// `typedef struct difflm_ctx difflm_ctx;` (opaque)
#[repr(C)]
pub struct difflm_ctx {
    _private: [u8; 0],
}

/// `typedef struct difflm_model difflm_model;` (opaque)
#[repr(C)]
pub struct difflm_model {
    _private: [u8; 0],
}

/// `typedef void *(*difflm_alloc_fn)(size_t size, size_t alignment, void *user);`
pub type difflm_alloc_fn =
    Option<unsafe extern "C" fn(size: usize, alignment: usize, user: *mut c_void) -> *mut c_void>;

/// `typedef void (*difflm_free_fn)(void *ptr, void *user);`
pub type difflm_free_fn = Option<unsafe extern "C" fn(ptr: *mut c_void, user: *mut c_void)>;

/// `typedef int (*difflm_read_fn)(void *user, uint64_t offset, void *dst, size_t n);`
pub type difflm_read_fn = Option<
    unsafe extern "C" fn(user: *mut c_void, offset: u64, dst: *mut c_void, n: usize) -> c_int,
>;

/// `typedef void (*difflm_log_fn)(int32_t level, const char *message, void *user);`
pub type difflm_log_fn =
    Option<unsafe extern "C" fn(level: i32, message: *const c_char, user: *mut c_void)>;

/// `typedef struct difflm_step_info { uint32_t struct_size; int32_t step, total_steps,
/// n_committed, n_masked, prompt_length; const difflm_token *canvas;
/// size_t canvas_length; } difflm_step_info;`
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct difflm_step_info {
    pub struct_size: u32,
    pub step: i32,
    pub total_steps: i32,
    pub n_committed: i32,
    pub n_masked: i32,
    pub prompt_length: i32,
    pub canvas: *const difflm_token,
    pub canvas_length: usize,
    pub batch_index: i32,
}

/// `typedef int (*difflm_step_fn)(const difflm_step_info *info, void *user);`
pub type difflm_step_fn =
    Option<unsafe extern "C" fn(info: *const difflm_step_info, user: *mut c_void) -> c_int>;

/// `typedef struct difflm_params { uint32_t struct_size; const char *model_path;
/// int32_t n_threads, max_canvas, mask_token_id, log_level; difflm_log_fn log_fn;
/// void *log_user; int32_t max_batch, reserved0, precision, pack_weights; } difflm_params;`
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct difflm_params {
    pub struct_size: u32,
    pub model_path: *const c_char,
    pub n_threads: i32,
    pub max_canvas: i32,
    pub mask_token_id: i32,
    pub log_level: i32,
    pub log_fn: difflm_log_fn,
    pub log_user: *mut c_void,
    pub max_batch: i32,
    pub reserved0: i32,
    pub precision: i32,
    pub pack_weights: i32,
}

/// `typedef struct difflm_model_params { uint32_t struct_size; const char *path;
/// int32_t mask_token_id, log_level; difflm_log_fn log_fn; void *log_user;
/// difflm_alloc_fn alloc_fn; difflm_free_fn free_fn; void *alloc_user; const void *data;
/// size_t size; difflm_read_fn read_fn; void *read_user; } difflm_model_params;`
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct difflm_model_params {
    pub struct_size: u32,
    pub path: *const c_char,
    pub mask_token_id: i32,
    pub log_level: i32,
    pub log_fn: difflm_log_fn,
    pub log_user: *mut c_void,
    pub alloc_fn: difflm_alloc_fn,
    pub free_fn: difflm_free_fn,
    pub alloc_user: *mut c_void,
    pub data: *const c_void,
    pub size: usize,
    pub read_fn: difflm_read_fn,
    pub read_user: *mut c_void,
}

/// `typedef struct difflm_ctx_params { uint32_t struct_size; int32_t n_threads,
/// max_canvas, log_level; difflm_log_fn log_fn; void *log_user; difflm_alloc_fn alloc_fn;
/// difflm_free_fn free_fn; void *alloc_user; int32_t max_batch, reserved0, precision,
/// pack_weights; } difflm_ctx_params;`
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct difflm_ctx_params {
    pub struct_size: u32,
    pub n_threads: i32,
    pub max_canvas: i32,
    pub log_level: i32,
    pub log_fn: difflm_log_fn,
    pub log_user: *mut c_void,
    pub alloc_fn: difflm_alloc_fn,
    pub free_fn: difflm_free_fn,
    pub alloc_user: *mut c_void,
    pub max_batch: i32,
    pub reserved0: i32,
    pub precision: i32,
    pub pack_weights: i32,
}

/// `typedef struct difflm_model_info { uint32_t struct_size; int32_t arch, n_vocab,
/// n_ctx_train, max_canvas, n_layer, n_embd, n_head, n_head_kv, n_ff, shift_logits,
/// mask_id, bos_id, eos_id, eot_id, add_bos; uint64_t n_params; int32_t block_length;
/// } difflm_model_info;`
/// `typedef struct difflm_score_params { uint32_t struct_size; int32_t mc, batch;
/// uint64_t seed; } difflm_score_params;`
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct difflm_score_params {
    pub struct_size: u32,
    pub mc: i32,
    pub batch: i32,
    pub seed: u64,
}

/// `typedef struct difflm_score_result { uint32_t struct_size; int32_t n_tokens, n_iter;
/// double nll, var, se; } difflm_score_result;`
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct difflm_score_result {
    pub struct_size: u32,
    pub n_tokens: i32,
    pub n_iter: i32,
    pub nll: f64,
    pub var: f64,
    pub se: f64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct difflm_model_info {
    pub struct_size: u32,
    pub arch: i32,
    pub n_vocab: i32,
    pub n_ctx_train: i32,
    pub max_canvas: i32,
    pub n_layer: i32,
    pub n_embd: i32,
    pub n_head: i32,
    pub n_head_kv: i32,
    pub n_ff: i32,
    pub shift_logits: i32,
    pub mask_id: i32,
    pub bos_id: i32,
    pub eos_id: i32,
    pub eot_id: i32,
    pub add_bos: i32,
    pub n_params: u64,
    pub block_length: i32,
}

/// `typedef struct difflm_chat_message { const char *role; const char *content; }`
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct difflm_chat_message {
    pub role: *const c_char,
    pub content: *const c_char,
}

/// `typedef struct difflm_gen_params { uint32_t struct_size; int32_t gen_length, steps,
/// block_length, schedule, remasking; float temperature; int32_t top_k; float top_p,
/// cfg_scale, eps, alg_temp; uint64_t seed; uint32_t flags; difflm_step_fn step_fn;
/// void *step_user; int32_t parallel; float threshold, factor; int32_t cache;
/// float block_threshold, editing_threshold; int32_t max_post_steps; } difflm_gen_params;`
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct difflm_gen_params {
    pub struct_size: u32,
    pub gen_length: i32,
    pub steps: i32,
    pub block_length: i32,
    pub schedule: i32,
    pub remasking: i32,
    pub temperature: f32,
    pub top_k: i32,
    pub top_p: f32,
    pub cfg_scale: f32,
    pub eps: f32,
    pub alg_temp: f32,
    pub seed: u64,
    pub flags: u32,
    pub step_fn: difflm_step_fn,
    pub step_user: *mut c_void,
    pub parallel: i32,
    pub threshold: f32,
    pub factor: f32,
    pub cache: i32,
    pub block_threshold: f32,
    pub editing_threshold: f32,
    pub max_post_steps: i32,
}

extern "C" {
    /// `const char *difflm_status_str(int status);`
    pub fn difflm_status_str(status: c_int) -> *const c_char;
    /// `const char *difflm_status_name(int status);`
    pub fn difflm_status_name(status: c_int) -> *const c_char;
    /// `const char *difflm_version(void);`
    pub fn difflm_version() -> *const c_char;
    /// `uint32_t difflm_version_number(void);`
    pub fn difflm_version_number() -> u32;
    /// `uint32_t difflm_abi_version(void);`
    pub fn difflm_abi_version() -> u32;

    /// `void difflm_params_init(difflm_params *p);`
    pub fn difflm_params_init(p: *mut difflm_params);
    /// `difflm_ctx *difflm_create(const difflm_params *p, int *status);`
    pub fn difflm_create(p: *const difflm_params, status: *mut c_int) -> *mut difflm_ctx;
    /// `void difflm_free(difflm_ctx *ctx);`
    pub fn difflm_free(ctx: *mut difflm_ctx);
    /// `const char *difflm_last_error(const difflm_ctx *ctx);`
    pub fn difflm_last_error(ctx: *const difflm_ctx) -> *const c_char;
    /// `void difflm_model_params_init(difflm_model_params *p);`
    pub fn difflm_model_params_init(p: *mut difflm_model_params);
    /// `difflm_model *difflm_model_load(const difflm_model_params *p, int *status);`
    pub fn difflm_model_load(
        p: *const difflm_model_params,
        status: *mut c_int,
    ) -> *mut difflm_model;
    /// `void difflm_model_free(difflm_model *model);`
    pub fn difflm_model_free(model: *mut difflm_model);
    /// `int difflm_model_describe(const difflm_model *model, difflm_model_info *out);`
    pub fn difflm_model_describe(model: *const difflm_model, out: *mut difflm_model_info) -> c_int;
    /// `void difflm_ctx_params_init(difflm_ctx_params *p);`
    pub fn difflm_ctx_params_init(p: *mut difflm_ctx_params);
    /// `difflm_ctx *difflm_ctx_create(difflm_model *model, const difflm_ctx_params *p,
    /// int *status);`
    pub fn difflm_ctx_create(
        model: *mut difflm_model,
        p: *const difflm_ctx_params,
        status: *mut c_int,
    ) -> *mut difflm_ctx;
    /// `int difflm_ctx_memory_required(const difflm_model *model,
    /// const difflm_ctx_params *p, size_t *bytes);`
    pub fn difflm_ctx_memory_required(
        model: *const difflm_model,
        p: *const difflm_ctx_params,
        bytes: *mut usize,
    ) -> c_int;
    /// `difflm_model *difflm_ctx_model(const difflm_ctx *ctx);`
    pub fn difflm_ctx_model(ctx: *const difflm_ctx) -> *mut difflm_model;
    /// `int difflm_model_info_get(const difflm_ctx *ctx, difflm_model_info *out);`
    pub fn difflm_model_info_get(ctx: *const difflm_ctx, out: *mut difflm_model_info) -> c_int;

    /// `int difflm_tokenize(difflm_ctx *ctx, const char *text, size_t len, uint32_t flags,
    /// difflm_token *out, size_t cap, size_t *n_out);`
    pub fn difflm_tokenize(
        ctx: *mut difflm_ctx,
        text: *const c_char,
        len: usize,
        flags: u32,
        out: *mut difflm_token,
        cap: usize,
        n_out: *mut usize,
    ) -> c_int;
    /// `int difflm_detokenize(difflm_ctx *ctx, const difflm_token *ids, size_t n,
    /// uint32_t flags, char *out, size_t cap, size_t *n_out);`
    pub fn difflm_detokenize(
        ctx: *mut difflm_ctx,
        ids: *const difflm_token,
        n: usize,
        flags: u32,
        out: *mut c_char,
        cap: usize,
        n_out: *mut usize,
    ) -> c_int;
    /// `int difflm_chat_format(difflm_ctx *ctx, const difflm_chat_message *msgs, size_t n,
    /// int32_t add_assistant, char *out, size_t cap, size_t *n_out);`
    pub fn difflm_chat_format(
        ctx: *mut difflm_ctx,
        msgs: *const difflm_chat_message,
        n: usize,
        add_assistant: i32,
        out: *mut c_char,
        cap: usize,
        n_out: *mut usize,
    ) -> c_int;

    /// `void difflm_gen_params_init(difflm_gen_params *g);`
    pub fn difflm_gen_params_init(g: *mut difflm_gen_params);
    /// `int difflm_generate_begin(difflm_ctx *ctx, const difflm_token *prompt, size_t n,
    /// const difflm_gen_params *g);`
    pub fn difflm_generate_begin(
        ctx: *mut difflm_ctx,
        prompt: *const difflm_token,
        n: usize,
        g: *const difflm_gen_params,
    ) -> c_int;
    /// `int difflm_generate_step(difflm_ctx *ctx);`
    pub fn difflm_generate_step(ctx: *mut difflm_ctx) -> c_int;
    /// `int difflm_canvas(const difflm_ctx *ctx, difflm_token *out, size_t cap,
    /// size_t *n_out);`
    pub fn difflm_canvas(
        ctx: *const difflm_ctx,
        out: *mut difflm_token,
        cap: usize,
        n_out: *mut usize,
    ) -> c_int;
    /// `int difflm_sample(difflm_ctx *ctx, const char *prompt, const difflm_gen_params *g,
    /// char *out, size_t cap, size_t *n_out);`
    pub fn difflm_sample(
        ctx: *mut difflm_ctx,
        prompt: *const c_char,
        g: *const difflm_gen_params,
        out: *mut c_char,
        cap: usize,
        n_out: *mut usize,
    ) -> c_int;
    /// `void difflm_cancel(difflm_ctx *ctx);`
    pub fn difflm_cancel(ctx: *mut difflm_ctx);
    /// `int difflm_batch_begin(difflm_ctx *ctx, const difflm_token *const *prompts,
    /// const size_t *n, size_t n_canvases, const uint64_t *seeds,
    /// const difflm_gen_params *g);`
    pub fn difflm_batch_begin(
        ctx: *mut difflm_ctx,
        prompts: *const *const difflm_token,
        n: *const usize,
        n_canvases: usize,
        seeds: *const u64,
        g: *const difflm_gen_params,
    ) -> c_int;
    /// `int difflm_batch_step(difflm_ctx *ctx);`
    pub fn difflm_batch_step(ctx: *mut difflm_ctx) -> c_int;
    /// `int difflm_batch_canvas(const difflm_ctx *ctx, size_t i, difflm_token *out,
    /// size_t cap, size_t *n_out);`
    pub fn difflm_batch_canvas(
        ctx: *const difflm_ctx,
        i: usize,
        out: *mut difflm_token,
        cap: usize,
        n_out: *mut usize,
    ) -> c_int;
    /// `int difflm_generate_begin_canvas(difflm_ctx *ctx, const difflm_token *canvas,
    /// size_t n, const difflm_gen_params *g);`
    pub fn difflm_generate_begin_canvas(
        ctx: *mut difflm_ctx,
        canvas: *const difflm_token,
        n: usize,
        g: *const difflm_gen_params,
    ) -> c_int;
    /// `int difflm_infill_canvas(difflm_ctx *ctx, const char *text, uint32_t flags,
    /// difflm_token *out, size_t cap, size_t *n_out);`
    pub fn difflm_infill_canvas(
        ctx: *mut difflm_ctx,
        text: *const c_char,
        flags: u32,
        out: *mut difflm_token,
        cap: usize,
        n_out: *mut usize,
    ) -> c_int;
    /// `int difflm_confidences(const difflm_ctx *ctx, difflm_token *token, int32_t *step,
    /// float *prob, float *score, size_t cap, size_t *n_out);`
    pub fn difflm_confidences(
        ctx: *const difflm_ctx,
        token: *mut difflm_token,
        step: *mut i32,
        prob: *mut f32,
        score: *mut f32,
        cap: usize,
        n_out: *mut usize,
    ) -> c_int;
    /// `int difflm_logits(difflm_ctx *ctx, const difflm_token *ids, size_t n,
    /// const int32_t *rows, size_t n_rows, float *out, size_t cap, size_t *n_out);`
    pub fn difflm_logits(
        ctx: *mut difflm_ctx,
        ids: *const difflm_token,
        n: usize,
        rows: *const i32,
        n_rows: usize,
        out: *mut f32,
        cap: usize,
        n_out: *mut usize,
    ) -> c_int;
    /// `void difflm_score_params_init(difflm_score_params *p);`
    pub fn difflm_score_params_init(p: *mut difflm_score_params);
    /// `int difflm_score(difflm_ctx *ctx, const difflm_token *prompt, size_t n_prompt,
    /// const difflm_token *ids, size_t n, const difflm_score_params *p,
    /// difflm_score_result *out);`
    pub fn difflm_score(
        ctx: *mut difflm_ctx,
        prompt: *const difflm_token,
        n_prompt: usize,
        ids: *const difflm_token,
        n: usize,
        p: *const difflm_score_params,
        out: *mut difflm_score_result,
    ) -> c_int;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{size_of, MaybeUninit};

    /// The library writes its own sizeof into struct_size; the mirrors must agree. The
    /// buffers are larger than the mirrors, so a grown library struct cannot overflow.
    #[test]
    fn mirrored_sizes_match_the_library() {
        unsafe {
            assert_eq!(difflm_abi_version(), DIFFLM_ABI_VERSION);
            let mut buf = [MaybeUninit::<u64>::zeroed(); 64];
            difflm_params_init(buf.as_mut_ptr().cast());
            assert_eq!(*buf.as_ptr().cast::<u32>() as usize, size_of::<difflm_params>());
            let mut buf = [MaybeUninit::<u64>::zeroed(); 64];
            difflm_gen_params_init(buf.as_mut_ptr().cast());
            assert_eq!(*buf.as_ptr().cast::<u32>() as usize, size_of::<difflm_gen_params>());
            let mut buf = [MaybeUninit::<u64>::zeroed(); 64];
            difflm_score_params_init(buf.as_mut_ptr().cast());
            assert_eq!(*buf.as_ptr().cast::<u32>() as usize, size_of::<difflm_score_params>());
            let mut buf = [MaybeUninit::<u64>::zeroed(); 64];
            difflm_model_params_init(buf.as_mut_ptr().cast());
            assert_eq!(*buf.as_ptr().cast::<u32>() as usize, size_of::<difflm_model_params>());
            let mut buf = [MaybeUninit::<u64>::zeroed(); 64];
            difflm_ctx_params_init(buf.as_mut_ptr().cast());
            assert_eq!(*buf.as_ptr().cast::<u32>() as usize, size_of::<difflm_ctx_params>());
        }
        if size_of::<usize>() == 8 {
            assert_eq!(size_of::<difflm_params>(), 64);
            assert_eq!(size_of::<difflm_gen_params>(), 112);
            assert_eq!(size_of::<difflm_step_info>(), 48);
            assert_eq!(size_of::<difflm_model_info>(), 80);
            assert_eq!(size_of::<difflm_score_params>(), 24);
            assert_eq!(size_of::<difflm_score_result>(), 40);
            assert_eq!(size_of::<difflm_model_params>(), 96);
            assert_eq!(size_of::<difflm_ctx_params>(), 72);
        }
    }

    #[test]
    fn status_strings() {
        let s = unsafe { std::ffi::CStr::from_ptr(difflm_status_str(DIFFLM_E_IO)) };
        assert_eq!(s.to_str().unwrap(), "cannot read or write a file");
    }
}
