//! Safe Rust bindings for difflm: masked diffusion language models (LLaDA, Dream) on CPUs.
//!
//! ```no_run
//! use difflm::{Context, GenParams};
//! let mut ctx = Context::new("model.gguf")?;
//! let g = GenParams { gen_length: 64, steps: 64, ..Default::default() };
//! println!("{}", ctx.generate("The Lord said", &g)?);
//! let prompt = ctx.prompt_ids("Once upon")?;
//! for step in ctx.steps(&prompt, &g)? {
//!     let step = step?;
//!     println!("step {}: {} masked", step.index, step.n_masked);
//! }
//! # Ok::<(), difflm::Error>(())
//! ```
//!
//! Several contexts on one loaded [`Model`] share its weights and tokenizer (a server's
//! pool, a game's characters): `Context::from_model(&model, params)`. A model also loads
//! from memory ([`Model::from_static`], [`Model::from_owned`]) or a reader
//! ([`Model::from_reader`]).
//!
//! Thread safety follows the C API: a [`Model`] is `Send + Sync` (read-only once loaded);
//! a [`Context`] is `Send` but not `Sync` (one thread at a time); a [`CancelHandle`] is
//! `Send + Sync` and cancels from anywhere.
mod callbacks;
mod context;
mod error;
mod model;
mod params;

#[cfg(test)]
#[path = "../tests/common/mod.rs"]
mod test_common;

use std::ffi::CStr;

pub use context::{CancelHandle, Confidence, Context, ModelInfo, Step, Steps, Token};
pub use error::{status_str, Error, ErrorKind, Result};
pub use model::{Model, ModelParams, DATA_ALIGN};
pub use params::{ContextParams, GenParams, LogFn};
pub use sys::{DIFFLM_CONF_FIXED as CONF_FIXED, DIFFLM_CONF_MASKED as CONF_MASKED};

pub use difflm_sys as sys;
pub use sys::{
    DIFFLM_CACHE_DUAL as CACHE_DUAL, DIFFLM_CACHE_NONE as CACHE_NONE,
    DIFFLM_CACHE_PREFIX as CACHE_PREFIX, DIFFLM_GEN_ALL_LOGITS as GEN_ALL_LOGITS,
    DIFFLM_GEN_BLOCK_RECOMPUTE as GEN_BLOCK_RECOMPUTE, DIFFLM_GEN_EARLY_STOP as GEN_EARLY_STOP,
    DIFFLM_PACK_AUTO as PACK_AUTO, DIFFLM_PACK_OFF as PACK_OFF, DIFFLM_PACK_ON as PACK_ON,
    DIFFLM_PARALLEL_FACTOR as PARALLEL_FACTOR, DIFFLM_PARALLEL_NONE as PARALLEL_NONE,
    DIFFLM_PARALLEL_THRESHOLD as PARALLEL_THRESHOLD, DIFFLM_PRECISION_BF16 as PRECISION_BF16,
    DIFFLM_PRECISION_EXACT as PRECISION_EXACT,
};
pub use sys::{
    DIFFLM_DETOKENIZE_SPECIAL as DETOKENIZE_SPECIAL,
    DIFFLM_GEN_CONFIDENCE_EOS_EOT_INF as GEN_CONFIDENCE_EOS_EOT_INF,
    DIFFLM_GEN_LOGITS_EOS_INF as GEN_LOGITS_EOS_INF, DIFFLM_LOG_DEBUG as LOG_DEBUG,
    DIFFLM_LOG_ERROR as LOG_ERROR, DIFFLM_LOG_INFO as LOG_INFO, DIFFLM_LOG_WARN as LOG_WARN,
    DIFFLM_REMASK_AUTO as REMASK_AUTO, DIFFLM_REMASK_ENTROPY as REMASK_ENTROPY,
    DIFFLM_REMASK_LOW_CONFIDENCE as REMASK_LOW_CONFIDENCE,
    DIFFLM_REMASK_MASKGIT_PLUS as REMASK_MASKGIT_PLUS, DIFFLM_REMASK_ORIGIN as REMASK_ORIGIN,
    DIFFLM_REMASK_RANDOM as REMASK_RANDOM, DIFFLM_REMASK_TOPK_MARGIN as REMASK_TOPK_MARGIN,
    DIFFLM_SCHEDULE_AUTO as SCHEDULE_AUTO, DIFFLM_SCHEDULE_BLOCKS as SCHEDULE_BLOCKS,
    DIFFLM_SCHEDULE_BLOCK_DIFFUSION as SCHEDULE_BLOCK_DIFFUSION,
    DIFFLM_SCHEDULE_TIMESTEPS as SCHEDULE_TIMESTEPS, DIFFLM_TOKENIZE_ADD_BOS as TOKENIZE_ADD_BOS,
    DIFFLM_TOKENIZE_PARSE_SPECIAL as TOKENIZE_PARSE_SPECIAL,
};

/// The loaded library's version string.
pub fn version() -> String {
    // SAFETY: static NUL-terminated string.
    unsafe { CStr::from_ptr(sys::difflm_version()) }.to_string_lossy().into_owned()
}

/// The loaded library's ABI number.
pub fn abi_version() -> u32 {
    unsafe { sys::difflm_abi_version() }
}

/// Ok when the loaded library has the ABI these bindings mirror.
pub fn check_abi() -> Result<()> {
    let abi = abi_version();
    if abi == sys::DIFFLM_ABI_VERSION {
        Ok(())
    } else {
        Err(Error::new(
            sys::DIFFLM_E_UNSUPPORTED,
            format!("libdifflm ABI {abi}, the bindings mirror ABI {}", sys::DIFFLM_ABI_VERSION),
        ))
    }
}
