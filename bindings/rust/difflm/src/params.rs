//! Parameters in Rust terms; defaults come from the library's *_params_init.
use std::mem::MaybeUninit;

use difflm_sys as sys;

/// Receives the library's log lines: (level, message). Runs on the thread that made the
/// call that logged, which is always the thread owning the context.
pub type LogFn = Box<dyn FnMut(i32, &str) + Send>;

/// How to create a context (`difflm_params` / `difflm_ctx_params` without the path and
/// the callback plumbing). For [`Context::from_model`](crate::Context::from_model),
/// `mask_token_id` must stay -1: the mask token is the model's
/// ([`ModelParams`](crate::ModelParams)).
pub struct ContextParams {
    /// 0 = all cores.
    pub n_threads: i32,
    /// Longest canvas (prompt + generated) the context serves; 0 = min(model, 2048).
    pub max_canvas: i32,
    /// -1 = the file's mask token.
    pub mask_token_id: i32,
    /// Most verbose level passed to `log` (DIFFLM_LOG_*).
    pub log_level: i32,
    pub log: Option<LogFn>,
    /// Most canvases `generate_batch` takes (default 1).
    pub max_batch: i32,
    /// `DIFFLM_PRECISION_EXACT` (default: f32 products) or `DIFFLM_PRECISION_BF16`
    /// (products over F32/F16/BF16 weights with bf16 operands and f32 sums; quantized
    /// weights are unaffected).
    pub precision: i32,
    /// `DIFFLM_PACK_AUTO` (default), `DIFFLM_PACK_OFF` or `DIFFLM_PACK_ON`: whether the
    /// float weights are packed once for the products (the same results; memory for
    /// speed; `difflm_ctx_params.pack_weights`).
    pub pack_weights: i32,
}

impl Default for ContextParams {
    fn default() -> Self {
        let p = raw_params();
        ContextParams {
            n_threads: p.n_threads,
            max_canvas: p.max_canvas,
            mask_token_id: p.mask_token_id,
            log_level: p.log_level,
            log: None,
            max_batch: p.max_batch,
            precision: p.precision,
            pack_weights: p.pack_weights,
        }
    }
}

pub(crate) fn raw_params() -> sys::difflm_params {
    let mut p = MaybeUninit::<sys::difflm_params>::zeroed();
    // SAFETY: difflm_params_init fills the whole struct; the import check (tests) makes
    // sure the library's sizeof equals the mirror's.
    unsafe {
        sys::difflm_params_init(p.as_mut_ptr());
        p.assume_init()
    }
}

pub(crate) fn raw_ctx_params() -> sys::difflm_ctx_params {
    let mut p = MaybeUninit::<sys::difflm_ctx_params>::zeroed();
    // SAFETY: as in raw_params.
    unsafe {
        sys::difflm_ctx_params_init(p.as_mut_ptr());
        p.assume_init()
    }
}

/// Generation parameters (`difflm_gen_params` without the callback fields).
/// `GenParams { gen_length: 64, steps: 64, ..Default::default() }`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GenParams {
    pub gen_length: i32,
    pub steps: i32,
    pub block_length: i32,
    /// DIFFLM_SCHEDULE_* (re-exported as `difflm::SCHEDULE_*`).
    pub schedule: i32,
    /// DIFFLM_REMASK_* (re-exported as `difflm::REMASK_*`).
    pub remasking: i32,
    pub temperature: f32,
    pub top_k: i32,
    pub top_p: f32,
    pub cfg_scale: f32,
    pub eps: f32,
    pub alg_temp: f32,
    pub seed: u64,
    /// DIFFLM_GEN_* (re-exported as `difflm::GEN_*`).
    pub flags: u32,
    /// DIFFLM_PARALLEL_* (re-exported as `difflm::PARALLEL_*`).
    pub parallel: i32,
    pub threshold: f32,
    pub factor: f32,
    /// DIFFLM_CACHE_* (re-exported as `difflm::CACHE_*`).
    pub cache: i32,
    /// SCHEDULE_BLOCK_DIFFUSION: commit every MASK of the block above this if they are at
    /// least the step's count (LLaDA2; [0, 1], 1 = the counts only).
    pub block_threshold: f32,
    /// SCHEDULE_BLOCK_DIFFUSION: LLaDA2.1 token editing ([0, 1), 0 = off).
    pub editing_threshold: f32,
    /// SCHEDULE_BLOCK_DIFFUSION with editing: editing steps after a block's last MASK.
    pub max_post_steps: i32,
}

impl Default for GenParams {
    fn default() -> Self {
        let g = raw_gen_params();
        GenParams {
            gen_length: g.gen_length,
            steps: g.steps,
            block_length: g.block_length,
            schedule: g.schedule,
            remasking: g.remasking,
            temperature: g.temperature,
            top_k: g.top_k,
            top_p: g.top_p,
            cfg_scale: g.cfg_scale,
            eps: g.eps,
            alg_temp: g.alg_temp,
            seed: g.seed,
            flags: g.flags,
            parallel: g.parallel,
            threshold: g.threshold,
            factor: g.factor,
            cache: g.cache,
            block_threshold: g.block_threshold,
            editing_threshold: g.editing_threshold,
            max_post_steps: g.max_post_steps,
        }
    }
}

fn raw_gen_params() -> sys::difflm_gen_params {
    let mut g = MaybeUninit::<sys::difflm_gen_params>::zeroed();
    // SAFETY: as in raw_params.
    unsafe {
        sys::difflm_gen_params_init(g.as_mut_ptr());
        g.assume_init()
    }
}

impl GenParams {
    /// The C struct, with no step callback.
    pub(crate) fn to_raw(self) -> sys::difflm_gen_params {
        let mut g = raw_gen_params();
        g.gen_length = self.gen_length;
        g.steps = self.steps;
        g.block_length = self.block_length;
        g.schedule = self.schedule;
        g.remasking = self.remasking;
        g.temperature = self.temperature;
        g.top_k = self.top_k;
        g.top_p = self.top_p;
        g.cfg_scale = self.cfg_scale;
        g.eps = self.eps;
        g.alg_temp = self.alg_temp;
        g.seed = self.seed;
        g.flags = self.flags;
        g.parallel = self.parallel;
        g.threshold = self.threshold;
        g.factor = self.factor;
        g.cache = self.cache;
        g.block_threshold = self.block_threshold;
        g.editing_threshold = self.editing_threshold;
        g.max_post_steps = self.max_post_steps;
        g
    }
}
