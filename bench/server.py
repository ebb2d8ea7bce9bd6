#!/usr/bin/env python3
"""difflm-server's overhead and throughput on loopback (doc/server.md, "Performance").

  overhead:   round trip of GET /health, and of a 1-token completion minus the time the
              server reports for its generation ("timings.generation_ms"): what HTTP, JSON,
              the pool and tokenization cost per request
  throughput: completed requests per second with N = 1, 2 contexts and 2N clients

usage: bench/server.py SERVER MODEL [--requests N] [--gen G]"""
import argparse
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "server"))
from server_harness import Server  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("server")
    ap.add_argument("model")
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--gen", type=int, default=16)
    a = ap.parse_args()
    with Server(a.server, a.model, "--contexts", "1") as srv:
        conn = srv.conn()
        health, over = [], []
        for _ in range(200):
            t0 = time.perf_counter()
            srv.request("GET", "/health", conn=conn)
            health.append(time.perf_counter() - t0)
        body = {"prompt": "In the beginning", "max_tokens": 1, "steps": 1}
        for _ in range(100):
            t0 = time.perf_counter()
            st, _, b = srv.post("/v1/completions", body, conn=conn)
            over.append(time.perf_counter() - t0 - b["timings"]["generation_ms"] / 1e3)
        print(f"GET /health round trip: median {statistics.median(health) * 1e3:.3f} ms")
        print(f"1-token completion, round trip minus generation: median "
              f"{statistics.median(over) * 1e3:.3f} ms, p90 {sorted(over)[89] * 1e3:.3f} ms")
    for n in (1, 2):
        with Server(a.server, a.model, "--contexts", str(n)) as srv:
            body = {"prompt": "In the beginning", "max_tokens": a.gen, "steps": a.gen}
            srv.post("/v1/completions", body)   # warm
            left = [a.requests]
            lock = threading.Lock()

            def client():
                conn = srv.conn()
                while True:
                    with lock:
                        if left[0] == 0:
                            return
                        left[0] -= 1
                    srv.post("/v1/completions", body, conn=conn)
            t0 = time.perf_counter()
            ts = [threading.Thread(target=client) for _ in range(2 * n)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            dt = time.perf_counter() - t0
            print(f"contexts {n} ({2 * n} clients, {a.gen} tokens, {a.gen} steps): "
                  f"{a.requests / dt:.2f} requests/s, {a.requests * a.gen / dt:.1f} tokens/s")


if __name__ == "__main__":
    main()
