//! Model: one loaded model (a `difflm_model`) that any number of contexts share.
use std::ffi::CStr;
use std::io::{Read, Seek, SeekFrom};
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

use difflm_sys as sys;

use crate::context::{cstring, path_bytes, ModelInfo};
use crate::error::{Error, Result};
use crate::params::{raw_ctx_params, ContextParams, LogFn};

/// The alignment the library needs to read an image in place (`difflm_model_params.data`).
pub const DATA_ALIGN: usize = 32;

/// How to load a model (`difflm_model_params` without the image and the plumbing).
pub struct ModelParams {
    /// -1 = the file's mask token.
    pub mask_token_id: i32,
    /// Most verbose level passed to `log` (DIFFLM_LOG_*).
    pub log_level: i32,
    /// Runs on the thread that loads the model, and on the thread that frees it last (a
    /// context's drop, possibly), hence `Send`.
    pub log: Option<LogFn>,
}

impl Default for ModelParams {
    fn default() -> Self {
        let p = raw_model_params();
        ModelParams { mask_token_id: p.mask_token_id, log_level: p.log_level, log: None }
    }
}

fn raw_model_params() -> sys::difflm_model_params {
    let mut p = std::mem::MaybeUninit::<sys::difflm_model_params>::zeroed();
    // SAFETY: difflm_model_params_init fills the whole struct (the sys tests check that
    // the library's sizeof equals the mirror's).
    unsafe {
        sys::difflm_model_params_init(p.as_mut_ptr());
        p.assume_init()
    }
}

/// The model's log callback state; a mutex, since loading and the final free may run on
/// different threads.
struct ModelLog {
    user: Option<LogFn>,
    last_error: String,
}

unsafe extern "C" fn model_log_trampoline(level: i32, msg: *const c_char, user: *mut c_void) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: user is the Mutex<ModelLog> that Shared owns for as long as the C model
        // lives (the model and every context on it hold the Shared).
        let log = &*(user as *const Mutex<ModelLog>);
        let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
        let text = if msg.is_null() {
            String::new()
        } else {
            CStr::from_ptr(msg).to_string_lossy().into_owned()
        };
        if let Some(f) = log.user.as_mut() {
            f(level, &text);
        }
        if level == sys::DIFFLM_LOG_ERROR {
            log.last_error = text;
        }
    }));
}

/// A block of `len` bytes aligned to DATA_ALIGN (a copy of a misaligned image).
#[repr(C, align(32))]
#[derive(Clone, Copy)]
struct Chunk([u8; DATA_ALIGN]);

/// The bytes a model reads in place, kept alive as long as the C model.
enum Image {
    None,
    /// A `&'static [u8]`: nothing to keep.
    Static,
    /// The caller's owned bytes (read through one `as_ref()` call, after boxing).
    Owned(#[allow(dead_code)] Box<dyn AsRef<[u8]> + Send + Sync>),
    Copied(#[allow(dead_code)] Vec<Chunk>),
}

/// What the C model needs from Rust for as long as it lives: its log state and the image
/// it reads in place. The Model holds one `Arc`, every Context created from it another;
/// a context drops its `Arc` only after `difflm_free`.
pub(crate) struct Shared {
    log: Box<Mutex<ModelLog>>,
    _image: Image,
}

/// A loaded model: mapped weights, hyperparameters, tokenizer and chat format, read-only
/// once loaded and shared by every [`Context`](crate::Context) created from it with
/// [`Context::from_model`](crate::Context::from_model).
///
/// `Send + Sync`: the C API makes the calls on a model safe from any number of threads
/// at once, so share it through `&Model` or an `Arc<Model>` and create a context per
/// thread. Dropping it drops this handle's reference: contexts created from it keep the
/// model (and the bytes it was loaded from) alive until the last of them is dropped.
///
/// ```no_run
/// use difflm::{Context, ContextParams, Model};
/// let model = Model::new("model.gguf")?;
/// let mut a = Context::from_model(&model, ContextParams::default())?;
/// let mut b = Context::from_model(&model, ContextParams::default())?;
/// # Ok::<(), difflm::Error>(())
/// ```
///
/// An image loaded in place must outlive the model, which the types enforce: only a
/// `'static` borrow, or bytes the model owns, are taken.
///
/// ```compile_fail
/// let bytes = std::fs::read("model.gguf").unwrap();
/// let model = difflm::Model::from_static(&bytes, Default::default()); // not 'static
/// ```
pub struct Model {
    raw: NonNull<sys::difflm_model>,
    shared: Arc<Shared>,
    info: ModelInfo,
}

// SAFETY: difflm.h: a model is read-only once loaded; the calls on a const
// difflm_model *, difflm_ctx_create and difflm_model_free are safe from any thread. The
// Rust state it keeps (Shared) is Send + Sync.
unsafe impl Send for Model {}
unsafe impl Sync for Model {}

/// Reads an image for `difflm_read_fn` from a `Read + Seek`, keeping the first failure.
struct Reader<R> {
    inner: R,
    base: u64,
    pos: u64,
    error: Option<std::io::Error>,
    panic: Option<Box<dyn std::any::Any + Send>>,
}

unsafe extern "C" fn read_trampoline<R: Read + Seek>(
    user: *mut c_void,
    offset: u64,
    dst: *mut c_void,
    n: usize,
) -> c_int {
    // SAFETY: user is the Reader on from_reader's stack, alive for the whole load; dst is
    // valid for n bytes during the call.
    let r = &mut *(user as *mut Reader<R>);
    let buf = std::slice::from_raw_parts_mut(dst as *mut u8, n);
    let res = catch_unwind(AssertUnwindSafe(|| -> std::io::Result<()> {
        let want = r.base + offset;
        if want != r.pos {
            r.inner.seek(SeekFrom::Start(want))?;
            r.pos = want;
        }
        r.inner.read_exact(buf)?;
        r.pos += n as u64;
        Ok(())
    }));
    match res {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            r.error.get_or_insert(e);
            1
        }
        Err(payload) => {
            r.panic = Some(payload);
            1
        }
    }
}

impl Model {
    /// Loads a GGUF file or a Hugging Face folder with default parameters.
    pub fn new(path: impl AsRef<Path>) -> Result<Model> {
        Model::from_path(path, ModelParams::default())
    }

    /// Loads a GGUF file or a Hugging Face folder (the weights are mapped, not read).
    pub fn from_path(path: impl AsRef<Path>, params: ModelParams) -> Result<Model> {
        let path = cstring(path_bytes(path.as_ref()), "the model path")?;
        Model::load(params, Image::None, |p| p.path = path.as_ptr())
    }

    /// Loads a GGUF image from `'static` bytes (`include_bytes!` in an aligned wrapper, a
    /// leaked buffer, a mapping that lives as long as the process), read in place: they
    /// must be 32-byte aligned ([`DATA_ALIGN`]), else the library's `InvalidArg`.
    pub fn from_static(data: &'static [u8], params: ModelParams) -> Result<Model> {
        Model::load(params, Image::Static, |p| {
            p.data = data.as_ptr() as *const c_void;
            p.size = data.len();
        })
    }

    /// Loads a GGUF image from bytes the model takes over (`Vec<u8>`, `Box<[u8]>`,
    /// `Arc<[u8]>`, a memory map type): read in place when they are 32-byte aligned, else
    /// copied once into an aligned block (their size in memory). They are dropped with
    /// the model's last reference (the Model or its last Context).
    pub fn from_owned<T>(data: T, params: ModelParams) -> Result<Model>
    where
        T: AsRef<[u8]> + Send + Sync + 'static,
    {
        // Box first: the slice must not move with `data` after we take its address.
        let boxed: Box<dyn AsRef<[u8]> + Send + Sync> = Box::new(data);
        let (ptr, len) = {
            let s = (*boxed).as_ref();
            (s.as_ptr(), s.len())
        };
        if ptr as usize % DATA_ALIGN == 0 && len > 0 {
            return Model::load(params, Image::Owned(boxed), |p| {
                p.data = ptr as *const c_void;
                p.size = len;
            });
        }
        // misaligned (or empty, which may have no address): an aligned copy
        let mut chunks = vec![Chunk([0; DATA_ALIGN]); len / DATA_ALIGN + 1];
        // SAFETY: the chunks hold at least len bytes; the source is valid for len.
        unsafe { std::ptr::copy_nonoverlapping(ptr, chunks.as_mut_ptr() as *mut u8, len) };
        drop(boxed);
        let at = chunks.as_ptr() as *const c_void;
        Model::load(params, Image::Copied(chunks), |p| {
            p.data = at;
            p.size = len;
        })
    }

    /// Loads a GGUF image read from `reader`, from its current position (an asset in a
    /// pack): `size` bytes, or to the end when `None`. The image is read once, during
    /// this call, into one heap block the library owns; the reader is dropped after.
    /// A failing read gives the library's `Io` error with the reader's error appended.
    /// A panic in the reader resumes in the caller once the library has returned.
    pub fn from_reader<R: Read + Seek>(
        mut reader: R,
        size: Option<u64>,
        params: ModelParams,
    ) -> Result<Model> {
        let io = |e: std::io::Error| Error::new(sys::DIFFLM_E_IO, format!("the reader: {e}"));
        let base = reader.stream_position().map_err(io)?;
        let size = match size {
            Some(s) => s,
            None => {
                let end = reader.seek(SeekFrom::End(0)).map_err(io)?;
                reader.seek(SeekFrom::Start(base)).map_err(io)?;
                end.saturating_sub(base)
            }
        };
        let size = usize::try_from(size).map_err(|_| {
            Error::new(sys::DIFFLM_E_NOMEM, format!("an image of {size} bytes does not fit"))
        })?;
        let mut r = Reader { inner: reader, base, pos: base, error: None, panic: None };
        let user = &mut r as *mut Reader<R> as *mut c_void;
        let res = Model::load(params, Image::None, |p| {
            p.read_fn = Some(read_trampoline::<R>);
            p.read_user = user;
            p.size = size;
        });
        if let Some(payload) = r.panic.take() {
            std::panic::resume_unwind(payload);
        }
        match (res, r.error.take()) {
            (Err(e), Some(io_err)) => {
                Err(Error::new(e.code(), format!("{}: {io_err}", e.message())))
            }
            (res, _) => res,
        }
    }

    fn load(
        params: ModelParams,
        image: Image,
        set: impl FnOnce(&mut sys::difflm_model_params),
    ) -> Result<Model> {
        crate::check_abi()?;
        let log = Box::new(Mutex::new(ModelLog { user: params.log, last_error: String::new() }));
        let mut p = raw_model_params();
        p.mask_token_id = params.mask_token_id;
        p.log_level = params.log_level;
        p.log_fn = Some(model_log_trampoline);
        p.log_user = &*log as *const Mutex<ModelLog> as *mut c_void;
        set(&mut p);
        let mut status: c_int = 0;
        // SAFETY: p is complete; what it points at (path, image, reader) outlives the call,
        // and the log state and image live in Shared as long as the model.
        let raw = unsafe { sys::difflm_model_load(&p, &mut status) };
        let shared = Arc::new(Shared { log, _image: image });
        let raw = match NonNull::new(raw) {
            Some(raw) => raw,
            None => {
                let msg = shared.log.lock().unwrap_or_else(|e| e.into_inner()).last_error.clone();
                return Err(Error::new(status, msg));
            }
        };
        let mut m = sys::difflm_model_info {
            struct_size: std::mem::size_of::<sys::difflm_model_info>() as u32,
            ..Default::default()
        };
        // SAFETY: a live model; m is a complete struct with struct_size set.
        let st = unsafe { sys::difflm_model_describe(raw.as_ptr(), &mut m) };
        let mut model = Model { raw, shared, info: ModelInfo::unfilled() }; // frees on error
        if st < 0 {
            return Err(Error::new(st, "difflm_model_describe failed"));
        }
        model.info = ModelInfo::from_raw(&m)?;
        Ok(model)
    }

    pub(crate) fn raw(&self) -> *mut sys::difflm_model {
        self.raw.as_ptr()
    }

    pub(crate) fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    /// What the model is (`difflm_model_describe`; `max_canvas` is 0: that is a
    /// context's).
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The bytes of heap a context with `params` allocates up front
    /// (`difflm_ctx_memory_required`), to check before creating it. `params.log` and
    /// `params.mask_token_id` play no part.
    pub fn memory_required(&self, params: &ContextParams) -> Result<usize> {
        let mut p = raw_ctx_params();
        p.n_threads = params.n_threads;
        p.max_canvas = params.max_canvas;
        p.max_batch = params.max_batch;
        p.precision = params.precision;
        p.pack_weights = params.pack_weights;
        let mut n = 0usize;
        // SAFETY: a live model and a complete params struct.
        let st = unsafe { sys::difflm_ctx_memory_required(self.raw(), &p, &mut n) };
        if st < 0 {
            return Err(Error::new(
                st,
                "difflm_ctx_memory_required: n_threads, max_canvas and max_batch must be >= 0, \
                 precision EXACT or BF16, pack_weights AUTO, OFF or ON",
            ));
        }
        Ok(n)
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        // SAFETY: our reference; contexts hold their own. self.shared drops after this,
        // and contexts hold it too, so the log state and image outlive the C model.
        unsafe { sys::difflm_model_free(self.raw.as_ptr()) };
    }
}
