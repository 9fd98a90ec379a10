/**
 * In-process CPU per request: the real gateway (src/index.ts bundled with esbuild) answering
 * requests in this Node process, against an in-memory fake upstream (global fetch replaced), with
 * its bindings stubbed: D1 answers the key lookup, the RECORDS queue structured-clones what it is
 * sent (what a queue send serializes), METRICS and the log line are kept or dropped by mode. Beside
 * it, the same fake upstream returned natively and relayed through a pull-based JavaScript stream
 * (bench/passthrough-worker's two modes), so the gateway's own CPU shows apart from the relay's.
 *
 * Node's web streams and Response are not workerd's (they are JavaScript here, C++ there), so the
 * relay figures are higher than in workerd; the gateway-minus-relay differences are the signal.
 * Each request's waitUntil work (queue sends, the cache fingerprint) is awaited and counted.
 *
 * Two more gateway modes tell its optional work apart: `unredacted` records content without the
 * secret scan (RECORD_CONTENT=full), and `nofingerprint` is a second bundle whose prompt-cache
 * fingerprint call (src/analytics/observe.ts) is a no-op. The gateway minus each is what redaction
 * and the cache fingerprint cost per request.
 *
 *   node bench/request-cpu.mjs [--smoke]                     prints JSON
 *   node --cpu-prof bench/request-cpu.mjs --only gateway     a profile of the gateway alone
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { build } from "esbuild";
import { claudeCodeBody } from "./fixtures/claude-code-body.mjs";

const ROOT = resolve(import.meta.dirname, "..");
const OUT = join(ROOT, "bench/out");
const UPSTREAM = "http://upstream.bench.invalid";
const PROVIDER_KEY = "sk-ant-bench-UPSTREAM-KEY-000000000000";
const GATEWAY_KEY = `aib_${"b".repeat(43)}`;

/** The gateway bundle; with `withoutFingerprint`, observeCachePrefix (the fingerprint's one call) does nothing. */
async function loadGateway({ withoutFingerprint = false } = {}) {
  await mkdir(OUT, { recursive: true });
  const outfile = join(OUT, withoutFingerprint ? "request-cpu-nofingerprint.mjs" : "request-cpu-gateway.mjs");
  await build({
    entryPoints: [join(ROOT, "src/index.ts")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    conditions: ["workerd", "worker", "browser", "import"],
    target: "es2022",
    outfile,
    external: ["node:*"],
    // Workers-only modules (the limiter's DurableObject base class): stand-ins, never called here.
    plugins: [
      {
        name: "cloudflare-stubs",
        setup(b) {
          b.onResolve({ filter: /^cloudflare:/ }, (args) => ({ path: args.path, namespace: "cf-stub" }));
          b.onLoad({ filter: /.*/, namespace: "cf-stub" }, () => ({
            contents:
              "export class DurableObject { constructor(ctx, env) { this.ctx = ctx; this.env = env; } }\n" +
              "export class WorkerEntrypoint {}\nexport const env = {};",
            loader: "js",
          }));
          if (!withoutFingerprint) return;
          b.onResolve({ filter: /\/analytics\/observe$/ }, (args) => ({
            path: args.path,
            namespace: "no-fp",
          }));
          b.onLoad({ filter: /.*/, namespace: "no-fp" }, () => ({
            contents: "export function observeCachePrefix() {}",
            loader: "js",
          }));
        },
      },
    ],
    logLevel: "error",
  });
  return (await import(`${outfile}?t=${Date.now()}`)).default;
}

const sse = (name, data) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;

/** Upstream answers as lists of chunks, one SSE event per chunk (as the bench's upstream writes). */
function chatEvents(deltas) {
  const usage = {
    input_tokens: 2048,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 40960,
    output_tokens: 1,
  };
  const out = [
    sse("message_start", {
      type: "message_start",
      message: {
        id: "msg_01Cpu",
        type: "message",
        role: "assistant",
        model: "claude-sonnet-4-5",
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage,
      },
    }) +
      sse("content_block_start", {
        type: "content_block_start",
        index: 0,
        content_block: { type: "text", text: "" },
      }),
  ];
  for (let i = 0; i < deltas; i++)
    out.push(
      sse("content_block_delta", {
        type: "content_block_delta",
        index: 0,
        delta: { type: "text_delta", text: "word " },
      }),
    );
  out.push(
    sse("content_block_stop", { type: "content_block_stop", index: 0 }) +
      sse("message_delta", {
        type: "message_delta",
        delta: { stop_reason: "end_turn", stop_sequence: null },
        usage: { output_tokens: deltas },
      }) +
      sse("message_stop", { type: "message_stop" }),
  );
  return out.map((e) => new TextEncoder().encode(e));
}

function turnEvents(events) {
  const thinking = Math.round(events * 0.15);
  const input = Math.round(events * 0.15);
  const text = events - thinking - input;
  const delta = (index, d) => sse("content_block_delta", { type: "content_block_delta", index, delta: d });
  const out = [chatEvents(0)[0]].map((b) => new TextDecoder().decode(b));
  out[0] = out[0].replace('"type":"text","text":""', '"type":"thinking","thinking":"","signature":""');
  for (let i = 0; i < thinking; i++)
    out.push(delta(0, { type: "thinking_delta", thinking: `Step ${i}: check the relay, then ` }));
  out.push(
    delta(0, { type: "signature_delta", signature: "EqQBCgIYAhIM" }),
    sse("content_block_stop", { type: "content_block_stop", index: 0 }),
  );
  out.push(
    sse("content_block_start", {
      type: "content_block_start",
      index: 1,
      content_block: { type: "text", text: "" },
    }),
  );
  for (let i = 0; i < text; i++) out.push(delta(1, { type: "text_delta", text: "word " }));
  out.push(sse("content_block_stop", { type: "content_block_stop", index: 1 }));
  out.push(
    sse("content_block_start", {
      type: "content_block_start",
      index: 2,
      content_block: { type: "tool_use", id: "toolu_01", name: "Edit", input: {} },
    }),
  );
  for (let i = 0; i < input; i++)
    out.push(delta(2, { type: "input_json_delta", partial_json: `line ${i}\\n  \\"q\\" ` }));
  out.push(
    sse("content_block_stop", { type: "content_block_stop", index: 2 }) +
      sse("message_delta", {
        type: "message_delta",
        delta: { stop_reason: "tool_use", stop_sequence: null },
        usage: { output_tokens: events * 3 },
      }) +
      sse("message_stop", { type: "message_stop" }),
  );
  return out.map((e) => new TextEncoder().encode(e));
}

let answer = [];
async function fakeFetch(input, init) {
  const request = input instanceof Request ? input : new Request(input, init);
  await request.arrayBuffer();
  let i = 0;
  const body = new ReadableStream({
    pull(controller) {
      if (i < answer.length) controller.enqueue(answer[i++]);
      else controller.close();
    },
  });
  return new Response(body, {
    headers: { "content-type": "text/event-stream; charset=utf-8", "request-id": "req_cpu" },
  });
}

/** The two pass-through Worker modes (bench/passthrough-worker/index.js), on the same fake fetch. */
async function passthrough(request, js) {
  const url = new URL(request.url);
  const upstream = await fetch(new URL(url.pathname.replace(/^\/anthropic/, ""), UPSTREAM), {
    method: request.method,
    headers: request.headers,
    body: request.body,
    duplex: "half",
  });
  if (!js) return upstream;
  const reader = upstream.body.getReader();
  const body = new ReadableStream(
    {
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, upstream);
}

function gatewayEnv(recording, vars = {}) {
  const keyHash = createHash("sha256").update(GATEWAY_KEY).digest("hex");
  const row = { id: "key_cpu", user_id: "user_cpu", key_hash: keyHash, revoked_at: null };
  const statement = {
    bind: () => statement,
    first: async () => row,
    run: async () => ({ meta: { changes: 0 } }),
    all: async () => ({ results: [] }),
  };
  const batches = { count: 0, messages: 0 };
  const queue = recording
    ? {
        async sendBatch(messages) {
          structuredClone(messages);
          batches.count++;
          batches.messages += messages.length;
        },
        async send(message) {
          structuredClone(message);
          batches.count++;
          batches.messages++;
        },
      }
    : { sendBatch: async () => {}, send: async () => {} };
  return {
    batches,
    env: {
      DB: { prepare: () => statement, batch: async () => [] },
      KV: { get: async () => null, put: async () => {}, delete: async () => {} },
      RECORDS: queue,
      BACKGROUND: queue,
      METRICS: recording ? { writeDataPoint: (p) => structuredClone(p) } : { writeDataPoint: () => {} },
      ANTHROPIC_BASE_URL: UPSTREAM,
      OPENAI_BASE_URL: `${UPSTREAM}/v1`,
      ANTHROPIC_API_KEY: PROVIDER_KEY,
      BYOK: "true",
      MCP_SERVERS: "[]",
      MCP_SKIP_MODELS: "",
      MCP_MAX_ITERATIONS: "10",
      MCP_CACHE_TTL_SECONDS: "300",
      MCP_TIMEOUT_SECONDS: "30",
      RETENTION_DAYS: "60",
      PRICING_OVERRIDES: "{}",
      REDACTION_KEY: "bench-redaction-key-0123456789",
      ...vars,
    },
  };
}

export async function runRequestCpu({ smoke = false, only = null } = {}) {
  const gateway = await loadGateway();
  const gatewayWithoutFingerprint = await loadGateway({ withoutFingerprint: true });
  const realFetch = globalThis.fetch;
  globalThis.fetch = fakeFetch;
  // workerd's non-standard extension the key check uses.
  crypto.subtle.timingSafeEqual ??= (a, b) => timingSafeEqual(a, b);
  const realLog = console.log;
  const quiet = true;
  // The gateway's log line: its JSON.stringify runs in src/log.ts either way; the write is dropped.
  console.log = (...args) => (quiet ? undefined : realLog(...args));
  const on = gatewayEnv(true);
  const off = gatewayEnv(false);
  const unredacted = gatewayEnv(true, { RECORD_CONTENT: "full" });
  const onWithoutFingerprint = gatewayEnv(true);
  const modes = {
    native: (r) => passthrough(r, false),
    jsrelay: (r) => passthrough(r, true),
    norec: (r, ctx) => gateway.fetch(r, off.env, ctx),
    gateway: (r, ctx) => gateway.fetch(r, on.env, ctx),
    unredacted: (r, ctx) => gateway.fetch(r, unredacted.env, ctx),
    nofingerprint: (r, ctx) => gatewayWithoutFingerprint.fetch(r, onWithoutFingerprint.env, ctx),
  };
  const headers = {
    "content-type": "application/json",
    "anthropic-version": "2023-06-01",
    "user-agent": "claude-cli/2.0.0 (external, cli)",
    "x-api-key": GATEWAY_KEY,
  };
  const small = JSON.stringify({
    model: "claude-sonnet-4-5-20250929",
    max_tokens: 1024,
    messages: [{ role: "user", content: "Say hello to the benchmark, in one short sentence please." }],
    stream: true,
  });
  const scenarios = [
    { key: "chat", body: small, events: chatEvents(20), requests: smoke ? 30 : 600 },
    { key: "turn", body: claudeCodeBody(86 * 1024), events: turnEvents(1000), requests: smoke ? 4 : 60 },
  ];
  const one = async (mode, body) => {
    const pending = [];
    const ctx = { waitUntil: (p) => pending.push(p), passThroughOnException: () => {} };
    const request = new Request(`http://gateway.bench.invalid/anthropic/v1/messages`, {
      method: "POST",
      headers: {
        ...headers,
        "x-api-key": mode === "native" || mode === "jsrelay" ? PROVIDER_KEY : GATEWAY_KEY,
        // As every client measured sends it (and workerd passes it on): without it, the size cap
        // takes its slow path, reading the body through a JavaScript stream into a new Request.
        "content-length": String(Buffer.byteLength(body)),
      },
      body,
    });
    const response = await modes[mode](request, ctx);
    if (response.status !== 200) throw new Error(`${mode}: ${response.status} ${await response.text()}`);
    const reader = response.body.getReader();
    for (;;) if ((await reader.read()).done) break;
    while (pending.length > 0) await Promise.all(pending.splice(0));
  };
  const out = {};
  const byRound = {};
  for (const scenario of scenarios.filter((s) => !process.env.SCENARIO || s.key === process.env.SCENARIO)) {
    answer = scenario.events;
    const names = only ? [only] : Object.keys(modes);
    const cpu = Object.fromEntries(names.map((n) => [n, []]));
    for (const name of names) for (let i = 0; i < 20; i++) await one(name, scenario.body); // warm-up (JIT)
    // Interleaved rounds; the median round per mode.
    // 20 rounds: the redaction and fingerprint differences are tenths of a millisecond per turn.
    const rounds = smoke ? 10 : 20;
    const perRound = Math.max(1, Math.round(scenario.requests / rounds));
    for (let round = 0; round < rounds; round++) {
      for (const name of names) {
        const start = process.cpuUsage();
        for (let i = 0; i < perRound; i++) await one(name, scenario.body);
        const used = process.cpuUsage(start);
        cpu[name].push((used.user + used.system) / 1000 / perRound);
      }
    }
    byRound[scenario.key] = cpu;
    out[scenario.key] = Object.fromEntries(
      Object.entries(cpu).map(([n, v]) => [n, [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]]),
    );
  }
  console.log = realLog;
  globalThis.fetch = realFetch;
  const perRequest = (b) => b.messages && { batches: b.count, messages: b.messages };
  // Per round and mode, in round order: rounds interleave the modes, so differences pair up.
  return { ...out, rounds: byRound, queueSends: perRequest(on.batches) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : null;
  const started = performance.now();
  const result = await runRequestCpu({ smoke: process.argv.includes("--smoke"), only });
  const { rounds: _perRound, ...medians } = result;
  console.log(JSON.stringify({ ...medians, seconds: (performance.now() - started) / 1000 }, null, 2));
}
