/**
 * Node micro-benchmarks of the gateway's own CPU work, on the real source (bundled from src/ with
 * esbuild, which wrangler already depends on):
 *   - the streaming parse path: src/sse/decoder.ts feeding src/providers/anthropic/stream.ts
 *     (MessagesStreamParser), in MB/s of SSE bytes, with a breakdown (TextDecoder alone, decoder
 *     alone) to show where the time goes;
 *   - tool injection on a 400 KB Claude-Code-shaped body: what runWithInjectedTools adds per request
 *     (anthropicInjection.prepare splicing the tools and tool_choice into the already-decoded body
 *     text), in ms per op; plus the body parse every bridged request pays, and the prompt-cache
 *     fingerprint (src/analytics/fingerprint.ts) each request's body gets in waitUntil;
 *   - the secret scan and redaction every recorded text goes through (src/redaction/redact.ts), in
 *     ms of CPU per MB: on ordinary code (the common case) and on text dense with secrets.
 *
 *   node bench/micro.mjs [--smoke]      prints JSON
 */
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { build } from "esbuild";
import { claudeCodeBody, injectedTools } from "./fixtures/claude-code-body.mjs";

const ROOT = resolve(import.meta.dirname, "..");
const OUT = join(ROOT, "bench/out");

/** Bundles the pieces of src/ under test into bench/out/micro-lib.mjs and imports it. */
export async function loadSource() {
  await mkdir(OUT, { recursive: true });
  const outfile = join(OUT, "micro-lib.mjs");
  await build({
    stdin: {
      contents: [
        'export { createSseDecoder } from "./src/sse/decoder";',
        'export { MessagesStreamParser } from "./src/providers/anthropic/stream";',
        'export { anthropicInjection } from "./src/providers/anthropic/injection";',
        'export { readJsonBody } from "./src/bridge/body";',
        'export { fingerprintRequest } from "./src/analytics/fingerprint";',
        'export { redactText, newRedactionState } from "./src/redaction/redact";',
        'export { DOCUMENT, NEAR_MISSES, SECRETS } from "./test/worker/secrets-corpus";',
      ].join("\n"),
      resolveDir: ROOT,
      loader: "ts",
    },
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    outfile,
    external: ["cloudflare:*"],
    logLevel: "error",
  });
  return import(`${outfile}?t=${Date.now()}`);
}

const sse = (name, data) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;

/**
 * One realistic Anthropic stream: thinking (with signature), a long text answer, a tool_use whose
 * input arrives as input_json_delta pieces, pings, final usage. `scale` multiplies the delta counts.
 */
export function anthropicStream(scale, { textOnly = false } = {}) {
  const parts = [
    sse("message_start", {
      type: "message_start",
      message: {
        id: "msg_01Micro",
        type: "message",
        role: "assistant",
        model: "claude-sonnet-4-5-20250929",
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: 2048,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 40960,
          output_tokens: 1,
        },
      },
    }),
    sse("content_block_start", {
      type: "content_block_start",
      index: 0,
      content_block: { type: "thinking", thinking: "" },
    }),
  ];
  for (let i = 0; i < (textOnly ? 0 : 200 * scale); i++) {
    parts.push(
      sse("content_block_delta", {
        type: "content_block_delta",
        index: 0,
        delta: { type: "thinking_delta", thinking: `step ${i}: the relay must not buffer — naïve ` },
      }),
    );
  }
  parts.push(
    sse("content_block_delta", {
      type: "content_block_delta",
      index: 0,
      delta: { type: "signature_delta", signature: "EqQBCgIYAhIM" },
    }),
    sse("content_block_stop", { type: "content_block_stop", index: 0 }),
    sse("content_block_start", {
      type: "content_block_start",
      index: 1,
      content_block: { type: "text", text: "" },
    }),
  );
  const words = [
    "The ",
    "gateway ",
    "relays ",
    "every ",
    "byte ",
    "untouched; ",
    "café ",
    "→ ",
    "ok. ",
    "🌍 ",
  ];
  for (let i = 0; i < (textOnly ? 2400 : 2000) * scale; i++) {
    if (i % 500 === 0) parts.push(sse("ping", { type: "ping" }));
    parts.push(
      sse("content_block_delta", {
        type: "content_block_delta",
        index: 1,
        delta: { type: "text_delta", text: words[i % words.length] + words[(i * 7) % words.length] },
      }),
    );
  }
  parts.push(
    sse("content_block_stop", { type: "content_block_stop", index: 1 }),
    sse("content_block_start", {
      type: "content_block_start",
      index: 2,
      content_block: { type: "tool_use", id: "toolu_01Micro", name: "Edit", input: {} },
    }),
  );
  for (let i = 0; i < (textOnly ? 0 : 200 * scale); i++) {
    parts.push(
      sse("content_block_delta", {
        type: "content_block_delta",
        index: 2,
        delta: {
          type: "input_json_delta",
          partial_json: i === 0 ? '{"file_path": "/a.ts", "new_string": "' : `line ${i} `,
        },
      }),
    );
  }
  parts.push(
    sse("content_block_delta", {
      type: "content_block_delta",
      index: 2,
      delta: { type: "input_json_delta", partial_json: '"}' },
    }),
    sse("content_block_stop", { type: "content_block_stop", index: 2 }),
    sse("message_delta", {
      type: "message_delta",
      delta: { stop_reason: "tool_use", stop_sequence: null },
      usage: { output_tokens: 4242 },
    }),
    sse("message_stop", { type: "message_stop" }),
  );
  return parts;
}

export function chunked(bytes, size) {
  const chunks = [];
  for (let offset = 0; offset < bytes.length; offset += size)
    chunks.push(bytes.subarray(offset, offset + size));
  return chunks;
}

/**
 * Runs `op` in rounds of about 100 ms for about `ms` (after a warm-up) and returns the median time
 * per op, both in wall-clock and in this process's CPU time. CPU time is what the report uses: the
 * machine is shared (other test suites run on it), and CPU time is far less disturbed by that than
 * wall-clock time. It includes GC helper threads, so it errs on the slow side.
 */
export async function measure(op, { ms, warmupMs }) {
  const warmEnd = performance.now() + warmupMs;
  while (performance.now() < warmEnd) await op();
  const wall = [];
  const cpu = [];
  const end = performance.now() + ms;
  while (performance.now() < end || wall.length < 5) {
    const roundEnd = performance.now() + Math.min(100, ms / 5);
    const cpuStart = process.cpuUsage();
    const wallStart = performance.now();
    let ops = 0;
    do {
      await op();
      ops++;
    } while (performance.now() < roundEnd);
    const used = process.cpuUsage(cpuStart);
    wall.push((performance.now() - wallStart) / ops);
    cpu.push((used.user + used.system) / 1000 / ops);
  }
  return { wallMs: median(wall), cpuMs: median(cpu) };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function runMicro({ smoke = false } = {}) {
  const src = await loadSource();
  const timing = smoke ? { ms: 150, warmupMs: 50 } : { ms: 2500, warmupMs: 700 };

  // ---- SSE decoder + Anthropic usage extractor ----
  const events = anthropicStream(smoke ? 1 : 4);
  const streamBytes = new TextEncoder().encode(events.join(""));
  const byEvent = events.map((e) => new TextEncoder().encode(e));
  const counts = { usage: 0, tools: 0, thoughts: 0 };
  const interception = {
    recordTokenUsage: () => counts.usage++,
    recordToolUsage: () => counts.tools++,
    recordThought: () => counts.thoughts++,
  };
  const extract = (chunks) => () => {
    const parser = new src.MessagesStreamParser(interception);
    const decoder = src.createSseDecoder((event) => parser.onEvent(event));
    for (const chunk of chunks) decoder.push(chunk);
    decoder.end();
    parser.finish();
  };
  const decodeOnly = (chunks) => () => {
    const decoder = src.createSseDecoder(() => {});
    for (const chunk of chunks) decoder.push(chunk);
    decoder.end();
  };
  const textOnly = (chunks) => () => {
    const text = new TextDecoder();
    for (const chunk of chunks) text.decode(chunk, { stream: true });
    text.decode();
  };
  // Correctness first: one stream gives one usage, one tool call, one thought.
  extract(chunked(streamBytes, 16384))();
  if (counts.usage !== 1 || counts.tools !== 1 || counts.thoughts !== 1) {
    throw new Error(`extractor saw ${JSON.stringify(counts)}, expected one of each`);
  }
  const mbps = async (op) => {
    const { wallMs, cpuMs } = await measure(op, timing);
    return {
      cpu: streamBytes.length / 1e6 / (cpuMs / 1000),
      wall: streamBytes.length / 1e6 / (wallMs / 1000),
    };
  };
  const chunks16k = chunked(streamBytes, 16384);
  const sse = {
    streamBytes: streamBytes.length,
    events: events.length,
    extract16k: await mbps(extract(chunks16k)),
    extractPerEvent: await mbps(extract(byEvent)),
    decoder16k: await mbps(decodeOnly(chunks16k)),
    decoderPerEvent: await mbps(decodeOnly(byEvent)),
    textDecoder16k: await mbps(textOnly(chunks16k)),
    extractTextOnly16k: await (async () => {
      const text = new TextEncoder().encode(anthropicStream(smoke ? 1 : 4, { textOnly: true }).join(""));
      const { wallMs, cpuMs } = await measure(extract(chunked(text, 16384)), timing);
      return { cpu: text.length / 1e6 / (cpuMs / 1000), wall: text.length / 1e6 / (wallMs / 1000) };
    })(),
  };

  // ---- Tool injection on a Claude-Code-shaped body ----
  const bodyText = claudeCodeBody(smoke ? 64 * 1024 : 400 * 1024);
  const bodyBytes = new TextEncoder().encode(bodyText);
  const json = JSON.parse(bodyText);
  const tools = injectedTools(12);
  const prepared = src.anthropicInjection.prepare(bodyText, json, tools);
  const check = JSON.parse(prepared);
  if (
    check.tools.length !== json.tools.length + tools.length ||
    check.tool_choice?.disable_parallel_tool_use !== true
  ) {
    throw new Error("injection did not add the tools and tool_choice");
  }
  if (!prepared.startsWith(bodyText.slice(0, bodyText.indexOf('],"messages"')))) {
    throw new Error("injection changed bytes before the tools array");
  }
  // What runWithInjectedTools adds per request: the splice on the text the body parse already
  // decoded (the result goes to fetch as a string; the runtime encodes it natively).
  const injectOp = () => src.anthropicInjection.prepare(bodyText, json, tools);
  const parseOp = async () => {
    const request = new Request("http://gateway/anthropic/v1/messages", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: bodyBytes,
    });
    const result = await src.readJsonBody(request);
    if (!result.ok) throw new Error(result.message);
  };
  const inject = await measure(injectOp, timing);
  const injection = {
    bodyBytes: bodyBytes.length,
    injectedTools: tools.length,
    inject,
    parse: await measure(parseOp, timing),
    fingerprint: await measure(() => {
      if (!src.fingerprintRequest("messages", bodyText)) throw new Error("no fingerprint");
    }, timing),
  };

  // ---- Secret scan + redaction (every recorded text, in waitUntil) ----
  const MB = 1024 * 1024;
  const fill = (piece) => {
    let text = "";
    while (text.length < MB) text += piece;
    return text.slice(0, MB);
  };
  // Ordinary code and prose with near-misses (UUIDs, SHAs, base64) and no secret; then the fake
  // secrets corpus repeated (a .env, PEM keys, tokens: ~17 secrets every 6 KB).
  const ordinary = fill(`${src.NEAR_MISSES}\n${bodyText.slice(0, 64 * 1024)}\n`);
  const dense = fill(`${src.DOCUMENT}\n`);
  const key = "bench-redaction-key-0123456789";
  const leaks = (out) => Object.values(src.SECRETS).some((secret) => out.includes(secret.value));
  if (leaks(await src.redactText(dense, key, src.newRedactionState())))
    throw new Error("redaction leaked a secret");
  const scanOp = (text) => () => src.redactText(text, key, src.newRedactionState());
  const perMb = async (text) => {
    const { wallMs, cpuMs } = await measure(scanOp(text), timing);
    return { cpuMs: cpuMs / (text.length / MB), wallMs: wallMs / (text.length / MB) };
  };
  const redaction = { ordinary: await perMb(ordinary), dense: await perMb(dense) };
  return { sse, injection, redaction };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await runMicro({ smoke: process.argv.includes("--smoke") }), null, 2));
}
