"""A small terminal emulator and a pseudo-terminal runner, for testing what the CLI and
the examples draw on a terminal (tests/cli/test_cli.py, tests/cli/test_examples.py).

Screen understands what tools/cli/live.c and examples/game_loop.c write: printable
UTF-8, CR, LF, backspace, cursor movement (CSI A B C D H), erase (CSI J, K), SGR (CSI m,
ignored) and cursor visibility (CSI ?25 l/h). It wraps at the right margin the way xterm
does (a character in the last column leaves the cursor there until the next one) and
counts every line that scrolls off the top, so a test can tell a view that redraws in
place from one that floods the scrollback."""

import codecs
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time


class Screen:
    def __init__(self, rows, cols):
        self.rows, self.cols = rows, cols
        self.grid = [[" "] * cols for _ in range(rows)]
        self.r = self.c = 0
        self.pending_wrap = False
        self.scrollback = []       # lines that scrolled off the top, oldest first
        self.scrolled = 0          # how many did
        self.autowraps = 0         # characters that wrapped at the right margin
        self.cursor_visible = True
        self.cursor_events = []    # ('l' | 'h', self.scrolled at that moment)
        self.erase_hooks = []      # called after every CSI J
        self._dec = codecs.getincrementaldecoder("utf-8")("replace")
        self._esc = None           # the escape sequence being read

    # -- reading the screen
    def line(self, r):
        return "".join(self.grid[r]).rstrip()

    def lines(self):
        return [self.line(r) for r in range(self.rows)]

    def text(self):
        return "\n".join(self.lines())

    # -- writing
    def feed(self, data):
        for ch in self._dec.decode(data):
            self._char(ch)

    def _linefeed(self):
        if self.r == self.rows - 1:
            self.scrollback.append("".join(self.grid[0]).rstrip())
            self.grid = self.grid[1:] + [[" "] * self.cols]
            self.scrolled += 1
        else:
            self.r += 1

    def _char(self, ch):
        if self._esc is not None:
            self._escape(ch)
            return
        if ch == "\x1b":
            self._esc = ""
        elif ch == "\r":
            self.c, self.pending_wrap = 0, False
        elif ch == "\n":
            self._linefeed()
            self.pending_wrap = False
        elif ch == "\b":
            self.c, self.pending_wrap = max(0, self.c - 1), False
        elif ch == "\x07" or ord(ch) < 0x20:
            pass
        else:
            if self.pending_wrap:
                self.autowraps += 1
                self.c = 0
                self._linefeed()
                self.pending_wrap = False
            self.grid[self.r][self.c] = ch
            if self.c == self.cols - 1:
                self.pending_wrap = True
            else:
                self.c += 1

    def _escape(self, ch):
        self._esc += ch
        seq = self._esc
        if len(seq) == 1 and seq != "[":
            self._esc = None            # a two-character escape: nothing to do here
            return
        if len(seq) > 1 and 0x40 <= ord(ch) <= 0x7E:
            self._esc = None
            self._csi(seq[1:-1], ch)

    def _csi(self, params, final):
        private = params.startswith("?")
        nums = [int(p) if p.isdigit() else 0 for p in params.lstrip("?").split(";")] if params else []
        n = nums[0] if nums and nums[0] > 0 else 1
        if private:
            if final in "lh" and nums and nums[0] == 25:
                self.cursor_visible = final == "h"
                self.cursor_events.append((final, self.scrolled))
            return
        self.pending_wrap = False
        if final == "A":
            self.r = max(0, self.r - n)
        elif final == "B":
            self.r = min(self.rows - 1, self.r + n)
        elif final == "C":
            self.c = min(self.cols - 1, self.c + n)
        elif final == "D":
            self.c = max(0, self.c - n)
        elif final == "H":
            row = nums[0] if nums and nums[0] > 0 else 1
            col = nums[1] if len(nums) > 1 and nums[1] > 0 else 1
            self.r, self.c = min(self.rows, row) - 1, min(self.cols, col) - 1
        elif final == "J":
            mode = nums[0] if nums else 0
            if mode == 2:
                self.grid = [[" "] * self.cols for _ in range(self.rows)]
            else:
                self.grid[self.r][self.c:] = [" "] * (self.cols - self.c)
                for r in range(self.r + 1, self.rows):
                    self.grid[r] = [" "] * self.cols
            for hook in self.erase_hooks:
                hook(self)
        elif final == "K":
            self.grid[self.r][self.c:] = [" "] * (self.cols - self.c)


def require_pty():
    """Exits with meson's skip status (77) when no pseudo-terminal can be opened, as in a
    chroot without /dev/pts mounted: the tests that need one cannot run there."""
    try:
        master, slave = os.openpty()
    except OSError as e:
        print("SKIP: cannot open a pseudo-terminal (%s); mount devpts on /dev/pts" % e)
        sys.exit(77)
    os.close(master)
    os.close(slave)


class PtyRun:
    """Runs argv with a pseudo-terminal of rows x cols as its standard input, output
    and error (and controlling terminal, so that writing Ctrl-C to it sends SIGINT),
    feeding everything it writes to a Screen."""

    def __init__(self, argv, rows, cols, env=None):
        require_pty()
        self.screen = Screen(rows, cols)
        self.raw = bytearray()
        pid, fd = pty.fork()
        if pid == 0:
            try:
                # the size is set before exec, so the program's first query sees it
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
                os.execvpe(argv[0], argv, env if env is not None else os.environ)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.status = None

    def read(self, timeout):
        """Reads what is available within timeout seconds; False at end of output."""
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:           # EIO: the program closed the terminal
            return False
        if not data:
            return False
        self.raw += data
        self.screen.feed(data)
        return True

    def read_until(self, predicate, timeout):
        """Reads until predicate(self) holds; returns whether it did before timeout."""
        end = time.monotonic() + timeout
        while not predicate(self):
            left = end - time.monotonic()
            if left <= 0 or not self.read(min(left, 0.2)):
                return predicate(self)
        return True

    def write(self, data):
        os.write(self.fd, data)

    def termios(self):
        return termios.tcgetattr(self.fd)

    def wait(self, timeout):
        """Reads to the end and returns the exit status (-signal if killed)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.read(0.2):
            pass
        while True:
            done, st = os.waitpid(self.pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > end:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                raise AssertionError("timed out after %.0f s" % timeout)
            time.sleep(0.05)
        self.status = st
        if os.WIFSIGNALED(st):
            return -os.WTERMSIG(st)
        return os.WEXITSTATUS(st)

    def close(self):
        try:
            os.close(self.fd)
        except OSError:
            pass
