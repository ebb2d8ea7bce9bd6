"""The Pythonic layer: Context, its results (ModelInfo, Step) and parameter handling."""
import ctypes
import dataclasses
import os
import threading
from ctypes import byref, c_int, c_size_t

from . import lowlevel as ll
from ._errors import Error, make_error
from ._info import model_info_from
from ._model import Model, _ctx_params, _LogSink
from ._native import lib

# Bytes reserved per generated token for difflm_sample's output; when a token is longer,
# generate() rebuilds the text from the finished canvas instead of generating again.
_SAMPLE_BYTES_PER_TOKEN = 32

_SCHEDULES = {"auto": ll.SCHEDULE_AUTO, "blocks": ll.SCHEDULE_BLOCKS,
              "timesteps": ll.SCHEDULE_TIMESTEPS, "block_diffusion": ll.SCHEDULE_BLOCK_DIFFUSION}
_REMASKING = {"auto": ll.REMASK_AUTO, "low_confidence": ll.REMASK_LOW_CONFIDENCE,
              "random": ll.REMASK_RANDOM, "origin": ll.REMASK_ORIGIN,
              "maskgit_plus": ll.REMASK_MASKGIT_PLUS, "topk_margin": ll.REMASK_TOPK_MARGIN,
              "entropy": ll.REMASK_ENTROPY}
_PARALLEL = {"none": ll.PARALLEL_NONE, "threshold": ll.PARALLEL_THRESHOLD,
             "factor": ll.PARALLEL_FACTOR}
_CACHE = {"none": ll.CACHE_NONE, "prefix": ll.CACHE_PREFIX, "dual": ll.CACHE_DUAL}
_NAMED = {"schedule": _SCHEDULES, "remasking": _REMASKING, "parallel": _PARALLEL,
          "cache": _CACHE}
# The difflm_gen_params fields a caller may set by keyword.
GEN_PARAMS = ("gen_length", "steps", "block_length", "schedule", "remasking", "temperature",
              "top_k", "top_p", "cfg_scale", "eps", "alg_temp", "seed", "flags", "parallel",
              "threshold", "factor", "cache", "block_threshold", "editing_threshold",
              "max_post_steps")


@dataclasses.dataclass(frozen=True)
class Score:
    """What Context.score found (difflm_score_result): nll, the estimate of -ELBO in
    nats; se, its standard error; var = se**2 (NaN when mc is 1); n_tokens scored;
    n_iter = mc / batch."""
    nll: float
    se: float
    var: float
    n_tokens: int
    n_iter: int


@dataclasses.dataclass(frozen=True)
class Step:
    """The canvas after one denoising step (a copy: it stays valid)."""
    index: int            # 1-based step just run
    total_steps: int      # steps the schedule plans
    n_committed: int      # tokens this step committed
    n_masked: int         # MASK tokens left in the generated region
    prompt_length: int    # canvas[:prompt_length] is the prompt
    canvas: tuple         # token ids, MASK where still masked

    @property
    def generated(self):
        return self.canvas[self.prompt_length:]

    @property
    def done(self):
        return self.n_masked == 0


@dataclasses.dataclass(frozen=True)
class Confidence:
    """One canvas position's difflm_confidences entry (doc/sampling.md "Confidences")."""
    token: int            # its id; for a MASK the last step's candidate, or -1
    step: int             # 1-based step that committed it; CONF_FIXED (-1), CONF_MASKED (0)
    prob: float           # the model's probability of token (NaN where none)
    score: float          # the remasking rule's confidence (NaN where none)


def _step_from_info(info):
    n = info.canvas_length
    canvas = tuple(info.canvas[:n]) if n else ()
    return Step(info.step, info.total_steps, info.n_committed, info.n_masked,
                info.prompt_length, canvas)


def _check_ids(ids):
    ids = list(ids)
    for t in ids:
        if not isinstance(t, int) or not -2**31 <= t < 2**31:
            raise ValueError("token ids must be 32-bit integers, got %r" % (t,))
    return (ll.difflm_token * len(ids))(*ids), len(ids)


def _text_bytes(text, what):
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    if b"\0" in data and what:
        raise ValueError("%s must not contain NUL characters" % what)
    return data


class Context:
    """Everything one generation needs (a difflm_ctx): a model and its own scratch,
    schedule state, thread pool, last error and cancel flag.

    Context(path) loads a private model (difflm_create); Context(model) creates one more
    context on a loaded Model (difflm_ctx_create), sharing its weights and tokenizer
    (mask_token_id is then the Model's). Use a Context from one thread at a time; cancel()
    is the exception and is safe from any thread. Close it with close() or a `with`
    block; __del__ is only a fallback.

    precision: lowlevel.PRECISION_EXACT (default: f32 products) or PRECISION_BF16
    (products over F32/F16/BF16 weights with bf16 operands and f32 sums; quantized
    weights are unaffected), difflm_ctx_params.precision.
    pack_weights: lowlevel.PACK_AUTO (default), PACK_OFF or PACK_ON: whether the float
    weights are packed once for the products (the same results; memory for speed),
    difflm_ctx_params.pack_weights.
    """

    def __init__(self, model_path, *, n_threads=0, max_canvas=0, mask_token_id=-1,
                 log=None, log_level=ll.LOG_WARN, max_batch=1,
                 precision=ll.PRECISION_EXACT, pack_weights=ll.PACK_AUTO):
        self._ctx = None
        self._release_model = None  # a Model's keepalive, dropped after difflm_free
        self._lock = threading.RLock()  # close() vs cancel() from another thread
        self._keepalive = None      # the step callback the library may still call
        self._generation = 0        # bumped by every generate_begin, to spot stale steps()
        self._sink = _LogSink(log)
        self._model = model_path if isinstance(model_path, Model) else None
        if self._model is not None:
            if mask_token_id != -1:
                raise ValueError("mask_token_id belongs to the model: give it to Model()")
            p = _ctx_params(n_threads, max_canvas, max_batch, log_level, self._sink.c_fn,
                            precision, pack_weights)
            self._ctx, self._release_model = self._model._create_context(p, self._sink)
            self._info = self.model_info()
            return
        p = ll.difflm_params()
        lib.difflm_params_init(byref(p))
        p.model_path = _text_bytes(os.fsencode(model_path), "model_path")
        p.n_threads = n_threads
        p.max_canvas = max_canvas
        p.mask_token_id = mask_token_id
        p.max_batch = max_batch
        p.precision = precision
        p.pack_weights = pack_weights
        p.log_level = log_level
        p.log_fn = self._sink.c_fn
        status = c_int(0)
        ctx = lib.difflm_create(byref(p), byref(status))
        if not ctx:
            raise make_error(status.value, self._sink.last_error)
        self._ctx = ctx
        self._info = self.model_info()

    @property
    def model(self):
        """The Model this context was created from; None for Context(path)."""
        return self._model

    # ------------------------------------------------------------ lifetime

    def close(self):
        """Frees the context; further calls raise Error(E_STATE). Idempotent."""
        with self._lock:
            ctx, self._ctx = self._ctx, None
            release, self._release_model = self._release_model, None
            if ctx:
                lib.difflm_free(ctx)
            if release:  # after the free: the C model may still need the image till then
                release()
        self._keepalive = None

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
        return not self._ctx

    def _handle(self):
        if not self._ctx:
            raise Error(ll.E_STATE, "the context is closed")
        return self._ctx

    def _check(self, status):
        if status < 0:
            raise make_error(status, lib.difflm_last_error(self._ctx).decode("utf-8", "replace"))
        return status

    # ------------------------------------------------------------ model and tokens

    def model_info(self):
        out = ll.difflm_model_info()
        out.struct_size = ctypes.sizeof(out)
        self._check(lib.difflm_model_info_get(self._handle(), byref(out)))
        return model_info_from(out)

    def tokenize(self, text, *, add_bos=False, parse_special=False):
        """str or bytes -> list of token ids."""
        data = _text_bytes(text, None)
        flags = (ll.TOKENIZE_ADD_BOS if add_bos else 0) | (
            ll.TOKENIZE_PARSE_SPECIAL if parse_special else 0)
        cap = len(data) + 2
        while True:
            out = (ll.difflm_token * cap)()
            n = c_size_t(0)
            st = lib.difflm_tokenize(self._handle(), data, len(data), flags, out, cap, byref(n))
            if st == ll.E_BUFFER_TOO_SMALL and n.value > cap:
                cap = n.value
                continue
            self._check(st)
            return list(out[:n.value])

    def detokenize_bytes(self, ids, *, special=False):
        """Token ids -> the exact bytes (a token may end inside a UTF-8 character)."""
        arr, n_ids = _check_ids(ids)
        flags = ll.DETOKENIZE_SPECIAL if special else 0
        cap = 8 * n_ids + 16
        while True:
            out = ctypes.create_string_buffer(cap)
            n = c_size_t(0)
            st = lib.difflm_detokenize(self._handle(), arr, n_ids, flags, out, cap, byref(n))
            if st == ll.E_BUFFER_TOO_SMALL and n.value > cap:
                cap = n.value
                continue
            self._check(st)
            return out.raw[:n.value]

    def detokenize(self, ids, *, special=False, errors="replace"):
        """Token ids -> str (bytes that are not valid UTF-8 follow `errors`)."""
        return self.detokenize_bytes(ids, special=special).decode("utf-8", errors)

    def chat_format(self, messages, *, add_assistant=True):
        """[(role, content)] or [{"role": .., "content": ..}] -> the model's chat text.

        The text includes the template's BOS where it has one; generate(text) and
        steps(text) take it as it is and add no second BOS."""
        pairs = [(m["role"], m["content"]) if isinstance(m, dict) else tuple(m)
                 for m in messages]
        msgs = (ll.difflm_chat_message * len(pairs))()
        for i, (role, content) in enumerate(pairs):
            msgs[i].role = _text_bytes(role, "role")
            msgs[i].content = _text_bytes(content, "content")
        cap = 256 + sum(len(m.content) + 64 for m in msgs)
        while True:
            out = ctypes.create_string_buffer(cap)
            n = c_size_t(0)
            st = lib.difflm_chat_format(self._handle(), msgs, len(pairs),
                                        1 if add_assistant else 0, out, cap, byref(n))
            if st == ll.E_BUFFER_TOO_SMALL and n.value + 1 > cap:
                cap = n.value + 1
                continue
            self._check(st)
            return out.raw[:n.value].decode("utf-8", "replace")

    # ------------------------------------------------------------ generation

    @staticmethod
    def _gen_params(params):
        g = ll.difflm_gen_params()
        lib.difflm_gen_params_init(byref(g))
        for key, value in params.items():
            if key not in GEN_PARAMS:
                raise TypeError("unknown generation parameter %r (known: %s)"
                                % (key, ", ".join(GEN_PARAMS)))
            names = _NAMED.get(key)
            if names is not None and isinstance(value, str):
                if value not in names:
                    raise ValueError("%s must be one of %s" % (key, ", ".join(names)))
                value = names[value]
            if key == "seed" and not 0 <= value < 2**64:
                raise ValueError("seed must be in [0, 2**64)")
            setattr(g, key, value)
        return g

    def _begin(self, ids, g):
        arr, n = _check_ids(ids)
        self._generation += 1
        self._check(lib.difflm_generate_begin(self._handle(), arr, n, byref(g)))

    def generate(self, prompt, *, on_step=None, **params):
        """Generates from prompt text (BOS and special tokens as difflm_sample does) and
        returns the generated text up to the first end-of-text or end-of-turn.

        BOS is added once: a prompt that already starts with it, such as chat_format()'s
        text, gets no second one (difflm_sample would add it regardless).

        on_step(step: Step), if given, runs after every step; a true return value stops
        generation with Cancelled, and an exception it raises propagates from here."""
        data = _text_bytes(prompt, "prompt")
        g = self._gen_params(params)
        raised = []
        if on_step is not None:
            def trampoline(info_p, _user):
                try:
                    return 1 if on_step(_step_from_info(info_p.contents)) else 0
                except BaseException as e:  # re-raised below, once C has unwound
                    raised.append(e)
                    return 1
            g.step_fn = ll.difflm_step_fn(trampoline)
        self._keepalive = g.step_fn
        if self._info.add_bos and self._starts_with_bos(data):
            return self._generate_ids(self.tokenize(data, parse_special=True), g, raised)
        self._generation += 1
        cap = max(g.gen_length, 0) * _SAMPLE_BYTES_PER_TOKEN + 64
        out = ctypes.create_string_buffer(cap)
        n = c_size_t(0)
        st = lib.difflm_sample(self._handle(), data, byref(g), out, cap, byref(n))
        if raised:
            raise raised[0]
        if st == ll.E_BUFFER_TOO_SMALL:
            return self._generated_text(g.gen_length)
        self._check(st)
        return out.raw[:n.value].decode("utf-8", "replace")

    def _starts_with_bos(self, data):
        """Whether text, tokenized as difflm_sample tokenizes it, begins with BOS."""
        bos = self._info.bos_id
        if bos < 0 or not data:
            return False
        ids = self.tokenize(data, parse_special=True)
        return bool(ids) and ids[0] == bos

    def _prompt_ids(self, text, add_bos, parse_special):
        """Text -> prompt ids with at most one leading BOS (add_bos None: the model's)."""
        if add_bos is None:
            add_bos = self._info.add_bos
        ids = self.tokenize(text, parse_special=parse_special)
        bos = self._info.bos_id
        if add_bos and bos >= 0 and not (ids and ids[0] == bos):
            ids.insert(0, bos)
        return ids

    def _generate_ids(self, ids, g, raised):
        """difflm_sample's loop and text cut, from ids (generate()'s BOS-once path)."""
        try:
            self._begin(ids, g)
            while self._check(lib.difflm_generate_step(self._handle())) != ll.DONE:
                pass
        except Error:
            if raised:
                raise raised[0]
            raise
        return self._generated_text(g.gen_length)

    def _generated_text(self, gen_length):
        """The finished canvas's generated text, cut as difflm_sample cuts it."""
        canvas = self.canvas()
        gen = canvas[len(canvas) - gen_length:]
        for i, t in enumerate(gen):
            if t >= 0 and t in (self._info.eos_id, self._info.eot_id):
                gen = gen[:i]
                break
        return self.detokenize(gen)

    def steps(self, prompt, *, add_bos=None, parse_special=True, **params):
        """Yields a Step after every denoising step until the canvas is complete.

        prompt is text (tokenized like generate(): BOS if the model adds one and the text
        does not already start with it, special tokens parsed, unless add_bos /
        parse_special say otherwise) or a list of ids, used as given.
        Stepping stops with Cancelled after cancel(), and with Error(E_STATE) when another
        generation has started on this context since."""
        if isinstance(prompt, (str, bytes)):
            ids = self._prompt_ids(prompt, add_bos, parse_special)
        else:
            ids = list(prompt)
        g = self._gen_params(params)
        seen = []

        def record(info_p, _user):
            seen.append(_step_from_info(info_p.contents))
            return 0
        g.step_fn = ll.difflm_step_fn(record)
        self._keepalive = g.step_fn
        self._begin(ids, g)
        return self._step_iter(self._generation, seen)

    def _step_iter(self, generation, seen):
        while True:
            if generation != self._generation:
                raise Error(ll.E_STATE, "another generation started on this context; "
                            "this steps() iterator is stale")
            del seen[:]
            st = self._check(lib.difflm_generate_step(self._handle()))
            if seen:  # the callback's copy of the canvas is the snapshot after this step
                yield seen[-1]
            if st == ll.DONE:
                return

    def generate_batch(self, prompts, *, seeds=None, add_bos=None, parse_special=True,
                       **params):
        """Generates from several prompts at once (difflm_batch_*): one forward pass per
        step over every canvas still denoising. Each prompt is text (tokenized as steps()
        tokenizes it) or a list of ids; seeds is None (every canvas params' seed) or one
        seed per prompt. Returns the finished canvases (lists of ids, prompt included),
        each bitwise what a generation of its prompt alone with its seed gives. At most
        the context's max_batch prompts; no step callback, CFG or KV cache."""
        ids = [self._prompt_ids(p, add_bos, parse_special) if isinstance(p, (str, bytes))
               else list(p) for p in prompts]
        if "step_fn" in params or "on_step" in params:
            raise TypeError("generate_batch takes no step callback")
        g = self._gen_params(params)
        k = len(ids)
        arrs = [_check_ids(x) for x in ids]
        ptrs = (ctypes.POINTER(ll.difflm_token) * max(k, 1))(
            *[ctypes.cast(a, ctypes.POINTER(ll.difflm_token)) for a, _ in arrs])
        lens = (c_size_t * max(k, 1))(*[n for _, n in arrs])
        seed_arr = None
        if seeds is not None:
            seeds = list(seeds)
            if len(seeds) != k:
                raise ValueError("seeds must give one seed per prompt (%d), got %d"
                                 % (k, len(seeds)))
            for sd in seeds:
                if not isinstance(sd, int) or not 0 <= sd < 2**64:
                    raise ValueError("seeds must be integers in [0, 2**64)")
            seed_arr = (ctypes.c_uint64 * k)(*seeds)
        self._generation += 1
        self._keepalive = None
        self._check(lib.difflm_batch_begin(self._handle(), ptrs, lens, k, seed_arr, byref(g)))
        while self._check(lib.difflm_batch_step(self._handle())) != ll.DONE:
            pass
        cap = self._info.max_canvas
        out = (ll.difflm_token * cap)()
        n = c_size_t(0)
        canvases = []
        for i in range(k):
            self._check(lib.difflm_batch_canvas(self._handle(), i, out, cap, byref(n)))
            canvases.append(list(out[:n.value]))
        return canvases
    def infill_canvas(self, template, *, add_bos=None, parse_special=True):
        """The canvas of a template (difflm_infill_canvas): "<mask:N>" becomes N MASK
        ids, the text pieces around the markers are tokenized one by one (BOS first when
        add_bos, None: the model's; \\<mask: is the text itself). Returns a list of ids."""
        data = _text_bytes(template, "template")
        if add_bos is None:
            add_bos = self._info.add_bos
        flags = (ll.TOKENIZE_ADD_BOS if add_bos else 0) | \
            (ll.TOKENIZE_PARSE_SPECIAL if parse_special else 0)
        need = c_size_t(0)
        st = lib.difflm_infill_canvas(self._handle(), data, flags, None, 0, byref(need))
        if st != ll.E_BUFFER_TOO_SMALL:
            self._check(st)
        out = (ll.difflm_token * max(need.value, 1))()
        self._check(lib.difflm_infill_canvas(self._handle(), data, flags, out, need.value,
                                             byref(need)))
        return list(out[:need.value])

    def _begin_canvas(self, canvas, g):
        if isinstance(canvas, (str, bytes)):
            canvas = self.infill_canvas(canvas)
        arr, n = _check_ids(canvas)
        self._generation += 1
        self._check(lib.difflm_generate_begin_canvas(self._handle(), arr, n, byref(g)))

    def infill_steps(self, canvas, **params):
        """Like steps(), over a canvas with holes (difflm_generate_begin_canvas): canvas
        is a template ("The<mask:4> sat.", see infill_canvas) or a list of ids with the
        MASK id (info.mask_id) where to generate. gen_length is not used."""
        g = self._gen_params(params)
        seen = []

        def record(info_p, _user):
            seen.append(_step_from_info(info_p.contents))
            return 0
        g.step_fn = ll.difflm_step_fn(record)
        self._keepalive = g.step_fn
        self._begin_canvas(canvas, g)
        return self._step_iter(self._generation, seen)

    def infill(self, canvas, **params):
        """Fills the holes of canvas (a template or ids, as infill_steps) and returns the
        whole text, fixed pieces included, without control tokens."""
        for _ in self.infill_steps(canvas, **params):
            pass
        return self.detokenize(self.canvas())

    def confidences(self):
        """difflm_confidences after the last step: a Confidence per canvas position."""
        n = c_size_t(0)
        st = lib.difflm_confidences(self._handle(), None, None, None, None, 0, byref(n))
        if st != ll.E_BUFFER_TOO_SMALL:
            self._check(st)
        L = max(n.value, 1)
        tok, step = (ll.difflm_token * L)(), (ctypes.c_int32 * L)()
        prob, score = (ctypes.c_float * L)(), (ctypes.c_float * L)()
        self._check(lib.difflm_confidences(self._handle(), tok, step, prob, score, L, byref(n)))
        return [Confidence(tok[i], step[i], prob[i], score[i]) for i in range(n.value)]

    def canvas(self):
        """The current canvas (prompt + generated, MASK where still masked)."""
        cap = self._info.max_canvas
        out = (ll.difflm_token * cap)()
        n = c_size_t(0)
        self._check(lib.difflm_canvas(self._handle(), out, cap, byref(n)))
        return list(out[:n.value])

    def logits(self, ids, rows=None):
        """One forward pass's raw logits over ids (difflm_logits): a list of rows, each a
        list of info.n_vocab floats, for every position (rows None) or for the given
        canvas rows (any order, repeats allowed). Unshifted: with info.shift_logits,
        position p >= 1 is predicted by row p - 1. A generation in progress is not
        disturbed."""
        arr, n = _check_ids(ids)
        if rows is None:
            rarr, n_rows = None, 0
        else:
            rows = list(rows)
            for r in rows:
                if not isinstance(r, int) or not -2**31 <= r < 2**31:
                    raise ValueError("rows must be 32-bit integers, got %r" % (r,))
            # never NULL: no rows is not every row
            rarr, n_rows = (ctypes.c_int32 * max(len(rows), 1))(*rows), len(rows)
        V = self._info.n_vocab
        need = (n if rows is None else n_rows) * V
        out = (ctypes.c_float * max(need, 1))()
        got = c_size_t(0)
        self._check(lib.difflm_logits(self._handle(), arr, n, rarr, n_rows, out, need,
                                      byref(got)))
        flat = out[:got.value]
        return [flat[i:i + V] for i in range(0, got.value, V)]

    def score(self, ids, prompt=(), mc=128, batch=16, seed=0):
        """LLaDA's Monte Carlo estimate of -log p(ids | prompt) in nats (difflm_score: the
        negative ELBO, an upper bound in expectation). The prompt is never masked; mc
        forward passes in mc / batch stratified iterations. Returns a Score(nll, se, var,
        n_tokens, n_iter). Deterministic for a seed, whatever the thread count."""
        ids, prompt = list(ids), list(prompt)
        arr, n = _check_ids(ids) if ids else (None, 0)
        parr, n_prompt = _check_ids(prompt) if prompt else (None, 0)
        p = ll.difflm_score_params()
        lib.difflm_score_params_init(byref(p))
        p.mc, p.batch, p.seed = mc, batch, seed
        r = ll.difflm_score_result()
        r.struct_size = ctypes.sizeof(r)
        self._check(lib.difflm_score(self._handle(), parr, n_prompt, arr, n, byref(p),
                                     byref(r)))
        return Score(r.nll, r.se, r.var, r.n_tokens, r.n_iter)

    def cancel(self):
        """Stops the running (or next) step with Cancelled. Safe from any thread, even
        racing close() (then it does nothing); a later generate()/steps() clears it."""
        with self._lock:
            if self._ctx:
                lib.difflm_cancel(self._ctx)

    @property
    def info(self):
        """The ModelInfo read when the context was created."""
        return self._info
