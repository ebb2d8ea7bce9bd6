"""Opens the library once and checks that it is the ABI this package mirrors."""
import ctypes

from . import _loader, lowlevel


def _check(lib):
    abi = lib.difflm_abi_version()
    if abi != lowlevel.ABI_VERSION:
        raise ImportError("libdifflm ABI %d, but this difflm package mirrors ABI %d"
                          % (abi, lowlevel.ABI_VERSION))
    # The library reports its struct sizes only through *_params_init; a mismatch means the
    # mirrored layouts in lowlevel.py are out of date with the loaded library.
    for struct, init in ((lowlevel.difflm_params, lib.difflm_params_init),
                         (lowlevel.difflm_gen_params, lib.difflm_gen_params_init),
                         (lowlevel.difflm_model_params, lib.difflm_model_params_init),
                         (lowlevel.difflm_ctx_params, lib.difflm_ctx_params_init),
                         (lowlevel.difflm_score_params, lib.difflm_score_params_init)):
        theirs = lowlevel.library_struct_size(init)
        ours = ctypes.sizeof(struct)
        if theirs != ours:
            raise ImportError("libdifflm says sizeof(%s) is %d, the binding mirrors %d"
                              % (struct.__name__, theirs, ours))


lib = lowlevel.bind(_loader.load())
_check(lib)
