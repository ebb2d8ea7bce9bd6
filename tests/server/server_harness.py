"""Starting difflm-server on a free port and talking to it over loopback with http.client:
what tests/server/test_server.py and test_page.py share."""

import http.client
import json
import os
import re
import select
import signal
import socket
import subprocess
import time


class Server:
    """difflm-server -m MODEL --port 0 ARGS..., on 127.0.0.1; the port from its first line."""

    def __init__(self, exe, model, *args, env=None):
        self.proc = subprocess.Popen([exe, "-m", model, "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        line = b""
        deadline = time.monotonic() + 60
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(left, 0))
            if not ready:
                self.kill()
                raise AssertionError("the server printed no address within 60 s")
            ch = os.read(self.proc.stdout.fileno(), 1)
            if not ch:
                err = self.proc.stderr.read().decode("utf-8", "replace")
                raise AssertionError(f"the server exited ({self.proc.wait()}) before listening: {err}")
            line += ch
        self.banner = line.decode()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", self.banner)
        if not m:
            self.kill()
            raise AssertionError(f"no address in the first line: {self.banner!r}")
        self.port = int(m.group(1))

    def conn(self, timeout=120):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None, timeout=120):
        """(status, headers dict, parsed JSON or raw bytes)."""
        own = conn is None
        c = conn or self.conn(timeout)
        h = {"Content-Type": "application/json"} if body is not None else {}
        h.update(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        if own:
            c.close()
        if hdrs.get("content-type", "").startswith("application/json"):
            data = json.loads(data)
        return r.status, hdrs, data

    def post(self, path, body, **kw):
        return self.request("POST", path, body, **kw)

    def health(self):
        st, _, h = self.request("GET", "/health")
        assert st == 200, (st, h)
        return h

    def open_stream(self, path, body, headers=None):
        """Sends a streaming request; returns (connection, response) with the status read."""
        c = self.conn()
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        c.request("POST", path, body=json.dumps(body), headers=h)
        return c, c.getresponse()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Signals the server and returns (exit status, stderr)."""
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the server did not exit within {timeout} s of {sig!r}")
        return rc, self.proc.stderr.read().decode("utf-8", "replace")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            rc, err = self.stop()
            if exc[0] is None:
                assert rc == 0, f"the server exited with {rc} on SIGTERM: {err}"


def events(resp):
    """The SSE events of a response, one at a time: parsed JSON, or the string "[DONE]".
    Checks the framing: every event is one "data: " line followed by an empty line."""
    while True:
        line = resp.readline()
        if not line:
            return
        line = line.decode("utf-8")
        assert line.startswith("data: ") and line.endswith("\n"), f"not an SSE data line: {line!r}"
        blank = resp.readline()
        assert blank == b"\n", f"an event not ended by an empty line: {blank!r}"
        data = line[6:-1]
        if data == "[DONE]":
            yield data
            rest = resp.read()
            assert rest == b"", f"bytes after [DONE]: {rest[:200]!r}"
            return
        yield json.loads(data)


def hard_close(conn):
    """Closes the client's socket at once (the way a killed client goes)."""
    sock = conn.sock
    if sock is not None:
        sock.shutdown(socket.SHUT_RDWR)
    conn.close()


def wait_for(pred, timeout, what, interval=0.01):
    """Polls pred() until it returns a true value; returns (value, seconds taken)."""
    t0 = time.monotonic()
    while True:
        v = pred()
        if v:
            return v, time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(interval)
