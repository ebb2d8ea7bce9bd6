//! Context: a model's generation state (a `difflm_ctx`), on a private model or a shared
//! [`Model`].
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_void};
use std::path::Path;
use std::ptr::{self, NonNull};
use std::sync::{Arc, Mutex};

use difflm_sys as sys;

use crate::callbacks::{
    hook_trampoline, log_trampoline, record_trampoline, Hook, LogSink, StepRecord,
};
use crate::error::{Error, Result};
use crate::model::{Model, Shared};
use crate::params::{raw_ctx_params, raw_params, ContextParams, GenParams};

pub type Token = sys::difflm_token;

/// Bytes reserved per generated token for `difflm_sample`'s output; a longer result is
/// rebuilt from the finished canvas instead of generating again.
const SAMPLE_BYTES_PER_TOKEN: usize = 32;

/// What the model file says (`difflm_model_info`); ids are -1 where the model has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    pub arch: i32,
    pub n_vocab: i32,
    pub n_ctx_train: i32,
    pub max_canvas: i32,
    pub n_layer: i32,
    pub n_embd: i32,
    pub n_head: i32,
    pub n_head_kv: i32,
    pub n_ff: i32,
    pub shift_logits: bool,
    pub mask_id: Token,
    pub bos_id: Token,
    pub eos_id: Token,
    pub eot_id: Token,
    pub add_bos: bool,
    pub n_params: u64,
    /// > 0: a block-causal model, attention bidirectional inside blocks of this many
    /// positions and causal across them (`diffusion.block_length`); 0: bidirectional.
    pub block_length: i32,
}

impl ModelInfo {
    /// A placeholder until the library has filled one.
    pub(crate) fn unfilled() -> ModelInfo {
        ModelInfo::convert(&sys::difflm_model_info {
            mask_id: -1,
            bos_id: -1,
            eos_id: -1,
            eot_id: -1,
            ..Default::default()
        })
    }

    /// A filled `difflm_model_info`, checking that the library filled the whole mirror.
    pub(crate) fn from_raw(m: &sys::difflm_model_info) -> Result<ModelInfo> {
        if m.struct_size as usize != std::mem::size_of::<sys::difflm_model_info>() {
            return Err(Error::new(
                sys::DIFFLM_E_INTERNAL,
                format!(
                    "the library fills {} bytes of difflm_model_info, the binding mirrors {}",
                    m.struct_size,
                    std::mem::size_of::<sys::difflm_model_info>()
                ),
            ));
        }
        Ok(ModelInfo::convert(m))
    }

    fn convert(m: &sys::difflm_model_info) -> ModelInfo {
        ModelInfo {
            arch: m.arch,
            n_vocab: m.n_vocab,
            n_ctx_train: m.n_ctx_train,
            max_canvas: m.max_canvas,
            n_layer: m.n_layer,
            n_embd: m.n_embd,
            n_head: m.n_head,
            n_head_kv: m.n_head_kv,
            n_ff: m.n_ff,
            shift_logits: m.shift_logits != 0,
            mask_id: m.mask_id,
            bos_id: m.bos_id,
            eos_id: m.eos_id,
            eot_id: m.eot_id,
            add_bos: m.add_bos != 0,
            n_params: m.n_params,
            block_length: m.block_length,
        }
    }
}

/// The canvas after one denoising step (an owned copy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// 1-based index of the step just run.
    pub index: i32,
    pub total_steps: i32,
    /// Tokens this step committed.
    pub n_committed: i32,
    /// MASK tokens left in the generated region.
    pub n_masked: i32,
    /// `canvas[..prompt_length]` is the prompt.
    pub prompt_length: usize,
    /// Prompt and generated ids, MASK where still masked.
    pub canvas: Vec<Token>,
}

impl Step {
    pub fn generated(&self) -> &[Token] {
        &self.canvas[self.prompt_length.min(self.canvas.len())..]
    }

    pub fn is_done(&self) -> bool {
        self.n_masked == 0
    }
}

/// The context pointer, for the cancel slot. Sending it is sound: the only call made
/// through it from another thread is difflm_cancel, which the C API allows from any
/// thread while the context exists (the slot's mutex guarantees that).
struct RawCtx(*mut sys::difflm_ctx);
unsafe impl Send for RawCtx {}

type CancelSlot = Mutex<Option<RawCtx>>;

/// Cancels the context it came from, from any thread (Send + Sync + Clone). After the
/// context is dropped, `cancel` does nothing and returns false.
#[derive(Clone)]
pub struct CancelHandle(Arc<CancelSlot>);

impl CancelHandle {
    pub fn cancel(&self) -> bool {
        let slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match slot.as_ref() {
            Some(raw) => {
                // SAFETY: the context is alive while it sits in the slot.
                unsafe { sys::difflm_cancel(raw.0) };
                true
            }
            None => false,
        }
    }
}

/// Everything one generation needs: a model (private, from [`Context::new`], or shared,
/// from [`Context::from_model`]) and its own scratch, schedule state, thread pool, last
/// error and cancel flag.
///
/// `Send` but not `Sync`: move it to another thread, but use it from one thread at a
/// time (the C contract). Cancel from elsewhere through [`Context::cancel_handle`].
///
/// ```compile_fail
/// fn needs_sync<T: Sync>() {}
/// needs_sync::<difflm::Context>();
/// ```
pub struct Context {
    raw: NonNull<sys::difflm_ctx>,
    cancel: Arc<CancelSlot>,
    log: *mut LogSink,
    record: *mut StepRecord,
    info: ModelInfo,
    /// The shared model's Rust state (image, log), dropped after `difflm_free`.
    _model: Option<Arc<Shared>>,
}

/// Where an error's detail text comes from: the context's `difflm_last_error`, or the
/// status's description alone (the calls on a const context do not set the last error,
/// which may then be an older call's).
#[derive(Clone, Copy)]
enum Detail {
    LastError,
    StatusOnly,
}

// SAFETY: the library allows a context to be used from any thread, one at a time; the
// callbacks' state (log sink, step record) is owned by the context and only touched by
// calls on it. The raw pointers keep the type !Sync.
unsafe impl Send for Context {}

pub(crate) fn cstring(bytes: Vec<u8>, what: &str) -> Result<CString> {
    CString::new(bytes)
        .map_err(|_| Error::new(sys::DIFFLM_E_INVALID_ARG, format!("{what} contains a NUL byte")))
}

#[cfg(unix)]
pub(crate) fn path_bytes(p: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes().to_vec()
}

#[cfg(not(unix))]
pub(crate) fn path_bytes(p: &Path) -> Vec<u8> {
    p.to_string_lossy().into_owned().into_bytes()
}

impl Context {
    /// Loads a model with default parameters.
    pub fn new(model_path: impl AsRef<Path>) -> Result<Context> {
        Context::with_params(model_path, ContextParams::default())
    }

    pub fn with_params(model_path: impl AsRef<Path>, params: ContextParams) -> Result<Context> {
        crate::check_abi()?;
        let path = cstring(path_bytes(model_path.as_ref()), "the model path")?;
        let log = Box::into_raw(Box::new(LogSink { user: params.log, last_error: String::new() }));
        let mut p = raw_params();
        p.model_path = path.as_ptr();
        p.n_threads = params.n_threads;
        p.max_canvas = params.max_canvas;
        p.mask_token_id = params.mask_token_id;
        p.max_batch = params.max_batch;
        p.precision = params.precision;
        p.pack_weights = params.pack_weights;
        p.log_level = params.log_level;
        p.log_fn = Some(log_trampoline);
        p.log_user = log as *mut c_void;
        let mut status: c_int = 0;
        // SAFETY: p is a complete difflm_params; the strings outlive the call.
        let raw = unsafe { sys::difflm_create(&p, &mut status) };
        Context::wrap(raw, status, log, None)
    }

    /// Creates one more context on a loaded model (`difflm_ctx_create`): it shares the
    /// model's weights, tokenizer and chat format and holds its own reference, so the
    /// model may be dropped first. `params.mask_token_id` must be -1 (the mask token is
    /// the model's).
    pub fn from_model(model: &Model, params: ContextParams) -> Result<Context> {
        if params.mask_token_id != -1 {
            return Err(Error::new(
                sys::DIFFLM_E_INVALID_ARG,
                "mask_token_id belongs to the model: set it in ModelParams",
            ));
        }
        let log = Box::into_raw(Box::new(LogSink { user: params.log, last_error: String::new() }));
        let mut p = raw_ctx_params();
        p.n_threads = params.n_threads;
        p.max_canvas = params.max_canvas;
        p.max_batch = params.max_batch;
        p.precision = params.precision;
        p.pack_weights = params.pack_weights;
        p.log_level = params.log_level;
        p.log_fn = Some(log_trampoline);
        p.log_user = log as *mut c_void;
        let mut status: c_int = 0;
        // SAFETY: a live model and a complete difflm_ctx_params.
        let raw = unsafe { sys::difflm_ctx_create(model.raw(), &p, &mut status) };
        Context::wrap(raw, status, log, Some(model.shared()))
    }

    /// The Context for what difflm_create / difflm_ctx_create returned.
    fn wrap(
        raw: *mut sys::difflm_ctx,
        status: c_int,
        log: *mut LogSink,
        model: Option<Arc<Shared>>,
    ) -> Result<Context> {
        let raw = match NonNull::new(raw) {
            Some(raw) => raw,
            None => {
                // SAFETY: log came from Box::into_raw and the library is done with it.
                let sink = unsafe { Box::from_raw(log) };
                return Err(Error::new(status, sink.last_error));
            }
        };
        let mut ctx = Context {
            raw,
            cancel: Arc::new(Mutex::new(Some(RawCtx(raw.as_ptr())))),
            log,
            record: Box::into_raw(Box::default()),
            info: ModelInfo::unfilled(),
            _model: model,
        };
        ctx.info = ctx.read_model_info()?;
        Ok(ctx)
    }

    fn ptr(&self) -> *mut sys::difflm_ctx {
        self.raw.as_ptr()
    }

    /// Turns a status into Ok(status) or the context's error.
    fn check(&self, status: c_int) -> Result<c_int> {
        self.status(status, Detail::LastError)
    }

    fn status(&self, status: c_int, detail: Detail) -> Result<c_int> {
        if status >= 0 {
            return Ok(status);
        }
        match detail {
            Detail::StatusOnly => Err(Error::new(status, "")),
            Detail::LastError => {
                // SAFETY: the context is alive; the message is copied before the next call.
                let msg = unsafe { CStr::from_ptr(sys::difflm_last_error(self.ptr())) };
                Err(Error::new(status, msg.to_string_lossy()))
            }
        }
    }

    /// The C API's two-call protocol for variable-size outputs: `call(cap)` makes the
    /// call into buffers it sizes to `cap` entries and returns (status, needed); when
    /// `guess` is too small it runs once more with the needed size. Returns the count.
    fn sized(
        &self,
        guess: usize,
        detail: Detail,
        mut call: impl FnMut(usize) -> (c_int, usize),
    ) -> Result<usize> {
        let (mut st, mut n) = call(guess);
        if st == sys::DIFFLM_E_BUFFER_TOO_SMALL && n > guess {
            let again = call(n);
            st = again.0;
            n = again.1;
        }
        self.status(st, detail)?;
        Ok(n)
    }

    /// `sized` into one vector: `call(out, cap, &mut n)` is the C call.
    fn filled<T: Copy + Default>(
        &self,
        guess: usize,
        detail: Detail,
        mut call: impl FnMut(*mut T, usize, &mut usize) -> c_int,
    ) -> Result<Vec<T>> {
        let mut out: Vec<T> = Vec::new();
        let n = self.sized(guess, detail, |cap| {
            out.resize(cap, T::default());
            let mut n = 0usize;
            let st = call(out.as_mut_ptr(), cap, &mut n);
            (st, n)
        })?;
        out.truncate(n);
        Ok(out)
    }

    fn read_model_info(&self) -> Result<ModelInfo> {
        let mut m = sys::difflm_model_info {
            struct_size: std::mem::size_of::<sys::difflm_model_info>() as u32,
            ..Default::default()
        };
        // SAFETY: m is a complete struct with struct_size set.
        self.check(unsafe { sys::difflm_model_info_get(self.ptr(), &mut m) })?;
        ModelInfo::from_raw(&m)
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    // ------------------------------------------------------------ tokens

    /// Text (any bytes) to ids; `flags` are `TOKENIZE_ADD_BOS | TOKENIZE_PARSE_SPECIAL`.
    pub fn tokenize(&mut self, text: impl AsRef<[u8]>, flags: u32) -> Result<Vec<Token>> {
        let text = text.as_ref();
        // SAFETY: text and the buffer are valid for the lengths passed.
        self.filled(text.len() + 2, Detail::LastError, |out, cap, n| unsafe {
            sys::difflm_tokenize(
                self.ptr(),
                text.as_ptr() as *const c_char,
                text.len(),
                flags,
                out,
                cap,
                n,
            )
        })
    }

    /// Ids to the exact bytes (a token may end inside a UTF-8 character). Control tokens
    /// are skipped unless `flags` has `DETOKENIZE_SPECIAL`.
    pub fn detokenize(&mut self, ids: &[Token], flags: u32) -> Result<Vec<u8>> {
        // SAFETY: ids and the buffer are valid for the lengths passed.
        self.filled(ids.len() * 8 + 16, Detail::LastError, |out: *mut u8, cap, n| unsafe {
            sys::difflm_detokenize(
                self.ptr(),
                ids.as_ptr(),
                ids.len(),
                flags,
                out as *mut c_char,
                cap,
                n,
            )
        })
    }

    /// `detokenize` as a String (invalid UTF-8 becomes U+FFFD).
    pub fn detokenize_lossy(&mut self, ids: &[Token], flags: u32) -> Result<String> {
        Ok(String::from_utf8_lossy(&self.detokenize(ids, flags)?).into_owned())
    }

    /// Ids for a prompt, tokenized as `generate` does (BOS if the model adds one, special
    /// tokens parsed).
    pub fn prompt_ids(&mut self, text: &str) -> Result<Vec<Token>> {
        let mut flags = crate::TOKENIZE_PARSE_SPECIAL;
        if self.info.add_bos {
            flags |= crate::TOKENIZE_ADD_BOS;
        }
        self.tokenize(text, flags)
    }

    /// Renders (role, content) messages in the model's chat format.
    pub fn chat_format(
        &mut self,
        messages: &[(&str, &str)],
        add_assistant: bool,
    ) -> Result<String> {
        let mut owned = Vec::with_capacity(messages.len());
        for (role, content) in messages {
            owned.push((
                cstring(role.as_bytes().to_vec(), "a role")?,
                cstring(content.as_bytes().to_vec(), "a message")?,
            ));
        }
        let msgs: Vec<sys::difflm_chat_message> = owned
            .iter()
            .map(|(r, c)| sys::difflm_chat_message { role: r.as_ptr(), content: c.as_ptr() })
            .collect();
        let mut out: Vec<u8> = Vec::new();
        let guess = 256 + messages.iter().map(|m| m.1.len() + 64).sum::<usize>();
        // The output is NUL-terminated: room for n + 1 bytes.
        let n = self.sized(guess, Detail::LastError, |cap| {
            out.resize(cap + 1, 0);
            let mut n = 0usize;
            // SAFETY: msgs points at CStrings alive for the call; out holds cap + 1 bytes.
            let st = unsafe {
                sys::difflm_chat_format(
                    self.ptr(),
                    msgs.as_ptr(),
                    msgs.len(),
                    add_assistant as i32,
                    out.as_mut_ptr() as *mut c_char,
                    out.len(),
                    &mut n,
                )
            };
            (st, n)
        })?;
        out.truncate(n);
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    // ------------------------------------------------------------ generation

    /// Generates from prompt text and returns the generated text up to the first
    /// end-of-text or end-of-turn (`difflm_sample`).
    pub fn generate(&mut self, prompt: &str, params: &GenParams) -> Result<String> {
        self.generate_with(prompt, params, |_| false)
    }

    /// `generate`, calling `on_step` after every step; returning true stops generation
    /// with a Cancelled error. A panic in `on_step` stops generation and resumes here.
    pub fn generate_with<F: FnMut(&Step) -> bool>(
        &mut self,
        prompt: &str,
        params: &GenParams,
        on_step: F,
    ) -> Result<String> {
        self.generate_inner(prompt, params, on_step, SAMPLE_BYTES_PER_TOKEN)
    }

    fn generate_inner<F: FnMut(&Step) -> bool>(
        &mut self,
        prompt: &str,
        params: &GenParams,
        on_step: F,
        bytes_per_token: usize,
    ) -> Result<String> {
        let prompt = cstring(prompt.as_bytes().to_vec(), "the prompt")?;
        let mut hook = Hook { f: on_step, panic: None };
        let mut g = params.to_raw();
        g.step_fn = Some(hook_trampoline::<F>);
        g.step_user = &mut hook as *mut Hook<F> as *mut c_void;
        let mut out = vec![0u8; params.gen_length.max(0) as usize * bytes_per_token + 64];
        let mut n = 0usize;
        // SAFETY: hook outlives the call, and the library calls step_fn only inside steps
        // of this generation, all of which run inside this call.
        let st = unsafe {
            sys::difflm_sample(
                self.ptr(),
                prompt.as_ptr(),
                &g,
                out.as_mut_ptr() as *mut c_char,
                out.len(),
                &mut n,
            )
        };
        if let Some(payload) = hook.panic.take() {
            std::panic::resume_unwind(payload);
        }
        if st == sys::DIFFLM_E_BUFFER_TOO_SMALL {
            return self.generated_text(params.gen_length.max(0) as usize);
        }
        self.check(st)?;
        out.truncate(n);
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// The finished canvas's generated text, cut as difflm_sample cuts it.
    fn generated_text(&mut self, gen_length: usize) -> Result<String> {
        let canvas = self.canvas()?;
        let gen = &canvas[canvas.len().saturating_sub(gen_length)..];
        let (eos, eot) = (self.info.eos_id, self.info.eot_id);
        let end = gen.iter().position(|&t| t >= 0 && (t == eos || t == eot)).unwrap_or(gen.len());
        self.detokenize_lossy(&gen[..end], 0)
    }

    /// Starts a generation from prompt ids and returns an iterator that runs one step per
    /// `next()` and yields the canvas after it.
    pub fn steps(&mut self, prompt: &[Token], params: &GenParams) -> Result<Steps<'_>> {
        let mut g = params.to_raw();
        g.step_fn = Some(record_trampoline);
        g.step_user = self.record as *mut c_void;
        // SAFETY: the record lives as long as the context.
        self.check(unsafe {
            sys::difflm_generate_begin(self.ptr(), prompt.as_ptr(), prompt.len(), &g)
        })?;
        Ok(Steps { ctx: self, finished: false })
    }

    /// Generates from several prompts at once (`difflm_batch_*`): one forward pass per
    /// step over every canvas still denoising. `seeds` `None`: every canvas runs
    /// `params.seed`; else one seed per prompt. Returns the finished canvases (prompt
    /// included), each bitwise what `steps` gives its prompt alone with its seed. At most
    /// the context's `max_batch` prompts; no CFG or KV cache (`Unsupported`).
    pub fn generate_batch(
        &mut self,
        prompts: &[&[Token]],
        params: &GenParams,
        seeds: Option<&[u64]>,
    ) -> Result<Vec<Vec<Token>>> {
        if let Some(s) = seeds {
            if s.len() != prompts.len() {
                return Err(Error::new(
                    sys::DIFFLM_E_INVALID_ARG,
                    "generate_batch: one seed per prompt",
                ));
            }
        }
        let g = params.to_raw();
        let ptrs: Vec<*const Token> = prompts.iter().map(|p| p.as_ptr()).collect();
        let lens: Vec<usize> = prompts.iter().map(|p| p.len()).collect();
        let seeds_ptr = seeds.map_or(std::ptr::null(), |s| s.as_ptr());
        // SAFETY: the arrays hold prompts.len() entries and outlive the call; the prompts
        // are copied by the library.
        self.check(unsafe {
            sys::difflm_batch_begin(
                self.ptr(),
                ptrs.as_ptr(),
                lens.as_ptr(),
                prompts.len(),
                seeds_ptr,
                &g,
            )
        })?;
        // SAFETY: a live context.
        while self.check(unsafe { sys::difflm_batch_step(self.ptr()) })? != sys::DIFFLM_DONE {}
        (0..prompts.len()).map(|i| self.batch_canvas(i)).collect()
    }

    /// Canvas `i` of the batch begun last (prompt + generated, MASK where still masked).
    pub fn batch_canvas(&self, i: usize) -> Result<Vec<Token>> {
        let guess = self.info.max_canvas.max(0) as usize;
        // SAFETY: the buffer is valid for its length.
        self.filled(guess, Detail::StatusOnly, |out, cap, n| unsafe {
            sys::difflm_batch_canvas(self.ptr(), i, out, cap, n)
        })
    }

    /// A template's canvas (`difflm_infill_canvas`): `<mask:N>` becomes N MASK ids, the
    /// text around the markers is tokenized piece by piece with `flags`
    /// (`TOKENIZE_ADD_BOS`: one BOS first; `\\<mask:` is the text itself).
    pub fn infill_canvas(&mut self, template: &str, flags: u32) -> Result<Vec<Token>> {
        let text = CString::new(template)
            .map_err(|_| Error::new(sys::DIFFLM_E_INVALID_ARG, "template contains a NUL byte"))?;
        // SAFETY: text is NUL-terminated; the buffer is valid for its length.
        self.filled(0, Detail::LastError, |out, cap, n| unsafe {
            sys::difflm_infill_canvas(self.ptr(), text.as_ptr(), flags, out, cap, n)
        })
    }

    /// Starts a generation over a canvas with MASK ids anywhere
    /// (`difflm_generate_begin_canvas`; `gen_length` is not used) and returns the
    /// iterator of its steps, as `steps`.
    pub fn infill_steps(&mut self, canvas: &[Token], params: &GenParams) -> Result<Steps<'_>> {
        let mut g = params.to_raw();
        g.step_fn = Some(record_trampoline);
        g.step_user = self.record as *mut c_void;
        // SAFETY: the record lives as long as the context; canvas is valid for its length.
        self.check(unsafe {
            sys::difflm_generate_begin_canvas(self.ptr(), canvas.as_ptr(), canvas.len(), &g)
        })?;
        Ok(Steps { ctx: self, finished: false })
    }

    /// What each canvas position had when it committed, or what the last step predicts
    /// for it (`difflm_confidences`, doc/sampling.md "Confidences").
    pub fn confidences(&self) -> Result<Vec<Confidence>> {
        let (mut token, mut step) = (Vec::<Token>::new(), Vec::<i32>::new());
        let (mut prob, mut score) = (Vec::<f32>::new(), Vec::<f32>::new());
        let n = self.sized(0, Detail::StatusOnly, |cap| {
            token.resize(cap, 0);
            step.resize(cap, 0);
            prob.resize(cap, 0.0);
            score.resize(cap, 0.0);
            let mut n = 0usize;
            // SAFETY: the four arrays hold cap entries.
            let st = unsafe {
                sys::difflm_confidences(
                    self.ptr(),
                    token.as_mut_ptr(),
                    step.as_mut_ptr(),
                    prob.as_mut_ptr(),
                    score.as_mut_ptr(),
                    cap,
                    &mut n,
                )
            };
            (st, n)
        })?;
        Ok((0..n)
            .map(|i| Confidence { token: token[i], step: step[i], prob: prob[i], score: score[i] })
            .collect())
    }

    /// The current canvas (prompt + generated, MASK where still masked).
    pub fn canvas(&self) -> Result<Vec<Token>> {
        let guess = self.info.max_canvas.max(0) as usize;
        // SAFETY: the buffer is valid for its length.
        self.filled(guess, Detail::StatusOnly, |out, cap, n| unsafe {
            sys::difflm_canvas(self.ptr(), out, cap, n)
        })
    }

    /// One forward pass's raw logits over `ids` (`difflm_logits`), row-major
    /// `[rows][n_vocab]`: every position for `rows` `None`, else the given canvas rows
    /// (any order, repeats allowed; `Some(&[])` gives none). Unshifted: with
    /// `info().shift_logits`, position p >= 1 is predicted by row p - 1. A generation in
    /// progress is not disturbed.
    pub fn logits(&mut self, ids: &[Token], rows: Option<&[i32]>) -> Result<Vec<f32>> {
        let (rows_ptr, n_rows) = match rows {
            None => (std::ptr::null(), 0),
            Some(r) => (r.as_ptr(), r.len()), // never null, even when empty
        };
        // SAFETY: ids and rows are valid for the lengths passed, the buffer for its own.
        // The size query (cap 0) returns OK with nothing to write when there are no rows.
        self.filled(0, Detail::LastError, |out, cap, n| unsafe {
            sys::difflm_logits(self.ptr(), ids.as_ptr(), ids.len(), rows_ptr, n_rows, out, cap, n)
        })
    }

    /// LLaDA's Monte Carlo estimate of -log p(ids | prompt) in nats (`difflm_score`: the
    /// negative ELBO, an upper bound in expectation): `mc` forward passes in `mc / batch`
    /// stratified iterations (LLaDA's defaults: 128 and 16), the prompt never masked.
    /// Deterministic for a seed, whatever the thread count.
    pub fn score(
        &mut self,
        ids: &[Token],
        prompt: &[Token],
        mc: i32,
        batch: i32,
        seed: u64,
    ) -> Result<sys::difflm_score_result> {
        let mut p = sys::difflm_score_params::default();
        // SAFETY: p is a valid, writable difflm_score_params.
        unsafe { sys::difflm_score_params_init(&mut p) };
        p.mc = mc;
        p.batch = batch;
        p.seed = seed;
        let mut r = sys::difflm_score_result {
            struct_size: std::mem::size_of::<sys::difflm_score_result>() as u32,
            ..Default::default()
        };
        // SAFETY: ids and prompt are valid for their lengths; p and r are valid structs.
        let st = unsafe {
            sys::difflm_score(
                self.ptr(),
                prompt.as_ptr(),
                prompt.len(),
                ids.as_ptr(),
                ids.len(),
                &p,
                &mut r,
            )
        };
        self.check(st)?;
        Ok(r)
    }

    /// Stops the running or next step of this context.
    pub fn cancel(&self) {
        // SAFETY: difflm_cancel is safe at any time while the context exists.
        unsafe { sys::difflm_cancel(self.ptr()) }
    }

    /// A handle that cancels this context from any thread.
    pub fn cancel_handle(&self) -> CancelHandle {
        CancelHandle(Arc::clone(&self.cancel))
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // Empty the slot first: a CancelHandle must never see a freed context.
        self.cancel.lock().unwrap_or_else(|e| e.into_inner()).take();
        // SAFETY: the context and both boxes are ours; nothing uses them after this.
        unsafe {
            sys::difflm_free(self.ptr());
            drop(Box::from_raw(self.log));
            drop(Box::from_raw(self.record));
        }
        self.log = ptr::null_mut();
        self.record = ptr::null_mut();
    }
}

/// One denoising step per `next()`; ends after the step that completes the canvas, or
/// after the first error (a Cancelled error after a cancel).
pub struct Steps<'a> {
    ctx: &'a mut Context,
    finished: bool,
}

/// One canvas position's `difflm_confidences` entry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Confidence {
    /// Its id; for a MASK the last step's candidate, or -1.
    pub token: Token,
    /// The 1-based step that committed it; `CONF_FIXED` (-1) or `CONF_MASKED` (0).
    pub step: i32,
    /// The model's probability of `token` (NaN where none).
    pub prob: f32,
    /// The remasking rule's confidence (NaN where none).
    pub score: f32,
}

impl Steps<'_> {
    /// The confidences after the last step (`Context::confidences`).
    pub fn confidences(&self) -> Result<Vec<Confidence>> {
        self.ctx.confidences()
    }

    /// Cancels this generation from the iterating thread (see `CancelHandle` for others).
    pub fn cancel(&self) {
        self.ctx.cancel()
    }
}

impl Iterator for Steps<'_> {
    type Item = Result<Step>;

    fn next(&mut self) -> Option<Result<Step>> {
        if self.finished {
            return None;
        }
        // SAFETY: the record is ours; the callback writes it only during the step call.
        unsafe { (*self.ctx.record).last = None };
        let st = unsafe { sys::difflm_generate_step(self.ctx.ptr()) };
        let st = match self.ctx.check(st) {
            Ok(st) => st,
            Err(e) => {
                self.finished = true;
                return Some(Err(e));
            }
        };
        if st == sys::DIFFLM_DONE {
            self.finished = true;
        }
        unsafe { (*self.ctx.record).last.take() }.map(Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_token_fallback_matches_sample() {
        let mut ctx = Context::new(crate::test_common::test_model()).unwrap();
        let g = GenParams { gen_length: 16, steps: 8, block_length: 8, ..Default::default() };
        let want = ctx.generate("abc", &g).unwrap();
        // No room at all: difflm_sample says BUFFER_TOO_SMALL, the canvas gives the text.
        let got = ctx.generate_inner("abc", &g, |_| false, 0).unwrap();
        assert_eq!(got, want);
    }
}
