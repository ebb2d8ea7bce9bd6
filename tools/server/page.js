// The live page: sends the form to POST /v1/diffusion and draws every step's canvas
// from the event stream (fetch + a reader: EventSource cannot POST). No dependencies.
"use strict";

const $ = (id) => document.getElementById(id);
const MASK = "\u2591";
let controller = null;

function show(piece) {
  // one cell per token: line breaks and tabs drawn, so the grid keeps its rows
  return piece.replace(/\n/g, "\u21b5").replace(/\t/g, "\u21e5");
}

function body() {
  const b = {};
  const text = $("prompt").value;
  if ($("chat").checked) b.messages = [{ role: "user", content: text }];
  else b.prompt = text;
  for (const k of ["max_tokens", "steps", "block_length", "seed"]) {
    if ($(k).value !== "") b[k] = parseInt($(k).value, 10);
  }
  for (const k of ["temperature", "top_p", "threshold"]) {
    if ($(k).value !== "") b[k] = parseFloat($(k).value);
  }
  b.remasking = $("remasking").value;
  b.cache = $("cache").value;
  b.early_stop = $("early_stop").checked;
  return b;
}

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("api_key").value;
  if (key) h.Authorization = "Bearer " + key;
  return h;
}

function setStatus(text, error) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

let cells = [];
let maxCommitted = 1;

// One bar per step, as tall as the tokens it committed (with its numbers as data-*).
function addBar(ev) {
  const bar = document.createElement("span");
  bar.className = "bar";
  bar.dataset.step = ev.step;
  bar.dataset.committed = ev.committed;
  bar.dataset.masked = ev.masked_count;
  bar.title = `step ${ev.step}: +${ev.committed}, ${ev.masked_count} masked`;
  $("history").appendChild(bar);
  maxCommitted = Math.max(maxCommitted, ev.committed);
  for (const b of $("history").children) {
    b.style.height = `${(100 * Number(b.dataset.committed)) / maxCommitted}%`;
  }
}

function onStart(ev) {
  const canvas = $("canvas");
  canvas.textContent = "";
  const p = document.createElement("span");
  p.className = "cell prompt";
  p.textContent = show(ev.prompt);
  canvas.appendChild(p);
  cells = [];
  for (let i = 0; i < ev.gen_length; i++) {
    const c = document.createElement("span");
    c.className = "cell masked";
    c.textContent = MASK;
    canvas.appendChild(c);
    cells.push(c);
  }
  canvas.dataset.state = "running";
  canvas.dataset.step = "0";
  $("history").textContent = "";
  maxCommitted = 1;
  setStatus(`step 0 / ${ev.total_steps} \u00b7 ${ev.gen_length} masked`);
}

function onStep(ev) {
  const fresh = new Set(ev.new);
  for (let i = 0; i < cells.length; i++) {
    const masked = ev.pieces[i] === null;
    cells[i].textContent = masked ? MASK : show(ev.pieces[i]);
    cells[i].className = "cell" + (masked ? " masked" : fresh.has(i) ? " fresh" : "");
  }
  $("canvas").dataset.step = String(ev.step);
  addBar(ev);
  setStatus(`step ${ev.step} / ${ev.total_steps} \u00b7 committed ${ev.committed_total} / ` +
            `${cells.length} (+${ev.committed}) \u00b7 masked ${ev.masked_count}`);
}

function onDone(ev) {
  $("text").textContent = ev.text;
  $("canvas").dataset.state = "done";
  setStatus(`done: ${ev.steps} steps, finish_reason ${ev.finish_reason}, ` +
            `${ev.usage.completion_tokens} tokens, ${ev.timings.generation_ms.toFixed(0)} ms`);
}

function onEvent(data) {
  if (data === "[DONE]") return;
  const ev = JSON.parse(data);
  if (ev.error) throw new Error(ev.error.message);
  if (ev.object === "diffusion.start") onStart(ev);
  else if (ev.object === "diffusion.step") onStep(ev);
  else if (ev.object === "diffusion.done") onDone(ev);
}

async function run() {
  controller = new AbortController();
  $("start").disabled = true;
  $("stop").disabled = false;
  $("text").textContent = "";
  $("canvas").dataset.state = "starting";
  setStatus("waiting for a context\u2026");
  try {
    const res = await fetch("/v1/diffusion", {
      method: "POST", headers: headers(), body: JSON.stringify(body()),
      signal: controller.signal,
    });
    if (!res.ok) {
      const err = await res.json().catch(() => ({ error: { message: res.statusText } }));
      throw new Error(`${res.status}: ${err.error.message}`);
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let end;
      while ((end = buf.indexOf("\n\n")) >= 0) {
        const event = buf.slice(0, end);
        buf = buf.slice(end + 2);
        for (const line of event.split("\n")) {
          if (line.startsWith("data: ")) onEvent(line.slice(6));
        }
      }
    }
    if ($("canvas").dataset.state !== "done") throw new Error("the stream ended early");
  } catch (e) {
    $("canvas").dataset.state = e.name === "AbortError" ? "stopped" : "error";
    setStatus(e.name === "AbortError" ? "stopped" : "error: " + e.message, e.name !== "AbortError");
  } finally {
    $("start").disabled = false;
    $("stop").disabled = true;
    controller = null;
  }
}

$("form").addEventListener("submit", (e) => { e.preventDefault(); run(); });
$("stop").addEventListener("click", () => { if (controller) controller.abort(); });

fetch("/v1/models", { headers: headers() })
  .then((r) => r.json())
  .then((m) => { $("model").textContent = m.data[0].id; })
  .catch(() => {});
