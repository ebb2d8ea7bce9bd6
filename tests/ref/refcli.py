#!/usr/bin/python3
"""Command line of the reference program.

    refcli.py logits MODEL --ids 1,2,3 -o FILE
        writes little-endian float32 [n_ids][n_vocab]: unshifted logits, one row per input
        position (the same layout difflm-logits writes).

    refcli.py generate MODEL --prompt-ids 1,2,3 --gen-length N --steps S --block-length B
        [--schedule auto|blocks|timesteps] [--remasking NAME] [--temp F] [--top-k K]
        [--top-p P] [--cfg F] [--eps E] [--alg-temp A] [--seed S] [--flags F,...]
        [--logits-eos-inf] [--conf-eos-eot-inf] [--threshold F | --factor F]
        [--early-stop] [--all-logits] [--canvas-ids 1,M,M,2] [--print-confidences]
        [--mask-id M] [--eos-id E] [--eot-id E] [--n-vocab-tok N]
        [--block-threshold F] [--editing-threshold F] [--max-post-steps N]
        --schedule block_diffusion (AUTO on a model with diffusion.block_length): the
        block length is the model's (tests/ref/block_sampler.py); --block-length unused.
        prints the final canvas (prompt included) as comma-separated ids on one line.
        --canvas-ids: the whole canvas, MASK ids where to generate (doc/sampling.md
        "Infilling"; --prompt-ids and --gen-length are then ignored).
        --print-confidences: after every step a line "confidences STEP" and per position
        token/step/probability/score (doc/sampling.md "Confidences").

Exit status 0 on success, 1 on a bad model or bad ids, 2 on bad usage (argparse);
messages go to stderr.
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True   # keep the source tree clean when meson runs us
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import block_sampler  # noqa: E402
import sampler  # noqa: E402
from gguf import GGUFError  # noqa: E402
from model import Model  # noqa: E402


def parse_ids(text, what):
    try:
        ids = [int(x) for x in text.split(",") if x.strip() != ""]
    except ValueError:
        raise SystemExit("refcli: %s: not a comma-separated list of integers: %r" % (what, text))
    return ids


def parse_flags(text):
    flags = 0
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        if part in sampler.FLAG_NAMES:
            flags |= sampler.FLAG_NAMES[part]
        else:
            try:
                flags |= int(part, 0)
            except ValueError:
                raise SystemExit("refcli: unknown flag %r (known: %s)"
                                 % (part, ", ".join(sampler.FLAG_NAMES)))
    return flags


def cmd_logits(a):
    m = Model(a.model)
    ids = parse_ids(a.ids, "--ids")
    if not ids:
        raise SystemExit("refcli: --ids is empty")
    bad = [x for x in ids if not 0 <= x < m.n_vocab]
    if bad:
        raise SystemExit("refcli: id %d out of range [0, %d)" % (bad[0], m.n_vocab))
    y = m.logits(ids).astype("<f4")
    with open(a.output, "wb") as f:
        f.write(y.tobytes())
    return 0


def cmd_generate(a):
    m = Model(a.model)
    prompt = parse_ids(a.prompt_ids, "--prompt-ids")
    canvas = parse_ids(a.canvas_ids, "--canvas-ids") if a.canvas_ids is not None else None
    mask, eos, eot, n_tok = m.special_ids()
    if a.mask_id is not None:
        mask = a.mask_id
    if a.eos_id is not None:
        eos = a.eos_id
    if a.eot_id is not None:
        eot = a.eot_id
    if a.n_vocab_tok is not None:
        n_tok = a.n_vocab_tok
    if not 0 <= mask < m.n_vocab:
        raise SystemExit("refcli: mask id %d out of range (the file has none? pass --mask-id)" % mask)
    bad = [x for x in prompt + (canvas or []) if not 0 <= x < m.n_vocab]
    if bad:
        raise SystemExit("refcli: prompt id %d out of range [0, %d)" % (bad[0], m.n_vocab))
    flags = parse_flags(a.flags)
    if a.logits_eos_inf:
        flags |= sampler.FLAG_LOGITS_EOS_INF
    if a.conf_eos_eot_inf:
        flags |= sampler.FLAG_CONFIDENCE_EOS_EOT_INF
    if a.early_stop:
        flags |= sampler.FLAG_EARLY_STOP
    if a.all_logits:
        flags |= sampler.FLAG_ALL_LOGITS
    parallel, threshold, factor = "none", 0.9, 1.0
    if a.threshold is not None:
        parallel, threshold = "threshold", a.threshold
    if a.factor is not None:
        parallel, factor = "factor", a.factor
    schedule = a.schedule
    if schedule == "auto":
        schedule = "block_diffusion" if m.block_length > 0 else (
            "timesteps" if m.arch == "dream" else "blocks")
    if schedule == "block_diffusion":
        return generate_block(a, m, prompt, canvas, flags, sampler.Specials(mask, eos, eot, n_tok))
    remasking = a.remasking
    if remasking == "auto":
        remasking = "low_confidence" if schedule == "blocks" else "entropy"
    p = sampler.Params(gen_length=a.gen_length, steps=a.steps, block_length=a.block_length,
                       schedule=schedule, remasking=remasking, temperature=a.temp,
                       top_k=a.top_k, top_p=a.top_p, cfg=a.cfg, eps=a.eps,
                       alg_temp=a.alg_temp, seed=a.seed, flags=flags, parallel=parallel,
                       threshold=threshold, factor=factor)
    sp = sampler.Specials(mask, eos, eot, n_tok)
    gen = sampler.Generation(lambda c: m.logits(c), prompt, p, sp, shift=m.shift_logits,
                             canvas=canvas)
    while not gen.done():
        gen.step()
        if a.print_confidences:
            print("confidences %d %s" % (gen.steps_run, " ".join(
                "%d/%d/%.9g/%.9g" % c for c in gen.confidences())))
    print(",".join(str(x) for x in gen.canvas))
    return 0


def generate_block(a, m, prompt, canvas, flags, sp):
    if canvas is not None or a.threshold is not None or a.factor is not None:
        raise SystemExit("refcli: block_diffusion takes neither --canvas-ids nor a parallel rule")
    if m.block_length < 1:
        raise SystemExit("refcli: block_diffusion needs a model with diffusion.block_length")
    remasking = "maskgit_plus" if a.remasking == "auto" else a.remasking  # doc/sampling.md
    bp = block_sampler.BlockParams(
        gen_length=a.gen_length, steps=a.steps, block_length=m.block_length,
        remasking=remasking, temperature=a.temp, top_k=a.top_k, top_p=a.top_p, cfg=a.cfg,
        seed=a.seed, flags=flags, block_threshold=a.block_threshold,
        editing_threshold=a.editing_threshold, max_post_steps=a.max_post_steps)
    gen = block_sampler.BlockGeneration(lambda c: m.logits(c), prompt, bp, sp,
                                        shift=m.shift_logits)
    gen.run()
    print(",".join(str(x) for x in gen.canvas))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="refcli.py", description="difflm's numpy reference")
    sub = ap.add_subparsers(dest="cmd", required=True)

    lg = sub.add_parser("logits", help="unshifted logits for a sequence of ids")
    lg.add_argument("model")
    lg.add_argument("--ids", required=True)
    lg.add_argument("-o", "--output", required=True)

    ge = sub.add_parser("generate", help="run the sampler to completion")
    ge.add_argument("model")
    ge.add_argument("--prompt-ids", default="")
    ge.add_argument("--canvas-ids", default=None)
    ge.add_argument("--print-confidences", action="store_true")
    ge.add_argument("--gen-length", type=int, default=128)
    ge.add_argument("--steps", type=int, default=128)
    ge.add_argument("--block-length", type=int, default=32)
    ge.add_argument("--schedule", default="auto",
                    choices=("auto",) + sampler.SCHEDULES + ("block_diffusion",))
    ge.add_argument("--block-threshold", type=float, default=0.95)
    ge.add_argument("--editing-threshold", type=float, default=0.0)
    ge.add_argument("--max-post-steps", type=int, default=0)
    ge.add_argument("--remasking", default="auto", choices=("auto",) + sampler.REMASKINGS)
    ge.add_argument("--temp", type=float, default=0.0)
    ge.add_argument("--top-k", type=int, default=0)
    ge.add_argument("--top-p", type=float, default=1.0)
    ge.add_argument("--cfg", type=float, default=0.0)
    ge.add_argument("--eps", type=float, default=1e-3)
    ge.add_argument("--alg-temp", type=float, default=0.0)
    ge.add_argument("--seed", type=int, default=0)
    ge.add_argument("--flags", default="",
                    help="comma-separated: logits_eos_inf, confidence_eos_eot_inf, or numbers")
    ge.add_argument("--logits-eos-inf", action="store_true", help="same as --flags logits_eos_inf")
    ge.add_argument("--conf-eos-eot-inf", "--confidence-eos-eot-inf", action="store_true",
                    help="same as --flags confidence_eos_eot_inf")
    par = ge.add_mutually_exclusive_group()
    par.add_argument("--threshold", type=float, default=None,
                     help="parallel decoding: the most confident plus every other >= F")
    par.add_argument("--factor", type=float, default=None,
                     help="parallel decoding: Fast-dLLM's factor rule")
    ge.add_argument("--early-stop", action="store_true",
                    help="end once EOS/EoT is committed with everything before it decoded")
    ge.add_argument("--all-logits", action="store_true", help="accepted; changes nothing")
    ge.add_argument("--mask-id", type=int, default=None)
    ge.add_argument("--eos-id", type=int, default=None)
    ge.add_argument("--eot-id", type=int, default=None)
    ge.add_argument("--n-vocab-tok", type=int, default=None)

    a = ap.parse_args(argv)
    try:
        return cmd_logits(a) if a.cmd == "logits" else cmd_generate(a)
    except (GGUFError, sampler.SamplerError, ValueError, OSError) as e:
        print("refcli: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
