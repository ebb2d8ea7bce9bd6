// The live page in a real browser: headless Chromium driven by playwright-core types a
// prompt, starts, waits for the canvas to complete, and checks what the page shows.
// usage: node page_test.mjs NODE_MODULES_DIR BASE_URL CHROMIUM
import { createRequire } from "node:module";
import path from "node:path";

const [modules, base, chromiumPath] = process.argv.slice(2);
const require = createRequire(path.join(modules, "noop.js"));
const { chromium } = require("playwright-core");

function check(cond, msg) {
  if (!cond) throw new Error("check failed: " + msg);
}

const browser = await chromium.launch({
  executablePath: chromiumPath, headless: true,
  // no sandbox: CI runs as root, where Chromium's sandbox refuses to start
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
try {
  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  page.on("console", (m) => { if (m.type() === "error") problems.push("console: " + m.text()); });
  // every request the page makes stays on this server (no third-party assets)
  const foreign = [];
  page.on("request", (r) => { if (!r.url().startsWith(base)) foreign.push(r.url()); });

  await page.goto(base + "/");
  await page.waitForFunction(() => document.getElementById("model").textContent.trim() !== "");
  const model = (await page.textContent("#model")).trim();
  check(model === "difflm-default", `model shown: '${model}'`);

  const GEN = 24, STEPS = 12;
  await page.fill("#prompt", "In the beginning God created");
  await page.fill("#max_tokens", String(GEN));
  await page.fill("#steps", String(STEPS));
  await page.fill("#block_length", "8");
  await page.fill("#seed", "3");

  await page.click("#start");
  await page.waitForSelector("#canvas[data-state=done]", { timeout: 60000 });

  const cells = await page.$$eval("#canvas .cell:not(.prompt)", (els) => els.map((e) => ({
    text: e.textContent, cls: e.className })));
  check(cells.length === GEN, `${cells.length} generated cells, wanted ${GEN}`);
  check(cells.every((c) => !c.cls.includes("masked") && c.text !== "\u2591"), "a masked cell is left");
  const text = await page.textContent("#text");
  check(text.trim().length > 0, "the final text is empty");
  const status = await page.textContent("#status");
  check(new RegExp(`done: ${STEPS} steps`).test(status), `status '${status}'`);
  const prompt = await page.textContent("#canvas .cell.prompt");
  check(prompt.includes("In the beginning God created"), `prompt cell '${prompt}'`);

  // The page drew the steps one by one: a bar per step with what it committed
  // (GEN / STEPS = 2 tokens a step) and what was left masked; the last step's tokens
  // are the highlighted ones.
  const bars = await page.$$eval("#history .bar", (els) => els.map((e) => ({
    step: Number(e.dataset.step), committed: Number(e.dataset.committed),
    masked: Number(e.dataset.masked) })));
  check(bars.length === STEPS, `${bars.length} bars for ${STEPS} steps`);
  bars.forEach((b, i) => {
    check(b.step === i + 1 && b.committed === GEN / STEPS && b.masked === GEN - (i + 1) * (GEN / STEPS),
          `bar ${i}: ${JSON.stringify(b)}`);
  });
  const fresh = cells.filter((c) => c.cls.includes("fresh")).length;
  check(fresh === GEN / STEPS, `${fresh} cells highlighted after the last step`);
  // The same request from the API gives the same text.
  const api = await page.evaluate(async (b) => {
    const r = await fetch("/v1/completions", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(b) });
    return (await r.json()).choices[0].text;
  }, { prompt: "In the beginning God created", max_tokens: GEN, steps: STEPS, block_length: 8, seed: 3 });
  check(api === text, `page text ${JSON.stringify(text)} != API text ${JSON.stringify(api)}`);

  // Stop: a long run stopped from the page frees the server's context.
  await page.fill("#max_tokens", "200");
  await page.fill("#steps", "200");
  await page.fill("#block_length", "200");
  await page.click("#start");
  await page.waitForFunction(() => Number(document.getElementById("canvas").dataset.step) >= 2);
  await page.click("#stop");
  await page.waitForSelector("#canvas[data-state=stopped]");
  const freed = await page.evaluate(async () => {
    for (let i = 0; i < 200; i++) {
      const h = await (await fetch("/health")).json();
      if (h.busy === 0) return h;
      await new Promise((r) => setTimeout(r, 25));
    }
    return null;
  });
  check(freed && freed.cancelled >= 1, "the stopped generation still holds its context: " + JSON.stringify(freed));

  check(problems.length === 0, problems.join("; "));
  check(foreign.length === 0, "requests outside the server: " + foreign.join(", "));
  console.log(`page ok: ${STEPS} steps drawn, text ${JSON.stringify(text)}`);
} finally {
  await browser.close();
}
