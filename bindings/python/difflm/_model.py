"""Model: one loaded model (a difflm_model) that any number of Contexts share.

A model is loaded from a path (a GGUF file or a Hugging Face folder), from a buffer the
host owns (bytes, bytearray, memoryview, mmap: anything with the buffer protocol), or
from a file-like reader. It is read-only once loaded: describe() and memory_required()
are safe from any thread, and so is creating Contexts from it (each Context is then used
by one thread at a time). The C model lives until the Model is closed AND every Context
created from it is closed; the buffer it was loaded from is held (a buffer export, so a
bytearray cannot be resized nor an mmap closed under it) for exactly that long.
"""
import ctypes
import os
import threading
from ctypes import byref, c_int, c_size_t

from . import lowlevel as ll
from ._errors import Error, make_error
from ._info import ModelInfo, model_info_from
from ._native import lib

# The library uses a buffer in place only when it is this aligned (difflm.h, .data).
DATA_ALIGN = 32


class _Py_buffer(ctypes.Structure):
    """CPython's Py_buffer (Include/pybuffer.h), to hold a buffer export from ctypes."""
    _fields_ = [("buf", ctypes.c_void_p), ("obj", ctypes.c_void_p),
                ("len", ctypes.c_ssize_t), ("itemsize", ctypes.c_ssize_t),
                ("readonly", ctypes.c_int), ("ndim", ctypes.c_int),
                ("format", ctypes.c_char_p), ("shape", ctypes.c_void_p),
                ("strides", ctypes.c_void_p), ("suboffsets", ctypes.c_void_p),
                ("internal", ctypes.c_void_p)]


_get_buffer = ctypes.pythonapi.PyObject_GetBuffer
_get_buffer.argtypes = [ctypes.py_object, ctypes.POINTER(_Py_buffer), ctypes.c_int]
_get_buffer.restype = ctypes.c_int
_release_buffer = ctypes.pythonapi.PyBuffer_Release
_release_buffer.argtypes = [ctypes.POINTER(_Py_buffer)]
_release_buffer.restype = None
_PyBUF_SIMPLE = 0  # a contiguous run of bytes, read-only is fine


class _Export:
    """A held buffer export of a Python object: its address stays valid and its bytes
    cannot be resized away (bytearray) or unmapped (mmap) until release()."""

    def __init__(self, obj):
        self.view = _Py_buffer()
        _get_buffer(obj, byref(self.view), _PyBUF_SIMPLE)  # raises for non-buffers
        self.held = True

    @property
    def address(self):
        return self.view.buf or 0

    @property
    def size(self):
        return self.view.len

    def release(self):
        if self.held:
            self.held = False
            _release_buffer(byref(self.view))


class _AlignedCopy:
    """A DATA_ALIGN-aligned copy of size bytes at address (for a misaligned buffer)."""

    def __init__(self, address, size):
        self.raw = ctypes.create_string_buffer(size + DATA_ALIGN)
        base = ctypes.addressof(self.raw)
        self.address = base + (-base) % DATA_ALIGN
        self.size = size
        if size:
            ctypes.memmove(self.address, address, size)

    def release(self):
        self.raw = None


class _LogSink:
    """Receives the library's log lines: keeps the last error (a failed load or create
    has no context to hold it) and forwards everything to the caller's function. Kept
    apart from Model and Context so the C callback does not hold them alive."""

    def __init__(self, user_fn):
        self.user_fn = user_fn
        self.last_error = ""
        self.c_fn = ll.difflm_log_fn(self._receive)

    def _receive(self, level, message, _user):
        text = message.decode("utf-8", "replace") if message else ""
        if level == ll.LOG_ERROR:
            self.last_error = text
        if self.user_fn is not None:
            try:
                self.user_fn(level, text)
            except Exception:  # an exception cannot cross the C frame; drop it
                pass


class _Shared:
    """What the C model needs from Python for as long as it lives (the image it was
    loaded from in place, its log callback), counted: the Model holds one reference and
    every Context created from it one more; the last release frees the image."""

    def __init__(self, sink, image):
        self.sink = sink
        self.image = image
        self._refs = 1
        self._lock = threading.Lock()

    def acquire(self):
        with self._lock:
            self._refs += 1

    def release(self):
        with self._lock:
            self._refs -= 1
            last = self._refs == 0
        if last and self.image is not None:
            self.image.release()
            self.image = None


class _Reader:
    """difflm_read_fn over a file-like object: readinto (or read) at base + offset,
    seeking only when the position is elsewhere. An exception is kept for the caller."""

    def __init__(self, f, base):
        self.f = f
        self.base = base
        self.pos = base
        self.error = None
        self.c_fn = ll.difflm_read_fn(self._read)

    def _read(self, _user, offset, dst, n):
        try:
            want = self.base + offset
            if want != self.pos:
                self.f.seek(want)
                self.pos = want
            view = memoryview((ctypes.c_char * n).from_address(dst)).cast("B")
            got = 0
            while got < n:
                if hasattr(self.f, "readinto"):
                    k = self.f.readinto(view[got:])
                else:
                    chunk = self.f.read(n - got) or b""
                    k = len(chunk)
                    view[got:got + k] = chunk
                if not k:
                    raise EOFError("the reader ended at offset %d of the image, %d bytes "
                                   "short" % (offset + got, n - got))
                got += k
            self.pos += n
            return 0
        except BaseException as e:  # re-raised by Model.from_reader once C has unwound
            self.error = e
            return 1


def _model_params(mask_token_id, log_level, sink):
    p = ll.difflm_model_params()
    lib.difflm_model_params_init(byref(p))
    p.mask_token_id = mask_token_id
    p.log_level = log_level
    p.log_fn = sink.c_fn
    return p


def _ctx_params(n_threads, max_canvas, max_batch, log_level=ll.LOG_WARN, log_fn=None,
                precision=ll.PRECISION_EXACT, pack_weights=ll.PACK_AUTO):
    p = ll.difflm_ctx_params()
    lib.difflm_ctx_params_init(byref(p))
    p.n_threads = n_threads
    p.max_canvas = max_canvas
    p.max_batch = max_batch
    p.precision = precision
    p.pack_weights = pack_weights
    p.log_level = log_level
    if log_fn is not None:
        p.log_fn = log_fn
    return p


class Model:
    """A loaded model (difflm_model): mapped weights, hyperparameters, tokenizer and chat
    format, shared read-only by every Context created from it:

        model = difflm.Model("model.gguf")            # or a Hugging Face folder
        a = difflm.Context(model, n_threads=1)
        b = difflm.Context(model, n_threads=1)         # same weights, own state

    Model.from_buffer(data) loads from memory the host owns, Model.from_reader(f) from a
    file-like object. describe(), memory_required() and creating Contexts are safe from
    any thread. close() (or a `with` block) drops the Model's reference; Contexts created
    from it keep the C model (and the buffer it came from) alive until they are closed.
    """

    def __init__(self, path, *, mask_token_id=-1, log=None, log_level=ll.LOG_WARN):
        data = os.fsencode(path)
        if b"\0" in data:
            raise ValueError("path must not contain NUL characters")
        sink = _LogSink(log)
        p = _model_params(mask_token_id, log_level, sink)
        p.path = data
        self._load(p, sink, None)

    @classmethod
    def from_buffer(cls, data, *, copy=None, mask_token_id=-1, log=None,
                    log_level=ll.LOG_WARN):
        """Loads a GGUF image from an object with the buffer protocol (bytes, bytearray,
        memoryview, mmap.mmap, array...), validated as a file is.

        The library reads the bytes in place when they are 32-byte aligned (an mmap
        always is): the Model then holds a buffer export of data until it and all its
        Contexts are closed, so data stays alive even when the caller drops it, a
        bytearray cannot be resized (BufferError) and an mmap cannot be closed meanwhile.
        Writing into a mutable buffer during that time is the caller's error: the model
        reads the weights from it at every step. copy=None copies a misaligned buffer
        into an aligned one (costing its size in memory), copy=True always copies (the
        caller's object is then free at once), copy=False never does (a misaligned
        buffer fails with the library's E_INVALID_ARG)."""
        export = _Export(data)
        image = export
        try:
            aligned = export.address % DATA_ALIGN == 0
            # An empty buffer may have no address; its aligned copy has one, so the
            # library sees data of size 0 and says what is wrong with it.
            if copy or export.size == 0 or (copy is None and not aligned):
                image = _AlignedCopy(export.address, export.size)
                export.release()
            self = cls.__new__(cls)
            sink = _LogSink(log)
            p = _model_params(mask_token_id, log_level, sink)
            p.data = image.address
            p.size = image.size
            self._load(p, sink, image)
        except BaseException:
            image.release()
            export.release()
            raise
        return self

    @classmethod
    def from_reader(cls, f, size=None, *, mask_token_id=-1, log=None,
                    log_level=ll.LOG_WARN):
        """Loads a GGUF image of size bytes read from the file-like f (readinto, or
        read, and seek when the library asks for bytes elsewhere), starting at f's
        current position (an asset inside a pack). size None: up to the end of f (f must
        then be seekable). The image is read once, during this call, into one heap block
        the library owns; f is not used afterwards. A reader that raises fails the load
        with Error(E_IO), the reader's exception as its __cause__."""
        base = f.tell() if hasattr(f, "tell") else 0
        if size is None:
            if not hasattr(f, "seek"):
                raise ValueError("give size for a reader that cannot seek")
            end = f.seek(0, os.SEEK_END)
            f.seek(base)
            size = end - base
        if not isinstance(size, int) or size < 0:
            raise ValueError("size must be a non-negative integer, got %r" % (size,))
        reader = _Reader(f, base)
        self = cls.__new__(cls)
        sink = _LogSink(log)
        p = _model_params(mask_token_id, log_level, sink)
        p.read_fn = reader.c_fn
        p.size = size
        try:
            self._load(p, sink, None)
        except Error as e:
            if reader.error is not None:
                if not isinstance(reader.error, Exception):  # KeyboardInterrupt and such
                    raise reader.error
                raise e from reader.error
            raise
        return self

    def _load(self, p, sink, image):
        self._model = None
        self._lock = threading.Lock()
        status = c_int(0)
        model = lib.difflm_model_load(byref(p), byref(status))
        if not model:
            raise make_error(status.value, sink.last_error)
        self._model = model
        self._shared = _Shared(sink, image)
        try:
            self._info = self.describe()
        except BaseException:
            self.close()  # frees the model before the caller releases the image
            raise

    # ------------------------------------------------------------ lifetime

    def close(self):
        """Drops this Model's reference (difflm_model_free). Contexts created from it go
        on working; the memory goes with the last of them. Idempotent."""
        with self._lock:
            model, self._model = self._model, None
        if model:
            lib.difflm_model_free(model)
            self._shared.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    @property
    def closed(self):
        return not self._model

    def _handle(self):
        if not self._model:
            raise Error(ll.E_STATE, "the model is closed")
        return self._model

    def _create_context(self, p, sink):
        """difflm_ctx_create with the model's keepalive taken for the context; returns
        (ctx pointer, release function) or raises the library's error."""
        with self._lock:  # not closed between the check and the create
            status = c_int(0)
            ctx = lib.difflm_ctx_create(self._handle(), byref(p), byref(status))
            if not ctx:
                raise make_error(status.value, sink.last_error)
            self._shared.acquire()
        return ctx, self._shared.release

    # ------------------------------------------------------------ what it is

    def describe(self):
        """difflm_model_describe: a ModelInfo (max_canvas is 0: that is a context's)."""
        out = ll.difflm_model_info()
        out.struct_size = ctypes.sizeof(out)
        st = lib.difflm_model_describe(self._handle(), byref(out))
        if st < 0:
            raise make_error(st)
        return model_info_from(out)

    @property
    def info(self):
        """The ModelInfo read at load."""
        return self._info

    def memory_required(self, *, n_threads=0, max_canvas=0, max_batch=1,
                        precision=ll.PRECISION_EXACT, pack_weights=ll.PACK_AUTO):
        """Bytes of heap a Context with these parameters allocates up front
        (difflm_ctx_memory_required), for checking before creating one: the packed
        copy of the weights is counted until a context on this Model has made it."""
        p = _ctx_params(n_threads, max_canvas, max_batch, precision=precision,
                        pack_weights=pack_weights)
        n = c_size_t(0)
        st = lib.difflm_ctx_memory_required(self._handle(), byref(p), byref(n))
        if st < 0:
            raise make_error(st, "difflm_ctx_memory_required: invalid parameters "
                             "(n_threads, max_canvas and max_batch must be >= 0, "
                             "precision PRECISION_EXACT or PRECISION_BF16, pack_weights "
                             "PACK_AUTO, PACK_OFF or PACK_ON)"
                             if st == ll.E_INVALID_ARG else "")
        return n.value
