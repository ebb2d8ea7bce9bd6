"""Tests of the difflm CLI (tools/difflm-cli.c, tools/cli/) as a user meets it.

usage: test_cli.py CASE CLI MODEL
  live      the live view on a short pseudo-terminal: the prompt first, words whole,
            never more rows than the terminal (nothing scrolls while it runs), the
            final text and the --stats line kept
  ctrl-c    Ctrl-C on the terminal mid-generation: the partial text, exit status 130
  sigint    SIGINT with the output piped: the partial text, exit status 130
  flags     every bad value refused, with a message naming the option and the constraint
  prompt    -p, -f FILE, -f - and piped standard input give the same prompt
  version   --version and --help
  folder    (test_cli.py folder CLI DIR DIR.gguf) -m names a Hugging Face model folder or
            its config.json: the same chat text and canvas as the GGUF of the same weights
  block     on a block-causal model (MODEL has diffusion.block_length 8): AUTO picks the
            block diffusion schedule (the canvas padded to whole blocks), the exact block
            KV cache gives --block-recompute's tokens with thresholds and editing, and the
            block diffusion options' bad values are refused
"""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import vt  # noqa: E402

PROMPT = "And God said, Let there be light: and there was light."
MASK = "\u2591"


def words(s):
    """Whitespace-separated words, each masked position a word of its own (a line may
    break before or after one)."""
    return s.replace(MASK, " " + MASK + " ").split()


def run(cli, args, stdin=subprocess.DEVNULL, input=None, timeout=300):
    res = subprocess.run([cli] + args, stdin=None if input is not None else stdin, input=input,
                         capture_output=True, timeout=timeout)
    return res.returncode, res.stdout.decode("utf-8", "replace"), res.stderr.decode("utf-8", "replace")


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def frames_of(screen):
    """Records the screen at every erase-below that leaves the cursor on a status line:
    what a finished live frame looks like."""
    frames = []

    def hook(s):
        status = s.line(s.r)
        if re.search(r"step \d+/\d+", status):
            frames.append({"lines": s.lines(), "row": s.r, "scrolled": s.scrolled,
                           "autowraps": s.autowraps, "status": status,
                           "scrollback": list(s.scrollback)})
    screen.erase_hooks.append(hook)
    return frames


def is_sublist(small, big):
    n = len(small)
    return any(big[i:i + n] == small for i in range(len(big) - n + 1))


def test_live(cli, model):
    rows, cols = 12, 48
    args = ["-m", model, "-p", PROMPT, "-n", "160", "--steps", "160", "-t", "1"]
    rc, plain, err = run(cli, args)
    check(rc == 0, "plain run failed (%d): %s" % (rc, err))
    final_words = words(PROMPT + plain)

    # a shell's lines above, so the view starts halfway down the terminal: it may scroll
    # them away as it grows to the terminal's height, but nothing of its own
    shell = ["shell line %d" % i for i in range(6)]
    script = "printf '%s\\n' " + " ".join("'%s'" % l for l in shell) + '; exec "$@"'
    p = vt.PtyRun(["sh", "-c", script, "sh", cli] + args + ["--stats"], rows, cols)
    frames = frames_of(p.screen)
    rc = p.wait(600)
    p.close()
    s = p.screen
    check(rc == 0, "live run exited %d:\n%s" % (rc, s.text()))
    check(len(frames) >= 10, "only %d live frames drawn" % len(frames))

    for k, f in enumerate(frames):
        # redrawn in place: the terminal scrolled the shell's lines at most, never a frame's
        check(f["scrolled"] <= len(shell) and all(l in shell for l in f["scrollback"]),
              "frame %d: the terminal scrolled %d lines (%s):\n%s"
              % (k, f["scrolled"], f["status"], "\n".join(f["scrollback"])))
        check(f["autowraps"] == 0, "frame %d: a line wider than the terminal" % k)
        check(all(line == "" for line in f["lines"][f["row"] + 1:]),
              "frame %d: rows left below the status line" % k)
        check(all(len(line) < cols for line in f["lines"]), "frame %d: a line in the last column" % k)

    # the prompt comes first, wrapped at word boundaries
    first = frames[0]
    check(first["lines"][:len(shell)] == shell, "the first frame overwrote the shell's lines")
    shown = words(" ".join(first["lines"][len(shell):first["row"]]))
    check(shown[:len(words(PROMPT))] == words(PROMPT),
          "the first frame does not start with the prompt:\n%s" % "\n".join(first["lines"]))

    # taller than the terminal: the last rows are shown, every word whole
    tall = [f for f in frames if "rows above" in f["status"]]
    check(tall, "the text never outgrew the terminal; the test needs a longer generation")
    last = frames[-1]
    check("rows above" in last["status"], "the last frame shows the top: %s" % last["status"])
    body = words(" ".join(last["lines"][:last["row"]]))
    check(body and is_sublist(body, final_words),
          "the last frame's rows are not whole words of the text:\n%s\n--- text:\n%s"
          % ("\n".join(last["lines"]), PROMPT + plain))
    check(body[-1] == final_words[-1], "the last frame does not end with the text's end")

    # afterwards: the whole text (prompt first, words whole) and the --stats line
    check(s.cursor_visible, "the cursor is still hidden")
    out = [l for l in s.scrollback + s.lines()]
    check(out[:len(shell)] == shell, "the shell's lines are gone: %s" % out[:len(shell)])
    out = out[len(shell):]
    while out and out[-1] == "":
        out.pop()
    # the stats line is ordinary output: the terminal may wrap it
    at = [i for i, l in enumerate(out) if l.startswith("difflm: ")]
    check(at and re.fullmatch(r"difflm:160steps,[\d.]+tokensperstep,[\d.]+s,[\d.]+tokens/s",
                              "".join(out[at[-1]:]).replace(" ", "")),
          "the --stats line is not the last line:\n%s" % "\n".join(out[-5:]))
    printed = words(" ".join(out[:at[-1]]))
    check(printed == final_words, "the final text differs from the piped output:\n%s\n---\n%s"
          % ("\n".join(out[:at[-1]]), PROMPT + plain))
    print("live: %d frames on %dx%d, %d of them taller than the terminal; final text of %d words"
          % (len(frames), rows, cols, len(tall), len(final_words)))


def test_ctrl_c(cli, model):
    args = [cli, "-m", model, "-p", PROMPT, "-n", "240", "--steps", "240", "-t", "1"]
    p = vt.PtyRun(args, 24, 80)
    frames = frames_of(p.screen)

    def at_step(k):
        return lambda run: any(int(re.search(r"step (\d+)/", f["status"]).group(1)) >= k
                               for f in frames)
    check(p.read_until(at_step(5), 300), "no frame reached step 5:\n%s" % p.screen.text())
    p.write(b"\x03")  # Ctrl-C: the terminal sends SIGINT
    rc = p.wait(300)
    p.close()
    text = p.screen.text()
    check(rc == 130, "exit status %d, not 130:\n%s" % (rc, text))
    m = re.search(r"interrupted after (\d+) steps?: (\d+) of 240 tokens decoded, (\d+) still masked",
                  text)
    check(m, "no interruption message:\n%s" % text)
    steps, decoded, masked = map(int, m.groups())
    check(steps >= 5 and decoded >= 5 and masked > 0 and decoded + masked == 240,
          "odd counts: %s" % m.group(0))
    check(steps < 240, "it did not stop early")
    shown = p.screen.scrollback + p.screen.lines()
    body = " ".join(shown)
    check(" ".join(words(PROMPT)) in " ".join(words(body)), "the prompt is not in the final text")
    check(MASK in body, "the partial text shows no masked positions:\n%s" % text)
    check(p.screen.cursor_visible, "the cursor is still hidden")
    print("ctrl-c: %s; exit 130" % m.group(0))


def test_sigint(cli, model):
    proc = subprocess.Popen([cli, "-m", model, "-p", PROMPT, "-n", "240", "--steps", "240",
                             "-t", "1", "-v"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    # the context's first log line comes after the handler is installed
    first = proc.stderr.readline().decode()
    check("info:" in first, "unexpected first line on stderr: %r" % first)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    out, err = out.decode("utf-8", "replace"), first + err.decode("utf-8", "replace")
    check(proc.returncode == 130, "exit status %d, not 130:\n%s" % (proc.returncode, err))
    m = re.search(r"interrupted after (\d+) steps?: (\d+) of 240 tokens decoded, (\d+) still masked",
                  err)
    check(m, "no interruption message:\n%s" % err)
    masked = int(m.group(3))
    check(masked > 0, "nothing was left masked: the signal came too late")
    check(out.endswith("\n") and out.count("\n") >= 1, "no partial text on stdout: %r" % out)
    # the text stops at the first end of text, so it can show fewer placeholders
    check(0 < out.count(MASK) <= masked or masked == 0,
          "%d placeholders for %d masked positions" % (out.count(MASK), masked))
    print("sigint: %s; exit 130" % m.group(0))


# (arguments, exit status, what stderr must say)
BAD = [
    (["-p", "x", "--steps", "200"], 2, r"--steps 200 is more than the 128 tokens to generate"),
    (["-p", "x", "-n", "16", "--steps", "17"], 2, r"--steps 17 is more than the 16 tokens"),
    (["-p", "x", "--top-p", "5"], 2, r"--top-p must be inside \(0, 1\] \(1 = off\), got '5'"),
    (["-p", "x", "--top-p", "0"], 2, r"--top-p must be inside \(0, 1\]"),
    (["-p", "x", "--top-p", "-0.5"], 2, r"--top-p must be inside \(0, 1\]"),
    (["-p", "x", "--seed", "-1"], 2, r"--seed must be an integer in \[0, 18446744073709551615\], got '-1'"),
    (["-p", "x", "--seed", "1.5"], 2, r"--seed must be an integer"),
    (["-p", "x", "-n", "abc"], 2, r"-n must be an integer >= 1, got 'abc'"),
    (["-p", "x", "-n", "0"], 2, r"-n must be an integer >= 1, got '0'"),
    (["-p", "x", "--steps", "0"], 2, r"--steps must be an integer >= 1"),
    (["-p", "x", "--temp", "warm"], 2, r"--temp must be a number, got 'warm'"),
    (["-p", "x", "--temp", "-1"], 2, r"--temp must be a finite value >= 0"),
    (["-p", "x", "--temp", "nan"], 2, r"--temp must be a finite value >= 0"),
    (["-p", "x", "--cfg", "inf"], 2, r"--cfg must be a finite value >= 0"),
    (["-p", "x", "--eps", "1"], 2, r"--eps must be inside \(0, 1\)"),
    (["-p", "x", "--alg-temp", "-2"], 2, r"--alg-temp must be a finite value >= 0"),
    (["-p", "x", "--threshold", "0"], 2, r"--threshold must be inside \(0, 1\]"),
    (["-p", "x", "--threshold", "1.5"], 2, r"--threshold must be inside \(0, 1\]"),
    (["-p", "x", "--factor", "0"], 2, r"--factor must be a finite value > 0"),
    (["-p", "x", "--threshold", "0.5", "--factor", "2"], 2, r"either --threshold or --factor"),
    (["-p", "x", "--top-k", "-1"], 2, r"--top-k must be an integer >= 0"),
    (["-p", "x", "--block-length", "-1"], 2, r"--block-length must be an integer >= 0"),
    (["-p", "x", "-t", "-1"], 2, r"-t must be an integer in \[0, 4096\]"),
    (["-p", "x", "--max-canvas", "0"], 2, r"--max-canvas must be an integer >= 1"),
    (["-p", "x", "--mask-id", "-3"], 2, r"--mask-id must be an integer >= 0"),
    (["-p", "x", "--schedule", "foo"], 2, r"--schedule must be one of auto, blocks, timesteps, block_diffusion; got 'foo'"),
    (["-p", "x", "--block-threshold", "1.5"], 2, r"--block-threshold must be inside \[0, 1\], got '1.5'"),
    (["-p", "x", "--block-threshold", "-0.1"], 2, r"--block-threshold must be inside \[0, 1\]"),
    (["-p", "x", "--editing-threshold", "1"], 2,
     r"--editing-threshold must be inside \[0, 1\) \(0 = off\), got '1'"),
    (["-p", "x", "--max-post-steps", "-1"], 2, r"--max-post-steps must be an integer >= 0, got '-1'"),
    (["-p", "x", "--block-recompute=1"], 2, r"--block-recompute takes no value"),
    (["-p", "x", "--remasking", "best"], 2, r"--remasking must be one of auto, low_confidence"),
    (["-p", "x", "--cache", "triple"], 2, r"--cache must be one of none, prefix, dual"),
    (["-p", "x", "--precision", "fp8"], 2, r"--precision must be one of exact, bf16; got 'fp8'"),
    (["-p", "x", "--pack-weights", "yes"], 2,
     r"--pack-weights must be one of auto, off, on; got 'yes'"),
    (["-p", "--no-live"], 2, r"-p needs a value, but '--no-live' is an option"),
    (["-p", "x", "-n", "--steps", "8"], 2, r"-n needs a value, but '--steps' is an option"),
    (["-p"], 2, r"-p needs a value$"),
    (["-p", "x", "--stats=yes"], 2, r"--stats takes no value"),
    (["-p", "x", "stray"], 2, r"unexpected argument 'stray'"),
    (["-p", "x", "--bogus"], 2, r"unknown option '--bogus'"),
    (["-p", "x", "--prompt-ids", "1,2"], 2, r"give one of -p, -f, --prompt-ids, --infill and --canvas-ids"),
    (["-p", "x", "--infill", "a<mask:2>"], 2, r"not 2 of them"),
    (["--canvas-ids", "1,x"], 2, r"--canvas-ids must be comma-separated ids"),
    (["--chat", "--infill", "a<mask:2>"], 2, r"--chat does not apply to --infill"),
    (["--chat", "--prompt-ids", "1,2"], 2, r"--chat applies to a text prompt"),
    (["--prompt-ids", "1,x"], 2, r"--prompt-ids must be comma-separated ids >= 0, got '1,x'"),
    (["--prompt-ids", "1,,2"], 2, r"--prompt-ids must be comma-separated ids"),
    # the canvas is the constraint here, not steps against blocks
    (["-p", "x", "-n", "100000"], 2,
     r"-n 100000: the prompt's \d+ tokens and 100000 generated make a canvas of \d+, "
     r"longer than the \d+ this context serves"),
    (["-p", "x", "-n", "200", "--steps", "4", "--block-length", "8"], 2,
     r"--steps 4 is fewer than the 25 blocks of -n 200 in --block-length 8"),
    (["-p", "x", "--cache", "dual", "--schedule", "timesteps"], 2,
     r"a KV cache needs the BLOCKS schedule"),
    # the default model attends bidirectionally: no blocks to decode
    (["-p", "x", "-n", "8", "--steps", "8", "--schedule", "block_diffusion"], 2,
     r"the block diffusion schedule needs a block-causal model .*diffusion.block_length"),
    (["-f", "/nonexistent/prompt.txt"], 1, r"-f: cannot open '/nonexistent/prompt.txt'"),
]


def test_flags(cli, model):
    failed = 0
    for args, want_rc, pattern in BAD:
        rc, out, err = run(cli, ["-m", model] + args)
        ok = rc == want_rc and re.search(pattern, err, re.M) and out == ""
        if "-n 100000" in " ".join(args):
            ok = ok and "blocks" not in err
        print("%-4s %-50s -> %d %s" % ("ok" if ok else "FAIL", " ".join(args), rc, err.strip()))
        failed += not ok
    # what must still run: a value that starts with '-' given with '=', the default steps
    # following a short -n
    for args in (["--prompt=--no-live", "-n", "8", "--steps", "8"], ["-p", "x", "-n", "16"],
                 ["-p", "x", "-n", "8", "--precision", "bf16"],
                 ["-p", "x", "-n", "8", "--precision", "exact"]):
        rc, out, err = run(cli, ["-m", model, "-t", "1"] + args)
        ok = rc == 0 and out.strip() != ""
        print("%-4s %-50s -> %d %s" % ("ok" if ok else "FAIL", " ".join(args), rc, err.strip()))
        failed += not ok
    rc, out, err = run(cli, ["-m", model, "-t", "1", "-p", "x", "-n", "8", "-v",
                             "--precision", "bf16"])
    ok = rc == 0 and re.search(r"f32/f16/bf16 products: bf16 (portable|avx512-bf16|amx-bf16)", err)
    print("%-4s --precision bf16 -v names the bf16 path" % ("ok" if ok else "FAIL"))
    failed += not ok
    # --pack-weights reaches the context: the same ids packed or not, and -v says so
    ids = {}
    for pack in ("off", "on"):
        rc, ids[pack], err = run(cli, ["-m", model, "-t", "1", "-p", "x", "-n", "8", "-v",
                                       "--print-ids", "--pack-weights", pack])
        packed = "the float weights packed once" in err
        ok = rc == 0 and ids[pack].strip() != "" and packed == (pack == "on")
        print("%-4s --pack-weights %s -v (packed: %s)" % ("ok" if ok else "FAIL", pack, packed))
        failed += not ok
    ok = ids["off"] == ids["on"]
    print("%-4s --pack-weights off and on give the same ids" % ("ok" if ok else "FAIL"))
    failed += not ok
    check(failed == 0, "%d flag checks failed" % failed)


def test_prompt(cli, model):
    common = ["-m", model, "-n", "12", "--steps", "12", "-t", "1", "--print-ids"]
    rc, ref, err = run(cli, common + ["-p", PROMPT])
    check(rc == 0, "-p failed: %s" % err)
    rc, empty, err = run(cli, common + ["-p", ""])
    check(rc == 0 and empty != ref, "an empty prompt gives the same canvas as PROMPT")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "prompt.txt")
        with open(path, "w") as f:
            f.write(PROMPT + "\n\n")  # trailing newlines are dropped, as $(cat) does
        cases = {
            "-f FILE": run(cli, common + ["-f", path]),
            "-f -": run(cli, common + ["-f", "-"], input=(PROMPT + "\n").encode()),
            "stdin": run(cli, common, input=(PROMPT + "\n").encode()),
        }
    for name, (rc, out, err) in cases.items():
        check(rc == 0, "%s failed (%d): %s" % (name, rc, err))
        check(out == ref, "%s gives another canvas:\n%s\n-p gives:\n%s" % (name, out, ref))
        print("%-8s same canvas as -p" % name)


def test_infill(cli, model):
    tmpl = "And God said,<mask:6> light: and there was<mask:4>."
    rc, plain, err = run(cli, ["-m", model, "--infill", tmpl, "-t", "1"])
    check(rc == 0, "--infill failed (%d): %s" % (rc, err))
    check(plain.startswith("And God said,") and " light: and there was" in plain
          and plain.rstrip("\n").endswith("."), "--infill output lost the fixed text: %r" % plain)
    check(MASK not in plain, "holes left in %r" % plain)
    # confidences: one line per step, every position token/step/prob/score
    rc, out, err = run(cli, ["-m", model, "--infill", tmpl, "-t", "1", "--print-confidences",
                             "--print-ids"])
    lines = out.strip().split("\n")
    check(rc == 0 and len(lines) == 11 and lines[-2].startswith("confidences 10 "),
          "--print-confidences: %d lines, %r" % (len(lines), lines[-2:]))
    n = len(lines[-1].split(","))
    check(all(len(l.split()) == n + 2 for l in lines[:-1]), "a confidences line per position")
    rc, out, err = run(cli, ["-m", model, "--infill", "x<mask:0>"])
    check(rc != 0 and "<mask:N>" in err and out == "", "a bad marker: %d %r" % (rc, err))

    # live: the fixed text stays in place while the holes fill
    rows, cols = 12, 60
    p = vt.PtyRun([cli, "-m", model, "--infill", tmpl, "-t", "1"], rows, cols)
    frames = frames_of(p.screen)
    rc = p.wait(600)
    p.close()
    check(rc == 0, "live --infill exited %d:\n%s" % (rc, p.screen.text()))
    check(len(frames) >= 5, "only %d live frames" % len(frames))
    first = words(" ".join(frames[0]["lines"][:frames[0]["row"]]))
    check(first[:3] == ["And", "God", "said,"] and first.count(MASK) == 10,
          "the first frame is not the template with 10 holes: %s" % first)
    for f in frames:
        shown = " ".join(f["lines"][:f["row"]])
        check(shown.startswith("And God said,") and "light: and there was" in shown,
              "a frame lost the fixed text: %r" % shown)
    masks = [words(" ".join(f["lines"][:f["row"]])).count(MASK) for f in frames]
    check(masks == sorted(masks, reverse=True) and masks[-1] == 0,
          "the holes do not fill in: %s" % masks)
    out = [l for l in p.screen.scrollback + p.screen.lines() if l]
    check(words(" ".join(out)) == words(plain), "final live text differs: %r vs %r"
          % (out, plain))
    print("infill: %d frames, masks %s" % (len(frames), masks))


def test_version(cli, model):
    rc, out, err = run(cli, ["--version"])
    check(rc == 0 and re.fullmatch(r"difflm \d+\.\d+\.\d+ \(library \d+\.\d+\.\d+, ABI \d+\)\n", out),
          "--version: %d %r %r" % (rc, out, err))
    rc, out, err = run(cli, ["--help"])
    for needle in ("-f, --file FILE", "--version", "130 interrupted"):
        check(rc == 0 and needle in out, "--help does not mention %r" % needle)
    print("--version and --help: ok")


def test_folder(cli, folder, gguf):
    common = ["-n", "16", "--steps", "8", "--block-length", "8", "-t", "1"]
    outs = {}
    for name, model in (("gguf", gguf), ("folder", folder),
                        ("config.json", os.path.join(folder, "config.json"))):
        for what, extra in (("text", []), ("ids", ["--print-ids"])):
            rc, out, err = run(cli, ["-m", model, "--chat", "-p", PROMPT] + common + extra)
            check(rc == 0, "-m %s --chat failed (%d): %s" % (name, rc, err))
            outs[name, what] = out
    for name in ("folder", "config.json"):
        for what in ("text", "ids"):
            check(outs[name, what] == outs["gguf", what], "-m %s --chat %s: %r, the GGUF gives %r"
                  % (name, what, outs[name, what], outs["gguf", what]))
    ids = [int(x) for x in outs["folder", "ids"].split(",")]
    check(len(ids) > 16 and ids[0] == 0 and ids.count(0) == 1,
          "the chat canvas does not start with one BOS: %s" % ids[:8])
    # plain prompts: the folder's tokenizer_config.json says add_bos_token false (as
    # LLaDA's does), the GGUF's converter-style key says true
    rc, plain, err = run(cli, ["-m", folder, "-p", PROMPT, "--print-ids"] + common)
    check(rc == 0 and int(plain.split(",")[0]) != 0, "plain -p on the folder: %d %r %s" % (rc, plain, err))
    with tempfile.TemporaryDirectory() as d:
        for f in os.listdir(folder):
            if f.endswith(".json"):
                with open(os.path.join(folder, f), "rb") as src, open(os.path.join(d, f), "wb") as dst:
                    dst.write(src.read())
        rc, out, err = run(cli, ["-m", d, "-p", PROMPT] + common)
        check(rc != 0 and out == "" and "safetensors" in err,
              "a folder without its shards: %d %r %r" % (rc, out, err))
    print("folder: -m DIR and -m DIR/config.json give the GGUF's chat text and canvas")


def test_block(cli, model):
    block = 8
    prompt = ",".join(str(300 + i) for i in range(7))
    common = ["-m", model, "--prompt-ids", prompt, "-n", "20", "--steps", "16", "-t", "1",
              "--print-ids"]

    def ids(extra):
        rc, out, err = run(cli, common + extra)
        check(rc == 0 and err == "", "%s failed (%d): %s" % (" ".join(extra), rc, err))
        return [int(t) for t in out.strip().split(",")]

    auto = ids([])
    padded = (7 + 20 + block - 1) // block * block
    check(len(auto) == padded, "AUTO gave %d positions, not the %d of whole blocks of %d"
          % (len(auto), padded, block))
    check(auto[:7] == [300 + i for i in range(7)], "the prompt changed: %s" % auto[:7])
    check(5 not in auto, "a MASK (id 5) left in %s" % auto)
    check(ids(["--schedule", "block_diffusion"]) == auto, "AUTO is not block_diffusion")
    blocks = ids(["--schedule", "blocks", "--block-length", "8"])
    check(len(blocks) == 27, "the blocks schedule padded the canvas: %d" % len(blocks))
    runs = {
        "defaults": [],
        "counts only": ["--block-threshold", "1"],
        "low threshold": ["--block-threshold", "0.3"],
        "editing": ["--block-threshold", "0.5", "--editing-threshold", "0.2",
                    "--max-post-steps", "3"],
        "sampled editing": ["--block-threshold", "0.6", "--editing-threshold", "0.2",
                            "--max-post-steps", "2", "--temp", "0.9", "--seed", "4"],
    }
    outs = {}
    for name, extra in runs.items():
        cached = ids(extra)
        recomputed = ids(extra + ["--block-recompute"])
        check(cached == recomputed, "%s: the block cache gives %s, recomputing %s"
              % (name, cached, recomputed))
        outs[name] = cached
        print("%-16s cached == recomputed (%d positions)" % (name, len(cached)))
    check(len(set(map(tuple, outs.values()))) > 1, "the options change nothing: %s" % outs)
    # --stats counts the steps: the threshold commits more than one a step
    rc, out, err = run(cli, common + ["--block-threshold", "0", "--stats"])
    m = re.search(r"(\d+) steps, ([\d.]+) tokens per step", err)
    check(rc == 0 and m and int(m.group(1)) < 16, "--block-threshold 0 --stats: %r" % err)
    # a canvas that fits unpadded but not padded to whole blocks
    rc, out, err = run(cli, ["-m", model, "--prompt-ids", prompt, "-n", "20", "--steps", "16",
                             "--max-canvas", "30"])
    check(rc != 0 and "padded" in err and out == "", "--max-canvas 30: %d %r" % (rc, err))
    print("block: ok")


def main():
    case, cli, model = sys.argv[1:4]
    if case == "folder":
        test_folder(cli, model, sys.argv[4])
        return
    tests = {"live": test_live, "ctrl-c": test_ctrl_c, "sigint": test_sigint,
             "flags": test_flags, "prompt": test_prompt, "version": test_version,
             "infill": test_infill, "block": test_block}
    tests[case](cli, model)


if __name__ == "__main__":
    main()
