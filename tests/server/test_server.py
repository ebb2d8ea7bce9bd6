"""difflm-server (tools/difflm-server.c, tools/server/) over loopback with a real HTTP
client (http.client), on the project's default model with short generations.

usage: test_server.py CASE SERVER MODEL CLI
  endpoints  /health, /v1/models, both completions and /v1/diffusion in OpenAI's shapes;
             the text equals the CLI's for the same knobs; stop sequences; the page's files
  stream     every stream parsed event by event: the chunks add up to the whole reply,
             the diffusion steps are consistent from one to the next
  errors     every bad request gets its 4xx and an OpenAI error body, and a generation
             running meanwhile gives the same text as alone
  load       200 requests from 8 concurrent clients on 2 contexts: all answered, none
             lost, each seed's text the same every time
  cancel     a client that leaves (a stream, a plain request, a waiter in the queue)
             frees its context within a step or two
  queue      beyond the contexts and the queue: 503 with an error body; the waiter is
             served once a context frees
  auth       --api-key: /v1/ needs the bearer key, /health and the page do not
  shutdown   SIGTERM mid-stream: the stream ends, the server exits 0; SIGINT when idle
  args       bad options exit 2 with a message; --help, --version; a port in use
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from server_harness import Server, events, hard_close, wait_for  # noqa: E402

PROMPT = "And God said, Let there be light"
MODEL_ID = "difflm-default"


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def check_error(status, body, want_status, want_code=None, want_param=None, what=""):
    check(status == want_status, f"{what}: status {status}, wanted {want_status}: {body}")
    check(isinstance(body, dict) and set(body) == {"error"}, f"{what}: not an error body: {body}")
    e = body["error"]
    check(set(e) == {"message", "type", "param", "code"}, f"{what}: error fields {sorted(e)}")
    check(isinstance(e["message"], str) and e["message"], f"{what}: no message")
    check(isinstance(e["type"], str) and e["type"], f"{what}: no type")
    if want_code is not None:
        check(e["code"] == want_code, f"{what}: code {e['code']!r}, wanted {want_code!r}")
    if want_param is not None:
        check(e["param"] == want_param, f"{what}: param {e['param']!r}, wanted {want_param!r}")


def completion(srv, body, path="/v1/completions", **kw):
    st, _, b = srv.post(path, body, **kw)
    check(st == 200, f"{path} {body}: {st} {b}")
    return b


def text_of(b):
    ch = b["choices"][0]
    return ch["text"] if b["object"] == "text_completion" else ch["message"]["content"]


def cli_text(cli, model, prompt, n, steps, seed=0, temp=0.0):
    out = subprocess.run([cli, "-m", model, "-p", prompt, "-n", str(n), "--steps", str(steps),
                          "--seed", str(seed), "--temp", str(temp), "--no-live"],
                         capture_output=True, timeout=120, check=True)
    t = out.stdout.decode("utf-8")
    check(t.endswith("\n"), f"CLI output without its newline: {t!r}")
    return t[:-1]


# ------------------------------------------------------------------ endpoints

def case_endpoints(exe, model, cli):
    with Server(exe, model, "--contexts", "2") as srv:
        h = srv.health()
        for k, v in {"status": "ok", "model": MODEL_ID, "contexts": 2, "busy": 0, "waiting": 0,
                     "queue_limit": 16}.items():
            check(h[k] == v, f"/health {k} = {h[k]!r}, wanted {v!r}")
        st, _, m = srv.request("GET", "/v1/models")
        check(st == 200 and m["object"] == "list" and len(m["data"]) == 1, f"/v1/models: {m}")
        check(m["data"][0]["id"] == MODEL_ID and m["data"][0]["object"] == "model", f"{m}")
        st, _, one = srv.request("GET", f"/v1/models/{MODEL_ID}")
        check(st == 200 and one["id"] == MODEL_ID, f"/v1/models/{MODEL_ID}: {one}")
        st, _, b = srv.request("GET", "/v1/models/gpt-4")
        check_error(st, b, 404, "model_not_found", what="/v1/models/gpt-4")

        # /v1/completions: OpenAI's shape, and the CLI's text for the same knobs
        body = {"model": MODEL_ID, "prompt": PROMPT, "max_tokens": 16, "steps": 8,
                "block_length": 8, "temperature": 0, "seed": 5}
        b = completion(srv, body)
        check(b["object"] == "text_completion" and b["id"].startswith("cmpl-"), f"{b}")
        check(b["model"] == MODEL_ID and isinstance(b["created"], int), f"{b}")
        ch = b["choices"]
        check(len(ch) == 1 and ch[0]["index"] == 0 and ch[0]["logprobs"] is None, f"{ch}")
        check(ch[0]["finish_reason"] in ("stop", "length"), f"{ch}")
        u = b["usage"]
        check(u["prompt_tokens"] > 0 and 0 < u["completion_tokens"] <= 16 and
              u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"], f"usage {u}")
        want = cli_text(cli, model, PROMPT, 16, 8)
        # the CLI's default block length is 32 (the whole 16 here), the request's 8
        b32 = completion(srv, dict(body, block_length=32))
        check(text_of(b32) == want, f"server {text_of(b32)!r} != CLI {want!r}")
        check(completion(srv, body)["choices"][0]["text"] == ch[0]["text"], "same request, other text")

        # sampling: a seed gives its text again, and the CLI's
        samp = dict(body, temperature=1.0, top_p=0.9, seed=11, block_length=32)
        t1 = text_of(completion(srv, samp))
        check(text_of(completion(srv, samp)) == t1, "same seed, other text")
        out = subprocess.run([cli, "-m", model, "-p", PROMPT, "-n", "16", "--steps", "8", "--seed",
                              "11", "--temp", "1", "--top-p", "0.9", "--no-live"],
                             capture_output=True, timeout=120, check=True).stdout.decode()[:-1]
        check(t1 == out, f"sampled: server {t1!r} != CLI {out!r}")

        # stop: the text ends before the stop sequence, finish_reason "stop"
        full = text_of(completion(srv, dict(body, max_tokens=32, steps=32)))
        words = full.split()
        stop = next((w for w in words[2:] if full.index(w) > 0), None)
        check(stop is not None, f"no word to stop at in {full!r}")
        b = completion(srv, dict(body, max_tokens=32, steps=32, stop=[stop, "\u2603\u2603"]))
        check(text_of(b) == full[:full.index(stop)], f"stop {stop!r}: {text_of(b)!r} of {full!r}")
        check(b["choices"][0]["finish_reason"] == "stop", f"{b['choices']}")

        # the prompt as token ids, and as a batch of one
        b = completion(srv, dict(body, prompt=[1, 200, 300, 400]))
        check(b["usage"]["prompt_tokens"] == 4, f"{b['usage']}")
        check(text_of(completion(srv, dict(body, prompt=[PROMPT]))) == text_of(completion(srv, body)),
              "a batch of one prompt differs from the prompt")

        # /v1/chat/completions: the chat template (the CLI's --chat), OpenAI's shape
        cb = {"model": MODEL_ID, "messages": [{"role": "user", "content": "Hello"}],
              "max_tokens": 16, "steps": 16}
        b = completion(srv, cb, "/v1/chat/completions")
        check(b["object"] == "chat.completion" and b["id"].startswith("chatcmpl-"), f"{b}")
        msg = b["choices"][0]["message"]
        check(msg["role"] == "assistant" and isinstance(msg["content"], str), f"{msg}")
        out = subprocess.run([cli, "-m", model, "-p", "Hello", "--chat", "-n", "16", "--steps",
                              "16", "--no-live"], capture_output=True, timeout=120,
                             check=True).stdout.decode()[:-1]
        check(msg["content"] == out, f"chat: server {msg['content']!r} != CLI --chat {out!r}")
        parts = dict(cb, messages=[{"role": "system", "content": [{"type": "text", "text": "Be "},
                                                                   {"type": "text", "text": "brief"}]},
                                   {"role": "user", "content": "Hello", "name": "ann"}])
        completion(srv, parts, "/v1/chat/completions")
        dev = dict(parts, messages=[dict(parts["messages"][0], role="developer"), parts["messages"][1]])
        check(text_of(completion(srv, dev, "/v1/chat/completions")) ==
              text_of(completion(srv, parts, "/v1/chat/completions")), "developer != system")

        # /v1/diffusion: its final text is the completion's
        c, r = srv.open_stream("/v1/diffusion", body)
        check(r.status == 200 and r.getheader("Content-Type").startswith("text/event-stream"),
              f"/v1/diffusion: {r.status} {r.getheader('Content-Type')}")
        evs = list(events(r))
        c.close()
        check(evs[-1] == "[DONE]" and evs[-2]["object"] == "diffusion.done", f"{evs[-2:]}")
        check(evs[-2]["text"] == text_of(completion(srv, body)), "diffusion text != completion text")

        # the page and its files
        for path, ctype in [("/", "text/html"), ("/page.js", "text/javascript"),
                            ("/page.css", "text/css")]:
            st, hd, data = srv.request("GET", path)
            check(st == 200 and hd["content-type"].startswith(ctype) and len(data) > 200,
                  f"GET {path}: {st} {hd.get('content-type')} {len(data)} bytes")
        st, hd, data = srv.request("GET", "/")
        check(b"/v1/diffusion" in srv.request("GET", "/page.js")[2], "page.js does not use /v1/diffusion")
        check(b"http://" not in data and b"https://" not in data, "the page loads something from afar")
        h = srv.health()
        check(h["busy"] == 0 and h["cancelled"] == 0 and h["completed"] == h["generations"], f"{h}")


# ------------------------------------------------------------------ stream

def case_stream(exe, model, cli):
    with Server(exe, model) as srv:
        body = {"prompt": PROMPT, "max_tokens": 24, "steps": 24, "block_length": 8, "seed": 2}
        whole = completion(srv, body)
        for usage in (False, True):
            c, r = srv.open_stream("/v1/completions",
                                   dict(body, stream=True, stream_options={"include_usage": usage}))
            check(r.status == 200 and r.getheader("Content-Type").startswith("text/event-stream"),
                  f"stream: {r.status}")
            evs = list(events(r))
            c.close()
            check(evs[-1] == "[DONE]", "no [DONE] at the end")
            evs = evs[:-1]
            if usage:
                check(evs[-1]["choices"] == [] and evs[-1]["usage"] == whole["usage"],
                      f"usage chunk {evs[-1]} vs {whole['usage']}")
                evs = evs[:-1]
            for e in evs:
                check(e["object"] == "text_completion" and e["id"] == evs[0]["id"], f"{e}")
                check(len(e["choices"]) == 1 and "usage" not in e, f"{e}")
            fins = [e["choices"][0]["finish_reason"] for e in evs]
            check(all(f is None for f in fins[:-1]) and fins[-1] == whole["choices"][0]["finish_reason"],
                  f"finish reasons {fins}")
            text = "".join(e["choices"][0]["text"] for e in evs)
            check(text == text_of(whole), f"streamed {text!r} != {text_of(whole)!r}")
            # blocks of 8: the text arrives in more than one piece
            check(sum(1 for e in evs if e["choices"][0]["text"]) >= 2, f"one piece only: {evs}")

        # chat: the role first, then content deltas that add up to the reply
        cb = {"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 16, "steps": 16,
              "block_length": 4}
        whole = completion(srv, cb, "/v1/chat/completions")
        c, r = srv.open_stream("/v1/chat/completions", dict(cb, stream=True))
        evs = list(events(r))
        c.close()
        check(evs[-1] == "[DONE]", "chat: no [DONE]")
        evs = evs[:-1]
        check(all(e["object"] == "chat.completion.chunk" for e in evs), "chat chunk objects")
        check(evs[0]["choices"][0]["delta"].get("role") == "assistant", f"first chunk {evs[0]}")
        check(all("role" not in e["choices"][0]["delta"] for e in evs[1:]), "role repeated")
        check(evs[-1]["choices"][0]["delta"] == {} and evs[-1]["choices"][0]["finish_reason"],
              f"last chunk {evs[-1]}")
        text = "".join(e["choices"][0]["delta"].get("content", "") for e in evs)
        check(text == text_of(whole), f"chat streamed {text!r} != {text_of(whole)!r}")

        # a stop sequence: the stream never sends it, not even in part
        full = text_of(completion(srv, dict(body, max_tokens=32, steps=32)))
        words = [w for w in full.split() if len(w) > 2 and full.index(w) > 0]
        check(words, f"nothing to stop at in {full!r}")
        stop = words[len(words) // 2]
        c, r = srv.open_stream("/v1/completions", dict(body, max_tokens=32, steps=32, stop=stop,
                                                       stream=True))
        evs = list(events(r))[:-1]
        c.close()
        text = "".join(e["choices"][0]["text"] for e in evs)
        check(text == full[:full.index(stop)], f"stop {stop!r}: streamed {text!r} of {full!r}")
        check(evs[-1]["choices"][0]["finish_reason"] == "stop", f"{evs[-1]}")

        # /v1/diffusion: every step's canvas, each consistent with the one before
        G, S = 24, 12
        c, r = srv.open_stream("/v1/diffusion", dict(body, max_tokens=G, steps=S))
        evs = list(events(r))
        c.close()
        check(evs[-1] == "[DONE]", "diffusion: no [DONE]")
        start, steps, done = evs[0], evs[1:-2], evs[-2]
        check(start["object"] == "diffusion.start" and start["gen_length"] == G, f"{start}")
        check(start["canvas_length"] == start["prompt_tokens"] + G and PROMPT in start["prompt"], f"{start}")
        mask = start["mask_id"]
        check(len(steps) == S and [e["step"] for e in steps] == list(range(1, S + 1)),
              f"steps {[e.get('step') for e in steps]}")
        prev = [mask] * G
        for e in steps:
            check(e["object"] == "diffusion.step" and len(e["tokens"]) == G and len(e["pieces"]) == G, f"{e}")
            masked = [i for i, t in enumerate(e["tokens"]) if t == mask]
            check(e["masked"] == masked and e["masked_count"] == len(masked), f"step {e['step']}: masked")
            check(all((p is None) == (i in masked) for i, p in enumerate(e["pieces"])), "pieces vs masks")
            fresh = [i for i in range(G) if prev[i] == mask and e["tokens"][i] != mask]
            check(e["new"] == fresh and e["committed"] == len(fresh) == G // S,
                  f"step {e['step']}: new {e['new']} committed {e['committed']}, wanted {fresh}")
            check(all(prev[i] == e["tokens"][i] for i in range(G) if prev[i] != mask),
                  "a committed token changed")
            check(e["committed_total"] == G - len(masked) and e["total_steps"] == S, f"{e}")
            prev = e["tokens"]
        check(steps[-1]["masked"] == [], "masks left after the last step")
        check(done["object"] == "diffusion.done" and done["steps"] == S, f"{done}")
        check(done["text"] == text_of(completion(srv, dict(body, max_tokens=G, steps=S))), "done text")
        check(done["usage"]["prompt_tokens"] == start["prompt_tokens"], f"{done['usage']}")
        # the KV cache, parallel decoding and early stop run too
        for knobs in ({"cache": "dual"}, {"cache": "prefix"}, {"threshold": 0.5},
                      {"early_stop": True}, {"remasking": "random", "seed": 4}):
            c, r = srv.open_stream("/v1/diffusion", dict(body, max_tokens=16, steps=16, **knobs))
            evs = list(events(r))
            c.close()
            check(r.status == 200 and evs[-2]["object"] == "diffusion.done" and
                  evs[-3]["masked"] == [], f"{knobs}: {evs[-3:]}")
            if "threshold" in knobs:
                check(len(evs) - 3 <= 16, f"threshold: {len(evs) - 3} steps")

    # --timeout is the idle time of a connection, not a limit on a stream that is running
    # (the steps before a block's text may take longer): the stream runs to its end, then
    # the idle connection is closed after the timeout
    with Server(exe, model, "--timeout", "1") as srv:
        c, r = srv.open_stream("/v1/completions", {"prompt": PROMPT, "max_tokens": 64, "steps": 64,
                                                   "block_length": 64, "stream": True})
        t0 = time.monotonic()
        evs = list(events(r))
        took = time.monotonic() - t0
        check(evs[-1] == "[DONE]" and evs[-2]["choices"][0]["finish_reason"], f"{evs[-2:]}")
        print(f"stream: a {took:.1f} s stream under --timeout 1")
        time.sleep(2.5)
        try:
            c.request("GET", "/health")
            closed = c.getresponse().status != 200
        except (ConnectionError, OSError):
            closed = True
        check(closed, "the idle connection outlived --timeout 1")


# ------------------------------------------------------------------ errors

BAD = [
    # (path, raw body, status, code, param)
    ("/v1/completions", "{bad json", 400, "invalid_json", None),
    ("/v1/completions", "", 400, "invalid_json", None),
    ("/v1/completions", "[1, 2]", 400, "invalid_type", None),
    ("/v1/completions", '{"prompt": "x", "prompt": "y"}', 400, "invalid_json", None),
    ("/v1/completions", '{"prompt": "a\\u0000b"}', 400, "invalid_json", None),
    ("/v1/completions", '{"max_tokens": 4}', 400, "missing_field", "prompt"),
    ("/v1/completions", '{"prompt": 5}', 400, "invalid_type", "prompt"),
    ("/v1/completions", '{"prompt": ["a", "b"]}', 400, "invalid_type", "prompt"),
    ("/v1/completions", '{"prompt": [1, -2]}', 400, "invalid_value", "prompt"),
    ("/v1/completions", '{"prompt": [1, 99999999]}', 400, "invalid_value", "prompt"),
    ("/v1/completions", '{"prompt": "x", "max_tokens": "4"}', 400, "invalid_type", "max_tokens"),
    ("/v1/completions", '{"prompt": "x", "max_tokens": 4.5}', 400, "invalid_type", "max_tokens"),
    ("/v1/completions", '{"prompt": "x", "max_tokens": 0}', 400, "invalid_value", "max_tokens"),
    ("/v1/completions", '{"prompt": "x", "max_tokens": 100000}', 400, "invalid_value", "max_tokens"),
    ("/v1/completions", '{"prompt": "x", "max_tokens": 4, "steps": 5}', 400, "invalid_value", "steps"),
    ("/v1/completions", '{"prompt": "x", "temperature": -1}', 400, "invalid_value", "temperature"),
    ("/v1/completions", '{"prompt": "x", "temperature": "hot"}', 400, "invalid_type", "temperature"),
    ("/v1/completions", '{"prompt": "x", "top_p": 0}', 400, "invalid_value", "top_p"),
    ("/v1/completions", '{"prompt": "x", "seed": -1}', 400, "invalid_value", "seed"),
    ("/v1/completions", '{"prompt": "x", "stream": "yes"}', 400, "invalid_type", "stream"),
    ("/v1/completions", '{"prompt": "x", "stop": 3}', 400, "invalid_type", "stop"),
    ("/v1/completions", '{"prompt": "x", "stop": ["a","b","c","d","e"]}', 400, "invalid_value", "stop"),
    ("/v1/completions", '{"prompt": "x", "stop": [""]}', 400, "invalid_value", "stop"),
    ("/v1/completions", '{"prompt": "x", "remasking": "best"}', 400, "invalid_value", "remasking"),
    ("/v1/completions", '{"prompt": "x", "cache": 1}', 400, "invalid_type", "cache"),
    ("/v1/completions", '{"prompt": "x", "threshold": 1.5}', 400, "invalid_value", "threshold"),
    ("/v1/completions", '{"prompt": "x", "early_stop": 1}', 400, "invalid_type", "early_stop"),
    ("/v1/completions", '{"prompt": "x", "n": 2}', 400, "invalid_value", "n"),
    ("/v1/completions", '{"prompt": "x", "logprobs": 3}', 400, "unsupported_parameter", "logprobs"),
    ("/v1/completions", '{"prompt": "x", "echo": true}', 400, "unsupported_parameter", "echo"),
    ("/v1/completions", '{"prompt": "x", "frequency_penalty": 1}', 400, "unsupported_parameter",
     "frequency_penalty"),
    ("/v1/completions", '{"prompt": "x", "messages": []}', 400, "unknown_parameter", "messages"),
    ("/v1/completions", '{"prompt": "x", "foo": 1}', 400, "unknown_parameter", "foo"),
    ("/v1/completions", '{"prompt": "x", "model": "gpt-4"}', 404, "model_not_found", "model"),
    ("/v1/completions", '{"prompt": "x", "model": 7}', 400, "invalid_type", "model"),
    ("/v1/completions", '{"prompt": "x", "max_tokens": 4, "remasking": "origin", "threshold": 0.9, '
     '"schedule": "timesteps"}', 400, "invalid_value", None),
    ("/v1/completions", json.dumps({"prompt": "God " * 400, "max_tokens": 4}), 400,
     "context_length_exceeded", "prompt"),
    ("/v1/completions", json.dumps({"prompt": "God " * 100, "max_tokens": 250}), 400,
     "context_length_exceeded", "prompt"),
    ("/v1/chat/completions", '{"prompt": "x"}', 400, "unknown_parameter", "prompt"),
    ("/v1/chat/completions", '{"messages": []}', 400, "invalid_value", "messages"),
    ("/v1/chat/completions", '{"messages": "hi"}', 400, "invalid_type", "messages"),
    ("/v1/chat/completions", '{"messages": [{"role": "tool", "content": "x"}]}', 400,
     "invalid_value", "messages[0].role"),
    ("/v1/chat/completions", '{"messages": [{"role": "user"}]}', 400, "invalid_type",
     "messages[0].content"),
    ("/v1/chat/completions", '{"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}',
     400, "invalid_value", "messages[0].content"),
    ("/v1/chat/completions", '{"messages": [{"role": "user", "content": "x", "tool_calls": []}]}',
     400, "unknown_parameter", "messages[0].tool_calls"),
    ("/v1/chat/completions", '{"messages": [{"role": "user", "content": "x"}], '
     '"response_format": {"type": "json_object"}}', 400, "unsupported_parameter", "response_format"),
    ("/v1/diffusion", '{"max_tokens": 4}', 400, "missing_field", "prompt"),
    ("/v1/diffusion", '{"prompt": "x", "messages": [{"role": "user", "content": "x"}]}', 400,
     "invalid_value", "prompt"),
]


def case_errors(exe, model, cli):
    with Server(exe, model, "--contexts", "2", "--max-body", "65536") as srv:
        # a long generation runs throughout; it must come out as it does alone
        long_body = {"prompt": PROMPT, "max_tokens": 64, "steps": 64, "seed": 9, "temperature": 0.7}
        alone = text_of(completion(srv, long_body))
        during = {}

        def run_long():
            during["b"] = srv.post("/v1/completions", long_body)
        t = threading.Thread(target=run_long)
        t.start()
        conn = srv.conn()   # one keep-alive connection for all the bad requests
        for path, raw, status, code, param in BAD:
            st, hd, b = srv.post(path, raw, conn=conn)
            check_error(st, b, status, code, param, what=f"{path} {raw[:60]}")
            check(hd["content-type"] == "application/json", f"{path}: {hd['content-type']}")
        # wrong paths and methods, a body too large, invalid UTF-8, not JSON at all
        st, _, b = srv.request("GET", "/v1/nothing", conn=conn)
        check_error(st, b, 404, "not_found", what="GET /v1/nothing")
        st, _, b = srv.request("GET", "/v1/completions", conn=conn)
        check_error(st, b, 405, "method_not_allowed", what="GET /v1/completions")
        st, _, b = srv.request("DELETE", "/health", conn=conn)
        check_error(st, b, 405, "method_not_allowed", what="DELETE /health")
        st, _, b = srv.post("/v1/completions", b'{"prompt": "\xff\xfe"}', conn=conn)
        check_error(st, b, 400, "invalid_json", what="invalid UTF-8")
        st, _, b = srv.post("/v1/completions", json.dumps({"prompt": "x" * 70000}))
        check_error(st, b, 413, "request_too_large", what="a body over --max-body")
        # ... also when it comes in chunks without a length
        c = srv.conn()
        c.putrequest("POST", "/v1/completions")
        c.putheader("Transfer-Encoding", "chunked")
        c.putheader("Content-Type", "application/json")
        c.endheaders()
        for piece in [b'{"prompt": "'] + [b"x" * 8192] * 10 + [b'"}']:
            c.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        c.send(b"0\r\n\r\n")
        r = c.getresponse()
        b = json.loads(r.read())
        c.close()
        check_error(r.status, b, 413, "request_too_large", what="a chunked body over --max-body")
        # a chunked body within the limit is fine
        c = srv.conn()
        c.request("POST", "/v1/completions", body=iter([b'{"prompt": "In the", ', b'"max_tokens": 2}']),
                  headers={"Content-Type": "application/json"}, encode_chunked=True)
        r = c.getresponse()
        check(r.status == 200 and json.loads(r.read())["choices"], "a chunked body")
        c.close()
        # clients that speak no HTTP (or another version, or TLS): closed, answered, or
        # left to time out, while everyone else is served
        socks = []
        for junk in [b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                     b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(64),
                     b"\x00\x01 not http \r\n\r\n"]:
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=0.5)
            s.sendall(junk)
            try:
                reply = s.recv(4096)
                check(reply == b"" or reply.startswith(b"HTTP/1.1 505"), f"{junk!r} got {reply[:80]!r}")
            except socket.timeout:
                pass
            socks.append(s)
        check(srv.health()["status"] == "ok", "health beside the junk")
        for s in socks:
            s.close()
        t.join(120)
        st, _, b = during["b"]
        check(st == 200 and text_of(b) == alone,
              f"the generation running beside the bad requests changed: {b} vs {alone!r}")
        h = srv.health()
        check(h["busy"] == 0 and h["client_errors"] >= len(BAD) + 6, f"{h}")


# ------------------------------------------------------------------ load

def case_load(exe, model, cli):
    N_REQ, CLIENTS = 200, 8
    with Server(exe, model, "--contexts", "2", "--queue", "16") as srv:
        kinds = [("/v1/completions", {"prompt": p, "max_tokens": 4, "steps": 4, "seed": s,
                                      "temperature": 0.9})
                 for p in ("In the beginning", "And the LORD") for s in (1, 2)]
        kinds.append(("/v1/chat/completions", {"messages": [{"role": "user", "content": "Hi"}],
                                               "max_tokens": 4, "steps": 2, "seed": 3,
                                               "temperature": 0.9}))
        want = [text_of(completion(srv, b, p)) for p, b in kinds]
        got = [None] * N_REQ
        errors = []
        t0 = time.monotonic()

        def client(k):
            conn = srv.conn()   # keep-alive: one connection per client
            for i in range(k, N_REQ, CLIENTS):
                path, body = kinds[i % len(kinds)]
                try:
                    st, _, b = srv.post(path, dict(body, user=f"req-{i}"), conn=conn)
                    got[i] = (st, b)
                except Exception as e:  # noqa: BLE001 - every failure is reported below
                    errors.append(f"request {i}: {e!r}")
                    conn.close()
                    conn = srv.conn()
            conn.close()
        threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
        elapsed = time.monotonic() - t0
        check(not errors, "; ".join(errors[:5]))
        for i, g in enumerate(got):
            check(g is not None, f"request {i} lost")
            st, b = g
            check(st == 200, f"request {i}: {st} {b}")
            check(text_of(b) == want[i % len(kinds)],
                  f"request {i}: {text_of(b)!r}, the same seed gave {want[i % len(kinds)]!r}")
        h = srv.health()
        n = N_REQ + len(kinds)
        check(h["generations"] == n and h["completed"] == n and h["cancelled"] == 0 and
              h["rejected"] == 0 and h["busy"] == 0 and h["waiting"] == 0, f"/health {h}")
        print(f"load: {N_REQ} requests from {CLIENTS} clients on 2 contexts in {elapsed:.2f} s")


# ------------------------------------------------------------------ cancel

def step_times(resp, n):
    """Reads the start event and n step events; returns the seconds between steps."""
    evs = events(resp)
    first = next(evs)
    check(first["object"] == "diffusion.start", f"{first}")
    stamps = []
    for _ in range(n):
        e = next(evs)
        check(e["object"] == "diffusion.step", f"{e}")
        stamps.append(time.monotonic())
    return [b - a for a, b in zip(stamps, stamps[1:])]


def case_cancel(exe, model, cli):
    long_body = {"prompt": PROMPT, "max_tokens": 200, "steps": 200, "block_length": 200}
    with Server(exe, model, "--contexts", "1") as srv:
        # 1. a stream whose client leaves after a few steps
        c, r = srv.open_stream("/v1/diffusion", long_body)
        gaps = step_times(r, 4)
        step = max(sorted(gaps)[len(gaps) // 2], 0.005)
        check(srv.health()["busy"] == 1, "the stream holds no context")
        hard_close(c)
        h, took = wait_for(lambda: (lambda h: h if h["busy"] == 0 else None)(srv.health()), 30,
                           "the stream's context freed")
        check(h["cancelled"] == 1 and h["completed"] == 0, f"/health {h}")
        # one step may be running when the client leaves, the next sees it gone
        check(took < 3 * step + 0.5, f"the context was freed {took:.3f} s after the client left "
                                     f"(a step takes {step:.3f} s)")
        print(f"cancel: stream freed in {took * 1e3:.0f} ms (a step: {step * 1e3:.0f} ms)")

        # 2. the same for an OpenAI stream, and for a plain request (no stream)
        c, r = srv.open_stream("/v1/completions", dict(long_body, stream=True))
        check(r.status == 200, f"{r.status}")
        wait_for(lambda: srv.health()["busy"] == 1, 30, "the completion stream began")
        time.sleep(0.2)
        hard_close(c)
        wait_for(lambda: srv.health()["busy"] == 0, 3 * step + 2, "the completion stream freed")
        c = srv.conn()
        c.request("POST", "/v1/completions", body=json.dumps(long_body),
                  headers={"Content-Type": "application/json"})
        wait_for(lambda: srv.health()["busy"] == 1, 30, "the plain request began")
        time.sleep(0.2)
        hard_close(c)
        wait_for(lambda: srv.health()["busy"] == 0, 3 * step + 2, "the plain request freed")
        h = srv.health()
        check(h["cancelled"] == 3 and h["completed"] == 0, f"/health {h}")

        # 3. a request waiting in the queue whose client leaves: out of the queue
        c, r = srv.open_stream("/v1/diffusion", long_body)
        step_times(r, 1)
        w = srv.conn()
        w.request("POST", "/v1/completions", body=json.dumps({"prompt": "x", "max_tokens": 2}),
                  headers={"Content-Type": "application/json"})
        wait_for(lambda: srv.health()["waiting"] == 1, 30, "the second request waits")
        hard_close(w)
        wait_for(lambda: srv.health()["waiting"] == 0, 2, "the waiter left the queue")
        hard_close(c)
        wait_for(lambda: srv.health()["busy"] == 0, 3 * step + 2, "the stream freed")

        # the one context serves the next request at once
        t0 = time.monotonic()
        b = completion(srv, {"prompt": PROMPT, "max_tokens": 4, "steps": 4})
        check(b["choices"][0]["finish_reason"] in ("stop", "length"), f"{b}")
        check(b["timings"]["queue_ms"] < 50, f"the next request waited {b['timings']['queue_ms']} ms")
        print(f"cancel: the next request served in {time.monotonic() - t0:.3f} s")
        h = srv.health()
        check(h["cancelled"] == 4 and h["completed"] == 1 and h["generations"] == 5, f"/health {h}")


# ------------------------------------------------------------------ queue

def case_queue(exe, model, cli):
    long_body = {"prompt": PROMPT, "max_tokens": 200, "steps": 200, "block_length": 200}
    with Server(exe, model, "--contexts", "1", "--queue", "1") as srv:
        c, r = srv.open_stream("/v1/diffusion", long_body)
        step_times(r, 1)
        waiter = {}

        def wait_in_queue():
            waiter["r"] = srv.post("/v1/completions", {"prompt": PROMPT, "max_tokens": 4, "steps": 4})
        t = threading.Thread(target=wait_in_queue)
        t.start()
        wait_for(lambda: srv.health()["waiting"] == 1, 30, "the second request waits")
        for path, body in [("/v1/completions", {"prompt": "x", "max_tokens": 2}),
                           ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}]}),
                           ("/v1/diffusion", {"prompt": "x"})]:
            t0 = time.monotonic()
            st, _, b = srv.post(path, body)
            check_error(st, b, 503, "server_overloaded", what=f"{path} beyond the queue")
            check(b["error"]["type"] == "server_error", f"{b}")
            check(time.monotonic() - t0 < 2, "the 503 was not prompt")
        # a bad request is still told what is wrong, not 503
        st, _, b = srv.post("/v1/completions", {"prompt": 1})
        check_error(st, b, 400, "invalid_type", "prompt", what="a bad request while full")
        check(srv.health()["rejected"] == 3, f"{srv.health()}")
        hard_close(c)
        t.join(60)
        st, _, b = waiter["r"]
        check(st == 200 and b["timings"]["queue_ms"] > 0, f"the waiter: {st} {b}")
        h = srv.health()
        check(h["busy"] == 0 and h["waiting"] == 0 and h["completed"] == 1 and h["cancelled"] == 1,
              f"/health {h}")


# ------------------------------------------------------------------ auth

def case_auth(exe, model, cli):
    key = "sk-test-0123456789"
    with Server(exe, model, "--api-key", key) as srv:
        good = {"Authorization": f"Bearer {key}"}
        for path, body in [("/v1/models", None), ("/v1/completions", {"prompt": "x", "max_tokens": 2}),
                           ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}],
                                                     "max_tokens": 2}),
                           ("/v1/diffusion", {"prompt": "x", "max_tokens": 2})]:
            method = "GET" if body is None else "POST"
            for bad in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {key}"},
                        {"Authorization": f"Bearer {key}x"}, {"Authorization": f"Bearer {key[:-1]}"}]:
                st, _, b = srv.request(method, path, body, headers=bad)
                check_error(st, b, 401, "invalid_api_key", what=f"{path} with {bad}")
            st, _, b = srv.request(method, path, body, headers=good)
            check(st == 200, f"{path} with the key: {st} {b}")
        for path in ["/health", "/", "/page.js"]:
            st, _, _ = srv.request("GET", path)
            check(st == 200, f"{path} without a key: {st}")
    env = dict(os.environ, DIFFLM_API_KEY="from-env")
    with Server(exe, model, env=env) as srv:
        check(srv.request("GET", "/v1/models")[0] == 401, "$DIFFLM_API_KEY is not required")
        check(srv.request("GET", "/v1/models", headers={"Authorization": "Bearer from-env"})[0] == 200,
              "$DIFFLM_API_KEY is not accepted")


# ------------------------------------------------------------------ shutdown

def case_shutdown(exe, model, cli):
    long_body = {"prompt": PROMPT, "max_tokens": 200, "steps": 200, "block_length": 200}
    srv = Server(exe, model, "--contexts", "2")
    try:
        c1, r1 = srv.open_stream("/v1/diffusion", long_body)
        step_times(r1, 1)
        c2, r2 = srv.open_stream("/v1/completions", dict(long_body, stream=True))
        wait_for(lambda: srv.health()["busy"] == 2, 30, "both streams began")
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        rest1 = list(events(r1))
        rest2 = list(events(r2))
        rc = srv.proc.wait(30)
        took = time.monotonic() - t0
        err = srv.proc.stderr.read().decode()
        check(rc == 0, f"exit status {rc} after SIGTERM: {err}")
        check("SIGTERM, shutting down" in err, f"stderr: {err!r}")
        for rest in (rest1, rest2):
            check(rest and rest[-1] == "[DONE]" and rest[-2]["error"]["code"] == "shutting_down",
                  f"the stream's end: {rest[-2:]}")
        check(took < 10, f"shutdown took {took:.1f} s")
        print(f"shutdown: two streams ended and the server exited in {took:.2f} s")
    finally:
        srv.kill()
    srv = Server(exe, model)
    check(srv.health()["status"] == "ok", "health")
    rc, err = srv.stop(signal.SIGINT)
    check(rc == 0 and "SIGINT" in err, f"SIGINT: {rc} {err!r}")


# ------------------------------------------------------------------ args

def case_args(exe, model, cli):
    def run(args):
        p = subprocess.run([exe] + args, capture_output=True, timeout=60)
        return p.returncode, p.stdout.decode(), p.stderr.decode()
    for args, needle in [(["--port", "80x"], "--port"), (["--port", "70000"], "--port"),
                         (["--contexts", "0"], "--contexts"), (["--queue", "-1"], "--queue"),
                         (["--threads", "x"], "--threads"), (["--bogus"], "unknown option"),
                         (["--api-key", ""], "--api-key"), (["--model"], "wants a value"),
                         (["stray"], "unexpected argument"), (["--max-body", "1"], "--max-body"),
                         (["--precision", "fp8"], "--precision wants exact or bf16"),
                         (["--pack-weights", "yes"], "--pack-weights wants auto, off or on")]:
        rc, out, err = run(args)
        check(rc == 2 and needle in err, f"{args}: exit {rc}, stderr {err!r}")
    rc, out, err = run(["-m", "/nonexistent.gguf", "--port", "0"])
    check(rc == 1 and "cannot load" in err, f"a missing model: {rc} {err!r}")
    rc, out, err = run(["--help"])
    check(rc == 0 and "usage: difflm-server" in out and "--api-key" in out, f"--help: {rc}")
    rc, out, err = run(["--version"])
    check(rc == 0 and out.startswith("difflm-server "), f"--version: {out!r}")
    with Server(exe, model) as srv:
        rc, out, err = run(["-m", model, "--port", str(srv.port)])
        check(rc == 1 and "cannot listen" in err, f"a port in use: {rc} {err!r}")
    # --precision reaches the contexts: their create-time log names the bf16 path
    srv = Server(exe, model, "--precision", "bf16", "-v")
    check(srv.health()["status"] == "ok", "health with --precision bf16")
    rc, err = srv.stop(signal.SIGINT)
    check(rc == 0 and "f32/f16/bf16 products: bf16 " in err, f"--precision bf16: {rc} {err[-400:]!r}")
    # --pack-weights off reaches them too: no packed copy is logged
    srv = Server(exe, model, "--pack-weights", "off", "-v")
    check(srv.health()["status"] == "ok", "health with --pack-weights off")
    rc, err = srv.stop(signal.SIGINT)
    check(rc == 0 and "the float weights packed once" not in err and "max canvas" in err,
          f"--pack-weights off: {rc} {err[-400:]!r}")
    rc, out, err = run(["-m", model, "--host", "no.such.host.invalid", "--port", "0"])
    check(rc == 1 and "--host" in err, f"a bad host: {rc} {err!r}")


CASES = {name[5:]: f for name, f in globals().items() if name.startswith("case_")}

if __name__ == "__main__":
    case, exe, model, cli = sys.argv[1:5]
    t0 = time.monotonic()
    CASES[case](exe, model, cli)
    print(f"{case}: ok in {time.monotonic() - t0:.2f} s")
