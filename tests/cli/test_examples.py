"""Tests of the examples as a user meets them.

usage: test_examples.py CASE PROGRAM MODEL [CLI]
  simple        examples/simple prints the text as it fills in ('_' for masked positions),
                ending with what the CLI generates with the same settings (CLI needed)
  game-key      examples/game_loop on a terminal: one key, no Enter, cancels it, and the
                last line says so; the terminal's mode is restored
  game-ctrl-c   Ctrl-C cancels it the same way, reported as Ctrl-C
  game-term     SIGTERM ends it, with the terminal's mode restored
  game-watchdog on a terminal with no key pressed, and piped: the watchdog cancels, and
                the last line says so
"""

import os
import re
import signal
import subprocess
import sys
import termios

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import vt  # noqa: E402


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def test_simple(simple, model, cli):
    prompt = "And God said"
    res = subprocess.run([simple, model, prompt], capture_output=True, timeout=300)
    check(res.returncode == 0, "simple failed (%d): %s" % (res.returncode, res.stderr.decode()))
    lines = res.stdout.decode("utf-8", "replace").splitlines()
    check(lines and lines[0] == "prompt: " + prompt, "no prompt line: %r" % lines[:1])
    steps = [l for l in lines[1:] if l.startswith("step ")]
    check(len(steps) >= 2, "fewer than two steps printed:\n%s" % "\n".join(lines))
    texts = [re.sub(r"^step +\d+: ", "", l) for l in steps]
    # text, not token ids
    for t in texts:
        check(not re.fullmatch(r"[\d\s]+", t), "a step printed ids, not text: %r" % t)
    masks = [t.count("_") for t in texts]
    check(masks[0] > 0, "the first step shows no masked position: %r" % texts[0])
    check(all(a >= b for a, b in zip(masks, masks[1:])), "masked positions came back: %s" % masks)
    check(masks[-1] == 0, "the last step still shows masked positions: %r" % texts[-1])
    # the same settings through the CLI: the same text (the CLI stops at end of text)
    res = subprocess.run([cli, "-m", model, "-p", prompt, "-n", "32", "--steps", "16",
                          "--block-length", "16"], capture_output=True, stdin=subprocess.DEVNULL,
                         timeout=300)
    check(res.returncode == 0, "the CLI failed: %s" % res.stderr.decode())
    want = " ".join(res.stdout.decode("utf-8", "replace").split())
    got = " ".join(texts[-1].split())
    check(got.startswith(want), "simple ends with %r, the CLI generates %r" % (got, want))
    print("simple: %d steps, masked %s, ends with the CLI's text" % (len(steps), masks))


GAME = ["--frames", "2000", "--fps", "20", "--gen", "64", "--steps", "64", "--block", "64"]


def tty_restored(p):
    lflag = p.termios()[3]
    return bool(lflag & termios.ICANON) and bool(lflag & termios.ECHO)


def start_game(game, model, extra):
    p = vt.PtyRun([game, model] + GAME + extra, 24, 100)
    check(p.read_until(lambda r: re.search(rb"frame +\d+ +step", r.raw), 300),
          "no frame drawn:\n%s" % p.screen.text())
    return p


def finish(p, want_rc):
    rc = p.wait(300)
    text = p.screen.text()
    check(rc == want_rc, "exit status %d, not %d:\n%s" % (rc, want_rc, text))
    check(tty_restored(p), "the terminal is left without ICANON/ECHO")
    p.close()
    return text


def test_game_key(game, model, _cli=None):
    p = start_game(game, model, ["--cancel-after-ms", "60000", "--expect", "key"])
    check(not tty_restored(p), "the terminal is still in canonical mode while it runs")
    p.write(b"x")  # one key, no Enter
    text = finish(p, 0)
    check(re.search(r"cancelled by a key press \('x'\) after \d+ frames", text),
          "no key-press cancellation reported:\n%s" % text)
    check("watchdog" not in text, "the watchdog is blamed:\n%s" % text)
    print("game-key: cancelled by 'x', terminal restored")


def test_game_ctrl_c(game, model, _cli=None):
    p = start_game(game, model, ["--cancel-after-ms", "60000", "--expect", "interrupt"])
    p.write(b"\x03")
    text = finish(p, 0)
    check(re.search(r"cancelled by Ctrl-C after \d+ frames", text),
          "no Ctrl-C cancellation reported:\n%s" % text)
    print("game-ctrl-c: cancelled by Ctrl-C, terminal restored")


def test_game_term(game, model, _cli=None):
    p = start_game(game, model, ["--cancel-after-ms", "60000"])
    os.kill(p.pid, signal.SIGTERM)
    finish(p, -signal.SIGTERM)
    print("game-term: ended by SIGTERM, terminal restored")


def test_game_watchdog(game, model, _cli=None):
    p = start_game(game, model, ["--cancel-after-ms", "1500", "--expect", "watchdog"])
    text = finish(p, 0)
    check(re.search(r"cancelled by the watchdog \(1500 ms\) after \d+ frames", text),
          "no watchdog cancellation reported on the terminal:\n%s" % text)
    res = subprocess.run([game, model] + GAME + ["--cancel-after-ms", "300", "--expect",
                                                 "watchdog"],
                         stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
    out = res.stdout.decode()
    check(res.returncode == 0 and re.search(r"cancelled by the watchdog \(300 ms\)", out),
          "piped: %d\n%s%s" % (res.returncode, out[-500:], res.stderr.decode()))
    print("game-watchdog: cancelled by the watchdog, on a terminal and piped")


def main():
    case, prog, model = sys.argv[1:4]
    cli = sys.argv[4] if len(sys.argv) > 4 else None
    tests = {"simple": test_simple, "game-key": test_game_key, "game-ctrl-c": test_game_ctrl_c,
             "game-term": test_game_term, "game-watchdog": test_game_watchdog}
    tests[case](prog, model, cli)


if __name__ == "__main__":
    main()
