"""tools/difflm-convert as a user meets it: a Hugging Face folder (written by
tests/hf/write_hf_folder from a difflm-mkmodel GGUF) converted with --outtype, the
progress on stderr (one line per tensor into a pipe, one line rewritten with CR on a
terminal, nothing with --quiet), a quantized conversion byte-identical to converting to
F32 and running difflm-quantize on that, and the bad inputs: an unknown --outtype, a
missing shard, an unwritable output, each with a message and no file left behind.

usage: test_convert_cli.py DIFFLM_CONVERT DIFFLM_QUANTIZE DIFFLM_MKMODEL WRITE_HF_FOLDER"""
import os
import pty
import subprocess
import sys
import tempfile

failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL " + what)


def run(args):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def run_tty(args):
    """stderr (and stdout) on a pseudo-terminal; returns rc and the bytes written."""
    master, slave = pty.openpty()
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return p.wait(), out.decode(errors="replace")


def main():
    convert, quantize, mkmodel, write_folder = sys.argv[1:5]
    with tempfile.TemporaryDirectory() as tmp:
        gguf = os.path.join(tmp, "fixture.gguf")
        folder = os.path.join(tmp, "folder")
        rc, _, err = run([mkmodel, "--arch", "llada", "--n-embd", "256", "--n-head", "4",
                          "--n-ff", "512", "--vocab", "600", "--seed", "9", "-o", gguf])
        check(rc == 0, "mkmodel: " + err)
        rc, _, err = run([write_folder, gguf, folder, "2", "5"])
        check(rc == 0, "write_hf_folder: " + err)

        f32 = os.path.join(tmp, "f32.gguf")
        rc, out, err = run([convert, folder, f32, "--outtype", "f32"])
        lines = err.splitlines()
        check(rc == 0 and out == "", "convert f32: rc %d %r" % (rc, err))
        check(len(lines) > 10 and lines[0].startswith("[1/") and "\r" not in err,
              "plain progress lines into a pipe: %r" % err[:200])
        check(lines[-1].startswith("difflm-convert: wrote " + f32), "summary line: %r" % lines[-1:])
        with open(f32, "rb") as a, open(gguf, "rb") as b:
            check(a.read() != b"" and b.read() != b"", "files exist")

        # a preset straight from the folder = F32 file + difflm-quantize
        for preset in ("Q4_K_M", "q8_0", "Q5_K_S"):
            direct = os.path.join(tmp, "direct.gguf")
            two = os.path.join(tmp, "two.gguf")
            rc, _, err = run([convert, "-t", "2", "--quiet", folder, direct, "--outtype", preset])
            check(rc == 0 and err == "", "convert %s --quiet: rc %d %r" % (preset, rc, err))
            rc, _, err = run([quantize, "-t", "3", f32, two, preset])
            check(rc == 0, "quantize %s: %r" % (preset, err))
            with open(direct, "rb") as a, open(two, "rb") as b:
                check(a.read() == b.read(), "%s: difflm-convert and difflm-quantize differ" % preset)

        # difflm-quantize takes the folder too (the same call)
        qf = os.path.join(tmp, "qf.gguf")
        rc, _, err = run([quantize, folder, qf, "Q8_0"])
        check(rc == 0, "difflm-quantize on a folder: %r" % err)

        # a terminal: one line redrawn with CR
        tty_out = os.path.join(tmp, "tty.gguf")
        rc, screen = run_tty([convert, folder, tty_out, "--outtype", "bf16"])
        check(rc == 0 and screen.count("\r") > 10 and screen.count("\n") <= 2,
              "terminal progress redraws one line: rc %d, %d CR, %d LF" %
              (rc, screen.count("\r"), screen.count("\n")))

        # bad input: no file left in the output folder
        outdir = os.path.join(tmp, "out")
        os.mkdir(outdir)
        target = os.path.join(outdir, "m.gguf")
        rc, _, err = run([convert, folder, target, "--outtype", "q3_k_m"])
        check(rc == 2 and "q3_k_m" in err, "unknown --outtype: rc %d %r" % (rc, err))
        shard = os.path.join(folder, "model-00002-of-00002.safetensors")
        os.rename(shard, shard + ".away")
        rc, _, err = run([convert, folder, target, "--outtype", "q4_0"])
        check(rc == 1 and "model-00002-of-00002.safetensors" in err,
              "missing shard: rc %d %r" % (rc, err))
        os.rename(shard + ".away", shard)
        rc, _, err = run([convert, folder, os.path.join(tmp, "nodir", "m.gguf")])
        check(rc == 1 and "nodir/m.gguf" in err, "unwritable output: rc %d %r" % (rc, err))
        check(os.listdir(outdir) == [], "no file left behind: %s" % os.listdir(outdir))
        rc, out, _ = run([convert, "--help"])
        check(rc == 0 and "--outtype" in out, "--help")
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
