/**
 * The benchmark's fake Anthropic Messages upstream: a plain Node http server answering
 * POST /v1/messages exactly the way the real API frames it (JSON for blocking, `event:`/`data:`
 * SSE for streaming, same headers), with no per-request bookkeeping so that it costs the same
 * whichever path the request took.
 *
 * The shape of the answer is chosen by the client (headers the gateway forwards untouched):
 *   x-bench-events: <n>   streaming: n text_delta events (default 20)
 *   x-bench-shape: claude-code   streaming: a Claude Code turn of x-bench-events events instead:
 *                         thinking (with signature), text, then a tool_use whose input arrives
 *                         as input_json_delta pieces (15% / 70% / 15% of the deltas)
 *   x-bench-bytes:  <n>   streaming: about n bytes of text_delta events written in 64 KiB writes
 *                         that wait for the socket to drain (the 100 MB memory test); the bytes
 *                         written so far are reported to the parent process ({bigWritten})
 * A request without the expected provider key gets Anthropic's 401, so a path that loses or
 * mangles credentials shows up as errors, not as fast numbers.
 *
 * Run as a child process (`fork`): it listens on 127.0.0.1 and sends {url} to its parent.
 */
import { createServer } from "node:http";

export const PROVIDER_KEY = "sk-ant-bench-UPSTREAM-KEY-000000000000";
const REQUEST_ID = "req_011CBenchRequestId0001";
const MESSAGE_ID = "msg_01BenchMessage0000001";

const sse = (name, data) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;

function messageStart(model) {
  return sse("message_start", {
    type: "message_start",
    message: {
      id: MESSAGE_ID,
      type: "message",
      role: "assistant",
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: {
        input_tokens: 2048,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 40960,
        cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
        output_tokens: 1,
        service_tier: "standard",
      },
    },
  });
}

const blockStart = `${sse("content_block_start", {
  type: "content_block_start",
  index: 0,
  content_block: { type: "text", text: "" },
})}${sse("ping", { type: "ping" })}`;

const textDelta = (text) =>
  sse("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text } });

function streamEnd(outputTokens) {
  return (
    sse("content_block_stop", { type: "content_block_stop", index: 0 }) +
    sse("message_delta", {
      type: "message_delta",
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { output_tokens: outputTokens },
    }) +
    sse("message_stop", { type: "message_stop" })
  );
}

function blockingBody(model) {
  return JSON.stringify({
    id: MESSAGE_ID,
    type: "message",
    role: "assistant",
    model,
    content: [{ type: "text", text: "Hello! The benchmark upstream answered this request in full." }],
    stop_reason: "end_turn",
    stop_sequence: null,
    usage: {
      input_tokens: 2048,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 40960,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
      output_tokens: 14,
      service_tier: "standard",
    },
  });
}

const HEADERS = { "request-id": REQUEST_ID, "anthropic-organization-id": "bench-org" };
const SSE_HEADERS = {
  ...HEADERS,
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
};

/** Words for text deltas: varied lengths, some non-ASCII, like real model output. */
const WORDS = [
  "The ",
  "gateway ",
  "relays ",
  "every ",
  "byte ",
  "untouched; ",
  "naïve ",
  "café ",
  "→ ",
  "ok. ",
];

function write(response, text) {
  if (response.destroyed) return Promise.resolve(false);
  if (response.write(text)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = () => {
      response.off("drain", done);
      response.off("close", done);
      resolve(!response.destroyed);
    };
    response.on("drain", done);
    response.on("close", done);
  });
}

async function stream(response, model, headers) {
  response.writeHead(200, SSE_HEADERS);
  const bytes = Number(headers["x-bench-bytes"] ?? 0);
  if (bytes > 0) {
    // Big stream: 64 KiB writes of ~1 KB text deltas, each write waiting for the socket to drain.
    await write(response, messageStart(model) + blockStart);
    const delta = textDelta("x".repeat(900));
    const perWrite = Math.max(1, Math.floor(65536 / delta.length));
    const block = delta.repeat(perWrite);
    let written = 0;
    let reported = 0;
    while (written < bytes) {
      if (!(await write(response, block))) return;
      written += block.length;
      // Progress for the parent: how far the upstream got is how much a relay could have buffered.
      if (process.send && Date.now() - reported >= 20) {
        reported = Date.now();
        process.send({ bigWritten: written });
      }
    }
    process.send?.({ bigWritten: written });
    await write(response, streamEnd(Math.round(written / 4)));
    response.end();
    return;
  }
  // Event stream: one write per event, as a model emits them (no pauses: the relay is the bottleneck).
  const events = Number(headers["x-bench-events"] ?? 20);
  if (headers["x-bench-shape"] === "claude-code") {
    for (const event of claudeCodeTurn(model, events)) if (!(await write(response, event))) return;
    response.end();
    return;
  }
  if (!(await write(response, messageStart(model) + blockStart))) return;
  for (let i = 0; i < events; i++) {
    if (!(await write(response, textDelta(WORDS[i % WORDS.length])))) return;
  }
  await write(response, streamEnd(events));
  response.end();
}

/** The events of an agentic turn: thinking, a text answer, an Edit tool call with streamed input. */
function claudeCodeTurn(model, events) {
  const thinking = Math.round(events * 0.15);
  const input = Math.round(events * 0.15);
  const text = Math.max(1, events - thinking - input);
  const delta = (index, d) => sse("content_block_delta", { type: "content_block_delta", index, delta: d });
  const block = (index, content_block) =>
    sse("content_block_start", { type: "content_block_start", index, content_block });
  const stop = (index) => sse("content_block_stop", { type: "content_block_stop", index });
  const out = [messageStart(model), block(0, { type: "thinking", thinking: "", signature: "" })];
  for (let i = 0; i < thinking; i++)
    out.push(delta(0, { type: "thinking_delta", thinking: `Step ${i}: check the relay, then ` }));
  out.push(delta(0, { type: "signature_delta", signature: "EqQBCgIYAhIMbench0000signature" }), stop(0));
  out.push(block(1, { type: "text", text: "" }));
  for (let i = 0; i < text; i++) out.push(delta(1, { type: "text_delta", text: WORDS[i % WORDS.length] }));
  out.push(stop(1), block(2, { type: "tool_use", id: "toolu_01Bench", name: "Edit", input: {} }));
  out.push(
    delta(2, { type: "input_json_delta", partial_json: '{"file_path": "/src/a.ts", "new_string": "' }),
  );
  for (let i = 1; i < input - 1; i++)
    out.push(delta(2, { type: "input_json_delta", partial_json: `line ${i}\\n  \\"quoted\\" ` }));
  out.push(delta(2, { type: "input_json_delta", partial_json: '"}' }), stop(2));
  out.push(
    sse("message_delta", {
      type: "message_delta",
      delta: { stop_reason: "tool_use", stop_sequence: null },
      usage: { output_tokens: events * 3 },
    }),
    sse("message_stop", { type: "message_stop" }),
  );
  return out;
}

function handle(request, body, response) {
  if (request.method === "GET" && request.url === "/healthz") {
    response.writeHead(200, { "content-type": "text/plain" });
    response.end("ok");
    return;
  }
  if (request.method !== "POST" || request.url !== "/v1/messages") {
    response.writeHead(404, { ...HEADERS, "content-type": "application/json" });
    response.end(JSON.stringify({ type: "error", error: { type: "not_found_error", message: "Not found" } }));
    return;
  }
  if (request.headers["x-api-key"] !== PROVIDER_KEY || !request.headers["anthropic-version"]) {
    response.writeHead(401, { ...HEADERS, "content-type": "application/json" });
    response.end(
      JSON.stringify({
        type: "error",
        error: { type: "authentication_error", message: "invalid x-api-key" },
        request_id: REQUEST_ID,
      }),
    );
    return;
  }
  let json;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch {
    response.writeHead(400, { ...HEADERS, "content-type": "application/json" });
    response.end('{"type":"error","error":{"type":"invalid_request_error","message":"bad JSON"}}');
    return;
  }
  const model = typeof json.model === "string" ? json.model : "claude-sonnet-4-5";
  if (json.stream === true) {
    stream(response, model, request.headers).catch(() => response.destroy());
    return;
  }
  response.writeHead(200, { ...HEADERS, "content-type": "application/json" });
  response.end(blockingBody(model));
}

/**
 * Every answer says, on the monotonic clock every process on the machine shares, when this server
 * had the request's headers (x-bench-arrived) and when it wrote its answer's headers
 * (x-bench-answered): bench/lib/client.mjs splits a request's time at these two points.
 */
function stampTimes(response, arrived) {
  const writeHead = response.writeHead.bind(response);
  response.writeHead = (status, headers) =>
    writeHead(status, {
      ...headers,
      "x-bench-arrived": String(arrived),
      "x-bench-answered": String(process.hrtime.bigint()),
    });
}

export function startUpstream(port = 0) {
  const server = createServer((request, response) => {
    stampTimes(response, process.hrtime.bigint());
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => handle(request, Buffer.concat(chunks), response));
  });
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve) => {
    server.listen(port, "127.0.0.1", () => {
      const { port: bound } = server.address();
      resolve({ url: `http://127.0.0.1:${bound}`, server });
    });
  });
}

if (process.send) {
  const { url } = await startUpstream();
  process.send({ url });
  process.on("disconnect", () => process.exit(0));
}
