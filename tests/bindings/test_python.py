"""Tests of the Python binding (bindings/python) against the built library.

usage: test_python.py MODEL.gguf [unittest args]; DIFFLM_LIBRARY names the library and
PYTHONPATH holds bindings/python (meson sets both), DIFFLM_TEST_BLOCK_MODEL a block-causal
model (diffusion.block_length 8) for the block diffusion fields."""
import ctypes
import dataclasses
import gc
import io
import math
import mmap
import os
import subprocess
import sys
import tempfile
import threading
import unittest

import difflm
from difflm import lowlevel as ll

MODEL = None
SMALL = dict(gen_length=16, steps=8, block_length=8)


class ImportChecks(unittest.TestCase):
    def test_abi_and_versions(self):
        self.assertEqual(difflm.abi_version(), ll.ABI_VERSION)
        self.assertRegex(difflm.version(), r"^\d+\.\d+\.\d+$")
        self.assertEqual(difflm.status_str(ll.E_IO), "cannot read or write a file")

    def test_mirrored_struct_sizes(self):
        lib = difflm._lib
        self.assertEqual(ll.library_struct_size(lib.difflm_params_init),
                         ctypes.sizeof(ll.difflm_params))
        self.assertEqual(ll.library_struct_size(lib.difflm_gen_params_init),
                         ctypes.sizeof(ll.difflm_gen_params))
        if ctypes.sizeof(ctypes.c_void_p) == 8:  # the LP64 layouts of difflm.h
            self.assertEqual(ctypes.sizeof(ll.difflm_params), 64)
            self.assertEqual(ctypes.sizeof(ll.difflm_gen_params), 112)
            self.assertEqual(ctypes.sizeof(ll.difflm_step_info), 48)
            self.assertEqual(ctypes.sizeof(ll.difflm_model_info), 80)
            self.assertEqual(ctypes.sizeof(ll.difflm_score_params), 24)
            self.assertEqual(ctypes.sizeof(ll.difflm_score_result), 40)
            self.assertEqual(ctypes.sizeof(ll.difflm_model_params), 96)
            self.assertEqual(ctypes.sizeof(ll.difflm_ctx_params), 72)
        self.assertEqual(ll.library_struct_size(lib.difflm_score_params_init),
                         ctypes.sizeof(ll.difflm_score_params))
        self.assertEqual(ll.library_struct_size(lib.difflm_model_params_init),
                         ctypes.sizeof(ll.difflm_model_params))
        self.assertEqual(ll.library_struct_size(lib.difflm_ctx_params_init),
                         ctypes.sizeof(ll.difflm_ctx_params))

    def test_every_prototype_is_bound(self):
        for name, (restype, argtypes, proto) in ll.PROTOTYPES.items():
            self.assertIn(name + "(", proto)
            self.assertEqual(getattr(difflm._lib, name).argtypes, argtypes)

    def test_loader_honours_difflm_library(self):
        self.assertEqual(difflm._loader.candidates(), [os.environ["DIFFLM_LIBRARY"]])
        env = dict(os.environ, DIFFLM_LIBRARY="/nonexistent/libdifflm.so.0")
        r = subprocess.run([sys.executable, "-c", "import difflm"], env=env,
                           capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("/nonexistent/libdifflm.so.0", r.stderr)
        self.assertIn("OSError", r.stderr)      # dlopen's error, the ImportError's cause
        self.assertIn("ImportError: cannot load libdifflm", r.stderr)
        self.assertIn("DIFFLM_LIBRARY=/path/to/libdifflm.so.0", r.stderr)  # the fix

    def test_loader_not_found_is_import_error_listing_the_search(self):
        # No override, no pkg-config (PATH has none), no install config, and a dynamic
        # loader that opens nothing: the ImportError names each place searched, each
        # attempt with its error, and the fix.
        # _loader.py on its own (importing the package would run the search at once).
        code = ("import importlib.util, sys\n"
                "spec = importlib.util.spec_from_file_location('loader', sys.argv[1])\n"
                "L = importlib.util.module_from_spec(spec); spec.loader.exec_module(L)\n"
                "L._config = None\n"
                "L._standard_dirs = lambda: ['/nonexistent/std']\n"
                "L.ctypes.util.find_library = lambda name: None\n"
                "def cdll(name):\n    raise OSError('refused: ' + name)\n"
                "L.ctypes.CDLL = cdll\n"
                "try:\n    L.load()\nexcept ImportError as e:\n    print(e)\n"
                "else:\n    print('loaded')\n")
        loader = difflm._loader.__file__
        env = {k: v for k, v in os.environ.items()
               if k not in ("DIFFLM_LIBRARY", "LD_LIBRARY_PATH", "PKG_CONFIG_PATH")}
        env["PATH"] = "/nonexistent"
        r = subprocess.run([sys.executable, "-c", code, loader], env=env,
                           capture_output=True, text=True, cwd=tempfile.gettempdir())
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout
        self.assertIn("cannot load libdifflm", out)
        self.assertIn("no pkg-config program", out)
        self.assertIn("not installed by meson install", out)
        self.assertIn("/nonexistent/std", out)
        self.assertIn("libdifflm.so.0: refused: libdifflm.so.0", out)  # an attempt, its error
        self.assertIn("meson install", out)
        self.assertIn("DIFFLM_LIBRARY=", out)

    def test_loader_install_dirs(self):
        # A _config.py as meson install writes it: the libdir relative to where the
        # package is now comes first (a DESTDIR-staged tree), then the configured one.
        class Config:
            LIBDIR = "/opt/p/lib/x86_64-linux-gnu"
            PYTHON_DIR = "/opt/p/lib/python3/dist-packages"
        dirs = difflm._loader._install_dirs(Config, "/stage/opt/p/lib/python3/dist-packages/difflm")
        self.assertEqual(dirs, ["/stage/opt/p/lib/x86_64-linux-gnu", Config.LIBDIR])
        dirs = difflm._loader._install_dirs(Config, "/opt/p/lib/python3/dist-packages/difflm")
        self.assertEqual(dirs, [Config.LIBDIR])


class Errors(unittest.TestCase):
    def test_missing_model_is_e_io_with_message(self):
        logged = []
        with self.assertRaises(difflm.Error) as cm:
            difflm.Context("/nonexistent/model.gguf", log=lambda lvl, msg: logged.append(msg))
        e = cm.exception
        self.assertEqual(e.code, ll.E_IO)
        self.assertEqual(e.name, "E_IO")
        self.assertIn("/nonexistent/model.gguf", e.message)
        self.assertIn("/nonexistent/model.gguf", str(e))
        self.assertTrue(any("/nonexistent/model.gguf" in m for m in logged))

    def test_malformed_model_is_e_format(self):
        with tempfile.NamedTemporaryFile(suffix=".gguf") as f:
            f.write(b"GGUF" + b"\xff" * 60)
            f.flush()
            with self.assertRaises(difflm.Error) as cm:
                difflm.Context(f.name)
        self.assertEqual(cm.exception.code, ll.E_FORMAT)
        self.assertTrue(cm.exception.message)

    def test_bad_create_arguments(self):
        with self.assertRaises(ValueError):
            difflm.Context(MODEL + "\0junk")
        with self.assertRaises(difflm.Error) as cm:
            difflm.Context(MODEL, n_threads=-1)
        self.assertEqual(cm.exception.code, ll.E_INVALID_ARG)
        self.assertIn("n_threads", cm.exception.message)


class Precision(unittest.TestCase):
    def test_bf16_reaches_the_library(self):
        ids = list(range(10, 40))
        with difflm.Context(MODEL, n_threads=1) as exact, \
                difflm.Context(MODEL, n_threads=1, precision=ll.PRECISION_BF16) as bf16, \
                difflm.Model(MODEL) as model, \
                difflm.Context(model, n_threads=1, precision=ll.PRECISION_BF16) as on_model:
            le, lb, lm = ([v for row in c.logits(ids) for v in row]
                          for c in (exact, bf16, on_model))
            self.assertNotEqual(list(le), list(lb))   # bf16 products ran
            self.assertEqual(list(lb), list(lm))      # both creation paths pass the field
            self.assertLess(max(abs(a - b) for a, b in zip(le, lb)), 0.5)

    def test_pack_weights_changes_no_logit(self):
        ids = list(range(10, 40))
        with difflm.Model(MODEL) as model, \
                difflm.Context(model, n_threads=1, pack_weights=ll.PACK_OFF) as off, \
                difflm.Context(MODEL, n_threads=1, pack_weights=ll.PACK_ON) as on:
            self.assertGreater(model.memory_required(pack_weights=ll.PACK_ON),
                               model.memory_required(pack_weights=ll.PACK_OFF))
            lo, ln = ([v for row in c.logits(ids) for v in row] for c in (off, on))
            self.assertEqual(list(lo), list(ln))
        for create in (lambda: difflm.Context(MODEL, pack_weights=3),
                       lambda: difflm.Context(difflm.Model(MODEL), pack_weights=-1)):
            with self.assertRaises(difflm.Error) as cm:
                create()
            self.assertEqual(cm.exception.code, ll.E_INVALID_ARG)

    def test_bad_precision_is_e_invalid_arg(self):
        for create in (lambda: difflm.Context(MODEL, precision=2),
                       lambda: difflm.Context(difflm.Model(MODEL), precision=-1)):
            with self.assertRaises(difflm.Error) as cm:
                create()
            self.assertEqual(cm.exception.code, ll.E_INVALID_ARG)
        with difflm.Model(MODEL) as model:
            with self.assertRaises(difflm.Error):
                model.memory_required(precision=5)


class WithContext(unittest.TestCase):
    def setUp(self):
        self.ctx = difflm.Context(MODEL, n_threads=1)

    def tearDown(self):
        self.ctx.close()


class Tokens(WithContext):
    def test_round_trip(self):
        for text in ["Hello world", "héllo wörld, ünïcode ✓", "  spaces\n\ttabs", ""]:
            ids = self.ctx.tokenize(text)
            self.assertTrue(all(isinstance(t, int) for t in ids))
            self.assertEqual(self.ctx.detokenize(ids), text)

    def test_bytes_round_trip(self):
        data = bytes(range(1, 256))
        self.assertEqual(self.ctx.detokenize_bytes(self.ctx.tokenize(data)), data)

    def test_bos(self):
        info = self.ctx.info
        self.assertGreaterEqual(info.bos_id, 0)
        ids = self.ctx.tokenize("hi", add_bos=True)
        self.assertEqual(ids[0], info.bos_id)
        self.assertEqual(ids[1:], self.ctx.tokenize("hi"))
        self.assertEqual(self.ctx.detokenize(ids), "hi")  # control tokens skipped

    def test_bad_id_is_e_invalid_arg(self):
        with self.assertRaises(difflm.Error) as cm:
            self.ctx.detokenize([1, self.ctx.info.n_vocab + 5])
        self.assertEqual(cm.exception.code, ll.E_INVALID_ARG)
        self.assertNotEqual(cm.exception.message, "")
        with self.assertRaises(ValueError):
            self.ctx.detokenize([2**40])

    def test_chat_format(self):
        text = self.ctx.chat_format([("user", "What is 2+2?")])
        self.assertIn("What is 2+2?", text)
        self.assertEqual(text, self.ctx.chat_format([{"role": "user",
                                                      "content": "What is 2+2?"}]))


class Generation(WithContext):
    def test_generate_text_deterministic(self):
        a = self.ctx.generate("The Lord said", **SMALL)
        b = self.ctx.generate("The Lord said", **SMALL)
        self.assertIsInstance(a, str)
        self.assertEqual(a, b)

    def test_generate_matches_steps(self):
        text = self.ctx.generate("Once upon", **SMALL)
        steps = list(self.ctx.steps("Once upon", **SMALL))
        info = self.ctx.info
        gen = list(steps[-1].generated)
        for i, t in enumerate(gen):
            if t in (info.eos_id, info.eot_id):
                gen = gen[:i]
                break
        self.assertEqual(self.ctx.detokenize(gen), text)

    def test_generate_long_token_fallback(self):
        want = self.ctx.generate("abc", **SMALL)
        ctxmod = sys.modules["difflm._context"]
        saved = ctxmod._SAMPLE_BYTES_PER_TOKEN
        ctxmod._SAMPLE_BYTES_PER_TOKEN = 0  # forces E_BUFFER_TOO_SMALL from difflm_sample
        try:
            self.assertEqual(self.ctx.generate("abc", **SMALL), want)
        finally:
            ctxmod._SAMPLE_BYTES_PER_TOKEN = saved

    def test_steps_snapshots(self):
        prompt = self.ctx.tokenize("Hello", add_bos=True)
        steps = list(self.ctx.steps(prompt, **SMALL))
        self.assertEqual(len(steps), SMALL["steps"])
        mask = self.ctx.info.mask_id
        for k, s in enumerate(steps, 1):
            self.assertEqual(s.index, k)
            self.assertEqual(s.total_steps, SMALL["steps"])
            self.assertEqual(s.prompt_length, len(prompt))
            self.assertEqual(list(s.canvas[:len(prompt)]), prompt)
            self.assertEqual(len(s.canvas), len(prompt) + SMALL["gen_length"])
            self.assertEqual(s.n_masked, sum(t == mask for t in s.generated))
        self.assertGreater(steps[0].n_masked, 0)
        self.assertEqual([s.n_masked for s in steps], sorted((s.n_masked for s in steps),
                                                              reverse=True))
        self.assertTrue(steps[-1].done)
        self.assertEqual(self.ctx.canvas(), list(steps[-1].canvas))

    def test_on_step(self):
        seen = []
        self.ctx.generate("x", on_step=lambda s: seen.append(s.index), **SMALL)
        self.assertEqual(seen, list(range(1, SMALL["steps"] + 1)))

    def test_bad_parameters(self):
        with self.assertRaises(TypeError):
            self.ctx.generate("x", gen_lenght=4)
        with self.assertRaises(ValueError):
            self.ctx.generate("x", remasking="sideways")
        with self.assertRaises(difflm.Error) as cm:
            self.ctx.generate("x", gen_length=-3)
        self.assertEqual(cm.exception.code, ll.E_INVALID_ARG)
        self.assertNotEqual(cm.exception.message, "")
        with self.assertRaises(difflm.Error) as cm:
            self.ctx.generate("x", gen_length=self.ctx.info.max_canvas + 1, steps=1,
                              block_length=0)
        self.assertEqual(cm.exception.code, ll.E_TOO_LONG)
        with self.assertRaises(ValueError):
            self.ctx.generate("a\0b")

    def test_named_schedule_and_remasking(self):
        a = self.ctx.generate("x", schedule="blocks", remasking="random", seed=3, **SMALL)
        b = self.ctx.generate("x", schedule=ll.SCHEDULE_BLOCKS, remasking=ll.REMASK_RANDOM,
                              seed=3, **SMALL)
        self.assertEqual(a, b)
        c = self.ctx.generate("x", parallel="threshold", threshold=0.5, cache="prefix", **SMALL)
        d = self.ctx.generate("x", parallel=ll.PARALLEL_THRESHOLD, threshold=0.5,
                              cache=ll.CACHE_PREFIX, **SMALL)
        self.assertEqual(c, d)
        with self.assertRaises(ValueError):
            self.ctx.generate("x", cache="triple")


class BlockDiffusion(unittest.TestCase):
    """The block diffusion fields and constants on a block-causal model."""

    def setUp(self):
        self.ctx = difflm.Context(os.environ["DIFFLM_TEST_BLOCK_MODEL"], n_threads=1)
        self.prompt = list(range(300, 307))

    def tearDown(self):
        self.ctx.close()

    def canvas(self, **params):
        steps = list(self.ctx.steps(self.prompt, gen_length=20, steps=16, **params))
        return list(steps[-1].canvas), len(steps)

    def test_info_and_auto(self):
        self.assertEqual(self.ctx.info.block_length, 8)
        auto, n_auto = self.canvas()
        self.assertEqual(len(auto), 32)  # 7 + 20 padded to whole blocks of 8
        self.assertEqual(auto[:7], self.prompt)
        self.assertNotIn(self.ctx.info.mask_id, auto)
        self.assertEqual(self.canvas(schedule="block_diffusion"), (auto, n_auto))
        self.assertEqual(self.canvas(schedule=ll.SCHEDULE_BLOCK_DIFFUSION), (auto, n_auto))
        with difflm.Context(MODEL, n_threads=1) as plain:
            self.assertEqual(plain.info.block_length, 0)

    def test_fields_reach_the_library(self):
        opts = dict(block_threshold=0.5, editing_threshold=0.2, max_post_steps=3)
        cached = self.canvas(**opts)
        recomputed = self.canvas(flags=ll.GEN_BLOCK_RECOMPUTE, **opts)
        self.assertEqual(cached, recomputed)
        counts_only = self.canvas(block_threshold=1.0)
        # the scheduled counts: 4 steps for each of the 4 blocks, but the first holds one
        # MASK after the prompt's 7 tokens, which its first step commits
        self.assertEqual(counts_only[1], 1 + 3 * 4)
        self.assertLess(self.canvas(block_threshold=0.0)[1], 1 + 3 * 4)
        for bad in (dict(block_threshold=1.5), dict(editing_threshold=1.0),
                    dict(max_post_steps=-1)):
            with self.assertRaises(difflm.Error) as cm:
                self.canvas(**bad)
            self.assertEqual(cm.exception.code, ll.E_INVALID_ARG)
            self.assertIn(next(iter(bad)), cm.exception.message)


class ChatBos(WithContext):
    """chat_format() renders BOS; generate() and steps() must not add a second one."""

    MESSAGES = [("user", "What is 2+2?")]

    def setUp(self):
        super().setUp()
        info = self.ctx.info
        self.assertTrue(info.add_bos)  # otherwise nothing here could double BOS
        self.bos = info.bos_id
        self.text = self.ctx.chat_format(self.MESSAGES)
        self.ids = self.ctx.tokenize(self.text, parse_special=True)
        self.assertEqual(self.ids[0], self.bos)      # the template's own BOS
        self.assertNotEqual(self.ids[1], self.bos)

    def prompt_of_canvas(self):
        canvas = self.ctx.canvas()
        self.assertEqual(len(canvas), len(self.ids) + SMALL["gen_length"])
        return canvas[:len(self.ids)]

    def test_generate_chat_text_adds_bos_once(self):
        seen = []
        text = self.ctx.generate(self.text, on_step=lambda s: seen.append(s), **SMALL)
        self.assertEqual(self.prompt_of_canvas(), self.ids)
        self.assertEqual([s.index for s in seen], list(range(1, SMALL["steps"] + 1)))
        self.assertEqual(seen[0].prompt_length, len(self.ids))
        self.assertEqual(list(seen[-1].canvas), self.ctx.canvas())
        # The same generation as difflm_sample's own path on the text without its BOS
        # (difflm_sample adds that one back).
        bos_text = self.ctx.detokenize([self.bos], special=True)
        self.assertTrue(bos_text and self.text.startswith(bos_text), bos_text)
        self.assertEqual(self.ctx.generate(self.text[len(bos_text):], **SMALL), text)
        self.assertEqual(self.prompt_of_canvas(), self.ids)

    def test_steps_chat_text_adds_bos_once(self):
        steps = list(self.ctx.steps(self.text, **SMALL))
        self.assertEqual(steps[-1].prompt_length, len(self.ids))
        self.assertEqual(list(steps[-1].canvas[:len(self.ids)]), self.ids)
        self.assertEqual(list(self.ctx.steps(self.text, add_bos=False, **SMALL))[-1]
                         .prompt_length, len(self.ids))

    def test_plain_prompt_still_gets_bos(self):
        plain = self.ctx.tokenize("Once upon")
        self.assertNotEqual(plain[0], self.bos)
        self.ctx.generate("Once upon", **SMALL)
        self.assertEqual(self.ctx.canvas()[:len(plain) + 1], [self.bos] + plain)
        steps = list(self.ctx.steps("Once upon", **SMALL))
        self.assertEqual(list(steps[-1].canvas[:steps[-1].prompt_length]), [self.bos] + plain)
        steps = list(self.ctx.steps("Once upon", add_bos=False, **SMALL))
        self.assertEqual(list(steps[-1].canvas[:steps[-1].prompt_length]), plain)

    def test_chat_generate_stops_and_raises(self):
        with self.assertRaises(difflm.Cancelled):
            self.ctx.generate(self.text, on_step=lambda s: s.index == 2, **SMALL)

        def boom(step):
            raise KeyError("from the callback")
        with self.assertRaises(KeyError):
            self.ctx.generate(self.text, on_step=boom, **SMALL)


class Cancellation(WithContext):
    def test_cancel_same_thread(self):
        it = self.ctx.steps("Hello", **SMALL)
        first = next(it)
        self.assertEqual(first.index, 1)
        self.ctx.cancel()
        with self.assertRaises(difflm.Cancelled) as cm:
            next(it)
        self.assertEqual(cm.exception.code, ll.E_CANCELLED)
        # A new generation clears the request.
        self.assertEqual(len(list(self.ctx.steps("Hello", **SMALL))), SMALL["steps"])

    def test_cancel_from_another_thread(self):
        started, cancelled = threading.Event(), threading.Event()

        def canceller():
            started.wait(30)
            self.ctx.cancel()
            cancelled.set()

        t = threading.Thread(target=canceller)
        t.start()
        n = 0
        with self.assertRaises(difflm.Cancelled):
            for _ in self.ctx.steps("Hello", **SMALL):
                n += 1
                started.set()
                self.assertTrue(cancelled.wait(30))
        t.join()
        self.assertEqual(n, 1)

    def test_on_step_stops_and_raises(self):
        with self.assertRaises(difflm.Cancelled):
            self.ctx.generate("x", on_step=lambda s: s.index == 2, **SMALL)

        def boom(step):
            raise KeyError("from the callback")
        with self.assertRaises(KeyError):
            self.ctx.generate("x", on_step=boom, **SMALL)

    def test_stale_steps_iterator(self):
        it = self.ctx.steps("Hello", **SMALL)
        next(it)
        self.ctx.generate("other", **SMALL)
        with self.assertRaises(difflm.Error) as cm:
            next(it)
        self.assertEqual(cm.exception.code, ll.E_STATE)


class Infill(WithContext):
    def test_template_and_holes(self):
        info = self.ctx.info
        M = info.mask_id
        ids = self.ctx.infill_canvas("In the<mask:5> was the<mask:3>.", add_bos=False)
        self.assertEqual(ids, self.ctx.tokenize("In the") + [M] * 5 + self.ctx.tokenize(" was the")
                         + [M] * 3 + self.ctx.tokenize("."))
        steps = list(self.ctx.infill_steps(ids, steps=8, block_length=4))
        self.assertEqual(len(steps), 8)
        final = self.ctx.canvas()
        self.assertNotIn(M, final)
        for i, t in enumerate(ids):
            if t != M:
                self.assertEqual(final[i], t)   # fixed text never changes
        conf = self.ctx.confidences()
        self.assertEqual(len(conf), len(ids))
        for i, c in enumerate(conf):
            self.assertEqual(c.token, final[i])
            if ids[i] == M:
                self.assertTrue(1 <= c.step <= 8 and 0.0 <= c.prob <= 1.0)
            else:
                self.assertEqual(c.step, ll.CONF_FIXED)
                self.assertNotEqual(c.prob, c.prob)   # NaN
        text = self.ctx.infill("In the<mask:5> was the<mask:3>.", steps=8, block_length=4)
        self.assertTrue(text.startswith("In the") and text.endswith("."), text)
        with self.assertRaises(difflm.Error) as cm:
            self.ctx.infill_canvas("bad <mask:0>")
        self.assertEqual(cm.exception.code, ll.E_INVALID_ARG)
        with self.assertRaises(difflm.Error) as cm:
            list(self.ctx.infill_steps([1, 2, 3], steps=2))
        self.assertEqual(cm.exception.code, ll.E_INVALID_ARG)


class Logits(WithContext):
    def test_rows_and_errors(self):
        info = self.ctx.info
        ids = self.ctx.tokenize("Hello there") + [info.mask_id, info.mask_id]
        full = self.ctx.logits(ids)
        self.assertEqual(len(full), len(ids))
        self.assertTrue(all(len(r) == info.n_vocab for r in full))
        rows = [len(ids) - 1, 0, 0]
        self.assertEqual(self.ctx.logits(ids, rows), [full[r] for r in rows])
        self.assertEqual(self.ctx.logits(ids, []), [])
        with self.assertRaises(difflm.Error) as cm:
            self.ctx.logits(ids, [len(ids)])
        self.assertEqual(cm.exception.code, ll.E_INVALID_ARG)
        with self.assertRaises(difflm.Error) as cm:
            self.ctx.logits([info.n_vocab])
        self.assertEqual(cm.exception.code, ll.E_INVALID_ARG)
        with self.assertRaises(difflm.Error) as cm:
            self.ctx.logits([0] * (info.max_canvas + 1))
        self.assertEqual(cm.exception.code, ll.E_TOO_LONG)
        self.ctx.cancel()
        with self.assertRaises(difflm.Cancelled):
            self.ctx.logits(ids)
        self.assertEqual(self.ctx.logits(ids), full)  # the request was spent

    def test_generation_undisturbed(self):
        want = [s.canvas for s in self.ctx.steps("Hello", **SMALL)]
        got = []
        for s in self.ctx.steps("Hello", **SMALL):
            self.assertEqual(len(self.ctx.logits(self.ctx.canvas())), len(s.canvas))
            got.append(s.canvas)
        self.assertEqual(got, want)


class Scoring(WithContext):
    def test_score(self):
        info = self.ctx.info
        prompt = self.ctx.tokenize("The Lord said", add_bos=True)
        ids = self.ctx.tokenize(" unto Moses")[-3:]
        a = self.ctx.score(ids, prompt, mc=8, batch=4, seed=3)
        self.assertIsInstance(a, difflm.Score)
        self.assertEqual((a.n_tokens, a.n_iter), (len(ids), 2))
        self.assertGreater(a.nll, 0.0)
        self.assertAlmostEqual(a.se * a.se, a.var, places=9)
        self.assertEqual(self.ctx.score(ids, prompt, mc=8, batch=4, seed=3), a)
        self.assertNotEqual(self.ctx.score(ids, prompt, mc=8, batch=4, seed=4).nll, a.nll)
        # one token: every row masks it, so the estimate is its exact cross-entropy
        row = self.ctx.logits(prompt + [info.mask_id],
                              [len(prompt) - (1 if info.shift_logits else 0)])[0]
        mx = max(row)
        ce = mx + math.log(sum(math.exp(v - mx) for v in row)) - row[ids[0]]
        self.assertAlmostEqual(self.ctx.score(ids[:1], prompt, mc=4, batch=2).nll, ce, places=4)
        self.assertEqual(self.ctx.score([], prompt).nll, 0.0)
        with self.assertRaises(difflm.Error) as cm:
            self.ctx.score(ids, prompt, mc=6, batch=4)
        self.assertEqual(cm.exception.code, ll.E_INVALID_ARG)
        with self.assertRaises(difflm.Error) as cm:
            self.ctx.score([0] * info.max_canvas, prompt)
        self.assertEqual(cm.exception.code, ll.E_TOO_LONG)
        self.ctx.cancel()
        with self.assertRaises(difflm.Cancelled):
            self.ctx.score(ids, prompt, mc=4, batch=4)
        self.assertEqual(self.ctx.score(ids, prompt, mc=8, batch=4, seed=3), a)


class Batches(unittest.TestCase):
    PROMPTS = ["The Lord said", "Once upon a time there", [1, 300, 42]]

    def setUp(self):
        self.ctx = difflm.Context(MODEL, n_threads=2, max_batch=3)

    def tearDown(self):
        self.ctx.close()

    def test_each_canvas_equals_its_solo_run(self):
        params = dict(SMALL, temperature=0.7)
        seeds = [3, 4, 5]
        got = self.ctx.generate_batch(self.PROMPTS, seeds=seeds, **params)
        self.assertEqual(len(got), 3)
        for prompt, seed, canvas in zip(self.PROMPTS, seeds, got):
            alone = list(self.ctx.steps(prompt, seed=seed, **params))[-1].canvas
            self.assertEqual(canvas, list(alone))
        # seeds None: every canvas runs params' seed
        same = self.ctx.generate_batch(["Once upon", "Once upon"], seed=9, **params)
        self.assertEqual(same[0], same[1])

    def test_errors(self):
        with self.assertRaises(difflm.Error) as cm:
            self.ctx.generate_batch(self.PROMPTS + ["one too many"], **SMALL)
        self.assertEqual(cm.exception.code, ll.E_INVALID_ARG)
        self.assertIn("max_batch 3", str(cm.exception))
        with self.assertRaises(difflm.Error) as cm:
            self.ctx.generate_batch(self.PROMPTS, cfg_scale=1.0, **SMALL)
        self.assertEqual(cm.exception.code, ll.E_UNSUPPORTED)
        with self.assertRaises(ValueError):
            self.ctx.generate_batch(self.PROMPTS, seeds=[1], **SMALL)
        with self.assertRaises(difflm.Error) as cm:
            self.ctx.generate_batch([], **SMALL)
        self.assertEqual(cm.exception.code, ll.E_INVALID_ARG)


class Lifetime(unittest.TestCase):
    def test_with_and_close(self):
        with difflm.Context(MODEL) as ctx:
            self.assertFalse(ctx.closed)
        self.assertTrue(ctx.closed)
        ctx.close()  # idempotent
        ctx.cancel()  # harmless once closed
        with self.assertRaises(difflm.Error) as cm:
            ctx.tokenize("x")
        self.assertEqual(cm.exception.code, ll.E_STATE)

    def test_canvas_before_generation_is_e_state(self):
        with difflm.Context(MODEL) as ctx:
            with self.assertRaises(difflm.Error) as cm:
                ctx.canvas()
            self.assertEqual(cm.exception.code, ll.E_STATE)


def _address(buf):
    probe = (ctypes.c_char * len(buf)).from_buffer(buf)
    addr = ctypes.addressof(probe)
    del probe  # drop the export, so buf stays resizable
    return addr


def _bytearray_at(data, aligned):
    """A copy of data in a bytearray whose bytes are (or are not) 32-byte aligned: the
    caller then holds no view of it, only the bytearray itself."""
    tries = []
    for _ in range(256):
        b = bytearray(data)
        if (_address(b) % 32 == 0) == aligned:
            return b
        tries.append(b)  # kept, so the next one lands elsewhere
    raise AssertionError("no %saligned bytearray in 256 tries" % ("" if aligned else "mis"))


class Models(unittest.TestCase):
    """difflm.Model: one model shared by contexts, loaded from a path, memory or a reader."""

    @classmethod
    def setUpClass(cls):
        with open(MODEL, "rb") as f:
            cls.image = f.read()
        with difflm.Context(MODEL, n_threads=1) as ctx:
            cls.want = list(ctx.steps("Once upon", seed=5, temperature=0.8, **SMALL))[-1].canvas
            cls.want_info = ctx.info

    def canvas_of(self, model, **kw):
        with difflm.Context(model, n_threads=1, **kw) as ctx:
            return list(ctx.steps("Once upon", seed=5, temperature=0.8, **SMALL))[-1].canvas

    def test_contexts_share_a_model(self):
        with difflm.Model(MODEL) as model:
            info = model.describe()
            self.assertEqual(info, model.info)
            self.assertEqual(info.max_canvas, 0)
            self.assertEqual(dataclasses.replace(self.want_info, max_canvas=0), info)
            a = difflm.Context(model, n_threads=1)
            b = difflm.Context(model, n_threads=1, max_canvas=64)
            self.assertIs(a.model, model)
            self.assertEqual(b.info.max_canvas, 64)
            results = {}

            def run(name, ctx):
                results[name] = list(ctx.steps("Once upon", seed=5, temperature=0.8,
                                               **SMALL))[-1].canvas
            threads = [threading.Thread(target=run, args=(n, c)) for n, c in
                       (("a", a), ("b", b))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(results["a"], self.want)
            self.assertEqual(results["b"], self.want)
            a.close()
        # the model closed first: b keeps the C model alive and goes on
        self.assertTrue(model.closed)
        self.assertEqual(list(b.steps("Once upon", seed=5, temperature=0.8,
                                      **SMALL))[-1].canvas, self.want)
        b.close()
        with self.assertRaises(difflm.Error) as cm:
            difflm.Context(model)
        self.assertEqual(cm.exception.code, ll.E_STATE)
        with self.assertRaises(ValueError):
            difflm.Context(difflm.Model(MODEL), mask_token_id=3)
        self.assertIsNone(difflm.Context(MODEL).model)

    def test_memory_required(self):
        with difflm.Model(MODEL) as model:
            small = model.memory_required(max_canvas=32)
            big = model.memory_required(max_canvas=128)
            batch = model.memory_required(max_canvas=128, max_batch=4)
            self.assertGreater(small, 0)
            self.assertLess(small, big)
            self.assertLess(big, batch)
            with self.assertRaises(difflm.Error) as cm:
                model.memory_required(n_threads=-1)
            self.assertEqual(cm.exception.code, ll.E_INVALID_ARG)
            with self.assertRaises(difflm.Error) as cm:
                difflm.Context(model, n_threads=-1)
            self.assertEqual(cm.exception.code, ll.E_INVALID_ARG)
            self.assertIn("n_threads", cm.exception.message)

    def test_from_buffer_every_kind(self):
        kinds = {"bytes": self.image, "bytearray": bytearray(self.image),
                 "memoryview": memoryview(self.image),
                 "aligned bytearray": _bytearray_at(self.image, True)}
        for name, data in kinds.items():
            with self.subTest(kind=name), difflm.Model.from_buffer(data) as model:
                self.assertEqual(model.info, difflm.Model(MODEL).info)
                self.assertEqual(self.canvas_of(model), self.want)
        with open(MODEL, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            with difflm.Model.from_buffer(mm, copy=False) as model:  # in place
                self.assertEqual(self.canvas_of(model), self.want)
                with self.assertRaises(BufferError):
                    mm.close()  # held while the model lives

    def test_from_reader(self):
        with open(MODEL, "rb") as f, difflm.Model.from_reader(f) as model:
            self.assertEqual(self.canvas_of(model), self.want)
        # an asset inside a pack: the image starts at the stream's position
        pack = io.BytesIO(b"junk" * 1000 + self.image + b"trailer")
        pack.seek(4000)
        with difflm.Model.from_reader(pack, size=len(self.image)) as model:
            self.assertEqual(self.canvas_of(model), self.want)

        class ReadOnly:  # read() only, no readinto, no seek
            def __init__(self, data):
                self.data, self.pos = data, 0

            def read(self, n):
                chunk = self.data[self.pos:self.pos + min(n, 777)]
                self.pos += len(chunk)
                return chunk
        with difflm.Model.from_reader(ReadOnly(self.image), size=len(self.image)) as model:
            self.assertEqual(self.canvas_of(model), self.want)
        with self.assertRaises(ValueError):
            difflm.Model.from_reader(ReadOnly(self.image))  # no size, cannot seek

    def test_bad_images_are_the_librarys_errors(self):
        cases = {"garbage": b"GGUF" + b"\xff" * 60, "truncated": self.image[:len(self.image) // 2],
                 "empty": b"", "not gguf": b"hello world" * 10}
        for name, data in cases.items():
            for load in (lambda: difflm.Model.from_buffer(data),
                         lambda: difflm.Model.from_reader(io.BytesIO(data))):
                with self.subTest(case=name), self.assertRaises(difflm.Error) as cm:
                    load()
                self.assertEqual(cm.exception.code, ll.E_FORMAT, str(cm.exception))
                self.assertTrue(cm.exception.message)
        # a misaligned buffer the caller will not have copied
        owner = _bytearray_at(self.image, False)
        with self.assertRaises(difflm.Error) as cm:
            difflm.Model.from_buffer(owner, copy=False)
        self.assertEqual(cm.exception.code, ll.E_INVALID_ARG)
        self.assertIn("aligned", cm.exception.message)
        owner.append(0)  # the failed load released its export
        del owner[-1]
        with difflm.Model.from_buffer(owner) as m:  # copy=None copies it
            owner.append(0)  # a copy: the caller's object is free at once
            self.assertEqual(self.canvas_of(m), self.want)
        with self.assertRaises(TypeError):
            difflm.Model.from_buffer("not a buffer")

        class Failing(io.BytesIO):
            def readinto(self, b):
                if self.tell() > 1000:
                    raise OSError("the disk is on fire")
                return super().readinto(b[:100])
        with self.assertRaises(difflm.Error) as cm:
            difflm.Model.from_reader(Failing(self.image))
        self.assertEqual(cm.exception.code, ll.E_IO)
        self.assertIsInstance(cm.exception.__cause__, OSError)
        # a stream shorter than the size it was given
        with self.assertRaises(difflm.Error) as cm:
            difflm.Model.from_reader(io.BytesIO(self.image[:100]), size=len(self.image))
        self.assertEqual(cm.exception.code, ll.E_IO)
        self.assertIsInstance(cm.exception.__cause__, EOFError)

    def test_buffer_outlives_the_callers_reference(self):
        owner = _bytearray_at(self.image, True)
        owner.append(0)  # resizable while nobody holds it ...
        del owner[-1]
        if _address(owner) % 32:
            owner = _bytearray_at(self.image, True)
        model = difflm.Model.from_buffer(owner, copy=False)  # in place: no copy
        with self.assertRaises(BufferError):
            owner.append(0)  # ... but not while the model reads from it
        ctx = difflm.Context(model, n_threads=1)
        model.close()
        del owner, model
        gc.collect()
        self.assertEqual(list(ctx.steps("Once upon", seed=5, temperature=0.8,
                                        **SMALL))[-1].canvas, self.want)
        ctx.close()
        # with the model and its last context gone, the export is released
        owner = _bytearray_at(self.image, True)
        with difflm.Model.from_buffer(owner, copy=False) as model:
            ctx = difflm.Context(model, n_threads=1)
        with self.assertRaises(BufferError):
            owner.append(0)  # the context still holds the model
        ctx.close()
        owner.append(0)
        # bytes dropped right after the load
        data = bytes(self.image)
        model = difflm.Model.from_buffer(data)
        del data
        gc.collect()
        self.assertEqual(self.canvas_of(model), self.want)
        model.close()


class Install(unittest.TestCase):
    """`pip install` of the source tree without an index (pip: python3-pip, which
    tools/install-deps.sh installs; without it this test fails rather than vanish)."""

    def test_pip_install_offline(self):
        if subprocess.run([sys.executable, "-m", "pip", "--version"],
                          capture_output=True).returncode != 0:
            self.fail("pip is not available to %s (Debian: apt-get install python3-pip)"
                      % sys.executable)
        src = os.path.join(os.environ["DIFFLM_SRCDIR"], "bindings", "python")
        with tempfile.TemporaryDirectory() as tmp:
            target = os.path.join(tmp, "site")
            r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-index",
                                "--no-deps", "--no-cache-dir", "--disable-pip-version-check",
                                "--target", target, src], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            env = dict(os.environ, PYTHONPATH=target,
                       DIFFLM_LIBRARY=os.path.abspath(os.environ["DIFFLM_LIBRARY"]))
            r = subprocess.run([sys.executable, "-c",
                                "import difflm; print(difflm.__file__, difflm.abi_version())"],
                               env=env, capture_output=True, text=True, cwd=tmp)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(r.stdout.startswith(target), r.stdout)


class Folder(unittest.TestCase):
    """A Hugging Face model folder wherever a file goes: DIFFLM_TEST_FOLDER (meson writes a
    LLaDA-like one, BF16 shards, with tests/hf/hf_mkfolder) against
    DIFFLM_TEST_FOLDER_GGUF, the GGUF of the same weights."""

    def setUp(self):
        folder, gguf = os.environ["DIFFLM_TEST_FOLDER"], os.environ["DIFFLM_TEST_FOLDER_GGUF"]
        self.f = difflm.Context(folder, n_threads=1)
        self.c = difflm.Context(os.path.join(folder, "config.json"), n_threads=1)
        self.g = difflm.Context(gguf, n_threads=1)

    def tearDown(self):
        for ctx in (self.f, self.c, self.g):
            ctx.close()

    def test_same_model(self):
        fi, gi = self.f.info, self.g.info
        for key in ("arch", "n_vocab", "n_layer", "n_head_kv", "mask_id", "bos_id", "eos_id", "n_params"):
            self.assertEqual(getattr(fi, key), getattr(gi, key), key)
        self.assertFalse(fi.add_bos)  # tokenizer_config.json: add_bos_token false

    def test_tokens_chat_logits_generation(self):
        text = "<|start_header_id|>The cat's 42 hats<|eot_id|> and\n\n  more"
        for flags in ({}, {"parse_special": True}, {"add_bos": True}):
            self.assertEqual(self.f.tokenize(text, **flags), self.g.tokenize(text, **flags), flags)
        conv = [("user", "  What is 2+2? ")]
        chat = self.f.chat_format(conv)
        self.assertEqual(chat, self.g.chat_format(conv))
        self.assertTrue(chat.startswith("<|startoftext|><|start_header_id|>user"), chat)
        ids = self.f.tokenize(chat, parse_special=True)
        self.assertEqual(ids, self.c.tokenize(chat, parse_special=True))
        self.assertEqual(self.f.logits(ids), self.g.logits(ids))
        canv = [list(self.f.steps(ids, **SMALL))[-1].canvas, list(self.g.steps(ids, **SMALL))[-1].canvas]
        self.assertEqual(canv[0], canv[1])
        self.assertEqual(len(canv[0]), len(ids) + SMALL["gen_length"])


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_python.py MODEL.gguf [unittest args]")
    MODEL = sys.argv.pop(1)
    unittest.main()
