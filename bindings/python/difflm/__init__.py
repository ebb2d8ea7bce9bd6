"""difflm: masked diffusion language models (LLaDA, Dream) on CPUs, through ctypes.

    import difflm
    with difflm.Context("model.gguf") as ctx:
        print(ctx.generate("The Lord said", gen_length=64, steps=64))
        for step in ctx.steps("Once upon", gen_length=32, steps=8):
            print(step.index, step.n_masked, ctx.detokenize(step.generated))

Several contexts on one model (a server's pool, a game's characters) share its weights:

    model = difflm.Model("model.gguf")      # or Model.from_buffer(data), from_reader(f)
    a, b = difflm.Context(model), difflm.Context(model)

The library is found through DIFFLM_LIBRARY (a path), then the libdir of the meson
install the package came from, then pkg-config, then the system's search path (_loader.py);
when none has it, importing raises ImportError naming what was searched and the fix.
Importing checks its ABI version and the mirrored struct sizes.
"""
from . import lowlevel
from ._context import GEN_PARAMS, Confidence, Context, Score, Step
from ._info import ModelInfo
from ._model import Model
from ._errors import Cancelled, Error
from ._native import lib as _lib

__all__ = ["Model", "Context", "Error", "Cancelled", "ModelInfo", "Score", "Step", "Confidence",
           "GEN_PARAMS", "lowlevel",
           "version", "abi_version", "status_str"]
__version__ = "0.1.0"


def version():
    """The loaded library's version string, e.g. "0.1.0"."""
    return _lib.difflm_version().decode()


def abi_version():
    """The loaded library's ABI number (the binding mirrors lowlevel.ABI_VERSION)."""
    return _lib.difflm_abi_version()


def status_str(code):
    """The library's description of a status code."""
    return _lib.difflm_status_str(code).decode("utf-8", "replace")
