#!/usr/bin/env python3
"""Generates text with the Python binding, then watches a second generation fill in.

usage: python_example.py [MODEL.gguf ["prompt"]]   (no model: $DIFFLM_MODEL, else the
project's default model, models/difflm-default.gguf)
(with bindings/python on PYTHONPATH or the package installed, and libdifflm found through
DIFFLM_LIBRARY, pkg-config or the system's library path)
"""
import os
import sys
import threading

import difflm


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.environ.get("DIFFLM_MODEL") or os.path.join(here, "..", "models",
                                                              "difflm-default.gguf")
    model = sys.argv[1] if len(sys.argv) > 1 else default
    prompt = sys.argv[2] if len(sys.argv) > 2 else "The Lord said"
    params = dict(gen_length=32, steps=16, block_length=16)
    try:
        with difflm.Context(model) as ctx:
            print("generate:", repr(ctx.generate(prompt, **params)))

            # A watchdog cancels from another thread if stepping takes too long.
            watchdog = threading.Timer(30.0, ctx.cancel)
            watchdog.start()
            mask = ctx.info.mask_id
            try:
                for step in ctx.steps(prompt, **params):
                    shown = "".join("_" if t == mask else "#" for t in step.generated)
                    print("step %2d/%d: %s (%d masked)" % (step.index, step.total_steps, shown,
                                                          step.n_masked))
                print("final:", repr(ctx.detokenize(step.generated)))
            except difflm.Cancelled:
                print("cancelled by the watchdog")
            finally:
                watchdog.cancel()
    except difflm.Error as e:
        sys.exit("error: %s" % e)


if __name__ == "__main__":
    main()
