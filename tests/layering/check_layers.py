#!/usr/bin/env python3
"""The module layering of doc/design.md, checked on every #include of the tree.

lib/: a module includes only the modules below it (the DAG in ALLOWED); lib/core sees
no public header but difflm_status.h; lib/api.c reaches the rest through
ctx/ctx_api.h. Programs outside lib/ (tools/, bench/, examples/) include difflm.h and
their own headers; the few listed in INTERNAL may also include lib/difflm_internal.h,
and nothing outside lib/ includes any other private header.
usage: check_layers.py SOURCE_ROOT"""
import pathlib
import re
import sys

ALLOWED = {   # module -> the lib modules its files may include (itself always)
    "core": set(),
    "kernels": {"core"},
    "fmt": {"core", "kernels"},
    "tok": {"core", "fmt"},
    "sample": {"core", "kernels"},
    "sched": {"core", "kernels", "sample"},
    "model": {"core", "kernels", "fmt"},
    "ctx": {"core", "kernels", "fmt", "tok", "sample", "sched", "model"},
}
API_INCLUDES = {"ctx/ctx_api.h", "core/core.h", "difflm.h"}
PUBLIC = {"difflm.h", "difflm_status.h", "difflm_version.h"}

# Programs that measure, train or convert the library's internals, and the one header
# they may use for it. Each entry says why it cannot be a public-API host (yet).
INTERNAL = {
    "tools/train": "the trainer: the layers' backward passes and the optimizer",
    "tools/train_tokenizer": "the tokenizer trainer writes vocabularies in the GGUF writer",
    "tools/difflm-train-tokenizer.c": "the tokenizer trainer's command line",
    "tools/difflm-bigram.c": "the bigram baseline reads the tokenizer's tables",
    "tools/score/corpus_tok.c": "difflm-bigram's tokenizer over the tables alone (no weights)",
    "tools/score/corpus_tok.h": "difflm-bigram's tokenizer over the tables alone (no weights)",
    "tools/difflm-mkmodel.c": "writes test models through tests/fixtures and the arch table",
    "bench/bench_attention.c": "measures the attention kernels themselves",
    "bench/bench_fgemm.c": "measures the own f32 product's packing and kernel",
    "bench/bench_kernels.c": "measures the kernels themselves",
    "bench/bench_model.c": "measures one forward pass per weight type without a context",
    "bench/bench_moe.c": "measures one forward pass of an MoE file against a dense one without a context",
    "bench/bench_train_gemm.c": "measures the trainer's products",
    "bench/ceiling.c": "the FMA ceiling on the paths cpu.h selects",
    "bench/ceiling.h": "the FMA ceiling on the paths cpu.h selects",
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def internal_ok(rel):
    return any(rel == k or rel.startswith(k + "/") for k in INTERNAL)


def check(root):
    errors = []
    lib = root / "lib"
    for f in sorted(lib.rglob("*.[ch]")):
        rel = f.relative_to(lib).as_posix()
        mod = rel.split("/")[0] if "/" in rel else None
        for inc in INCLUDE.findall(f.read_text(errors="replace")):
            if mod is None:   # lib/api.c, lib/difflm_internal.h
                if rel == "api.c" and inc not in API_INCLUDES:
                    errors.append(f"lib/{rel}: includes {inc}; the API goes through ctx/ctx_api.h")
                continue
            if "/" not in inc:
                if mod == "core" and inc != "difflm_status.h" and not (lib / mod / inc).exists():
                    errors.append(f"lib/{rel}: core includes {inc}; it may see only difflm_status.h")
                continue
            dep = inc.split("/")[0]
            if dep != mod and dep not in ALLOWED.get(mod, set()):
                errors.append(f"lib/{rel}: {mod} includes {inc}, but {mod} may use only "
                              f"{sorted(ALLOWED.get(mod, set())) or 'nothing'} below it")
    tops = ("tools", "bench", "examples")
    own = {h.name for t in tops for h in (root / t).rglob("*.h")}
    own |= {h.relative_to(root / t).as_posix() for t in tops for h in (root / t).rglob("*.h")}
    fixtures = {h.name for h in (root / "tests" / "fixtures").rglob("*.h")}
    for top in tops:
        for f in sorted((root / top).rglob("*.[ch]")):
            rel = f.relative_to(root).as_posix()
            for inc in INCLUDE.findall(f.read_text(errors="replace")):
                if inc in PUBLIC or inc in own:
                    continue   # the public header, or the programs' own headers
                if inc in ("difflm_internal.h", *fixtures) and internal_ok(rel):
                    continue   # the test-model writer is internal too
                if inc == "difflm_internal.h":
                    errors.append(f"{rel}: includes difflm_internal.h but is not a listed "
                                  f"internal program (tests/layering/check_layers.py)")
                else:
                    errors.append(f"{rel}: includes the private header {inc}; use difflm.h "
                                  f"(or, for a listed internal program, difflm_internal.h)")
    return errors


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    errors = check(root)
    for e in errors:
        print(e)
    print(f"{'FAIL' if errors else 'ok'}: {len(errors)} layering violations")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
