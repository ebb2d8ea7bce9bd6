// The official OpenAI client (npm's `openai`) against difflm-server: the model list,
// completions and chat completions, streamed and not, and its error class for a 4xx.
// usage: node openai_test.mjs NODE_MODULES_DIR BASE_URL API_KEY
import { createRequire } from "node:module";
import path from "node:path";

const [modules, base, apiKey] = process.argv.slice(2);
const require = createRequire(path.join(modules, "noop.js"));
const OpenAI = require("openai").default ?? require("openai");

function check(cond, msg) {
  if (!cond) throw new Error("check failed: " + msg);
}

const client = new OpenAI({ baseURL: base + "/v1", apiKey, maxRetries: 0 });
const models = await client.models.list();
const ids = models.data.map((m) => m.id);
check(ids.length === 1 && ids[0] === "difflm-default", `models ${JSON.stringify(ids)}`);
const model = ids[0];

const knobs = { max_tokens: 16, seed: 7, temperature: 0.8 };
const c = await client.completions.create({ model, prompt: "In the beginning", ...knobs, steps: 8 });
check(c.object === "text_completion" && typeof c.choices[0].text === "string", JSON.stringify(c));
check(c.usage.completion_tokens > 0, JSON.stringify(c.usage));
const again = await client.completions.create({ model, prompt: "In the beginning", ...knobs, steps: 8 });
check(again.choices[0].text === c.choices[0].text, "same seed, other text");

const stream = await client.completions.create({ model, prompt: "In the beginning", ...knobs,
  steps: 8, stream: true });
let streamed = "", chunks = 0, finish = null;
for await (const chunk of stream) {
  streamed += chunk.choices[0].text;
  finish = chunk.choices[0].finish_reason ?? finish;
  chunks++;
}
check(streamed === c.choices[0].text, `streamed ${JSON.stringify(streamed)} != ${JSON.stringify(c.choices[0].text)}`);
check(chunks >= 2 && finish === c.choices[0].finish_reason, `${chunks} chunks, finish ${finish}`);

const messages = [{ role: "system", content: "You are brief." }, { role: "user", content: "Hello" }];
const chat = await client.chat.completions.create({ model, messages, ...knobs });
const reply = chat.choices[0].message;
check(chat.object === "chat.completion" && reply.role === "assistant", JSON.stringify(chat));
const cs = await client.chat.completions.create({ model, messages, ...knobs, stream: true,
  stream_options: { include_usage: true } });
let chatText = "", usage = null;
for await (const chunk of cs) {
  if (chunk.choices.length) chatText += chunk.choices[0].delta.content ?? "";
  if (chunk.usage) usage = chunk.usage;
}
check(chatText === reply.content, `chat streamed ${JSON.stringify(chatText)} != ${JSON.stringify(reply.content)}`);
check(usage && usage.total_tokens === chat.usage.total_tokens, `usage ${JSON.stringify(usage)}`);

// errors come back as the client's error classes, with OpenAI's fields
try {
  await client.completions.create({ model: "gpt-4", prompt: "x" });
  check(false, "an unknown model was accepted");
} catch (e) {
  check(e instanceof OpenAI.NotFoundError && e.status === 404 && e.code === "model_not_found",
        `unknown model: ${e}`);
}
try {
  await client.completions.create({ model, prompt: "x", max_tokens: 100000 });
  check(false, "max_tokens 100000 was accepted");
} catch (e) {
  check(e instanceof OpenAI.BadRequestError && e.param === "max_tokens", `bad max_tokens: ${e}`);
}
const wrongKey = new OpenAI({ baseURL: base + "/v1", apiKey: "wrong", maxRetries: 0 });
try {
  await wrongKey.models.list();
  check(false, "a wrong key was accepted");
} catch (e) {
  check(e instanceof OpenAI.AuthenticationError && e.status === 401, `wrong key: ${e}`);
}
console.log(`openai ok: ${JSON.stringify(c.choices[0].text)} / ${JSON.stringify(reply.content)}`);
