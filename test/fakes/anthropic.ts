/**
 * A fake Anthropic API written from the public reference (Messages, streaming events, errors,
 * Models, count_tokens). Like the real API it refuses a request without a key or without
 * `anthropic-version`, so tests see the same failures a real provider would give.
 *
 * Scenarios (request header `x-fake-scenario`; a blocking or streaming answer follows the body's
 * `stream` flag):
 *   default | text   a short text answer ("Hello, wörld 🌍!")
 *   tools            text plus three parallel tool_use blocks (input streamed as input_json_delta)
 *   thinking         thinking (+ signature_delta), redacted_thinking, text
 *   cache            cache read/write with the 5m/1h split, a web_search server tool, and a
 *                    message_delta whose usage repeats (and raises) the input counts
 *   error-mid-stream stream: an `event: error` (overloaded_error) after some text
 *   reset-mid-stream stream: some events, then the TCP connection is reset
 *   hostile          stream: thinking + tools + text with \r\n line ends and comment lines, written
 *                    in 1..13-byte pieces (boundaries fall inside multi-byte UTF-8 characters)
 *   slow             stream: 40 text deltas 50 ms apart, final output_tokens 4242
 *   endless          stream: one English word per text delta, 100 ms apart, for 45 s; the final
 *                    usage counts one output token per word (ENDLESS_WORDS): longer than any drain
 *   gated            stream: stops after the first two events until POST /__fake/release/{trace}
 *   status-{code}    an error answer with that status in Anthropic's shape (+ retry-after on 429/529)
 *   garbage          200 with a body that is not JSON
 *   early-hints      a `103 Early Hints` interim response, then the text answer
 *   prompt-cache     a short text answer whose usage comes from simulated prompt caching of the
 *                    request's prefix (prompt-cache.ts); POST /__fake/clock {"advance_ms"} moves its clock
 *   echo             the model "repeats" the last user text: as thinking, and as the input of a
 *                    Bash and an Edit tool call (for tests of what gets recorded)
 *
 * Requests carrying `x-fake-trace: <id>` have the exact bytes the fake answered kept, and whether
 * it wrote them all before the connection closed: GET /__fake/sent/{trace}.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { advanceClock, anthropicCacheUsage, evictAll } from "./prompt-cache";
import { scenarioOf, startFakeServer } from "./server";

type Json = Record<string, unknown>;
type SseEvent = [name: string, data: Json];

export interface SentRecord {
  status: number;
  headers: Record<string, string>;
  bodyBase64: string;
  /** True once the fake wrote its last byte (false: the gateway closed the connection first). */
  completed: boolean;
}

const sent = new Map<string, SentRecord>();
const releases = new Map<string, () => void>();

const REQUEST_ID = "req_011CFakeRequestId0001";

/** The endless scenario's text, one word (with its leading space) per delta and per output token. */
export const ENDLESS_WORDS =
  "The gateway keeps reading the stream after the client leaves so that the usage the provider bills is still recorded even when the final count never arrives".split(
    " ",
  );

export const FAKE_MODELS = [
  {
    type: "model",
    id: "claude-sonnet-4-5-20250929",
    display_name: "Claude Sonnet 4.5",
    created_at: "2025-09-29T00:00:00Z",
  },
  {
    type: "model",
    id: "claude-opus-4-1-20250805",
    display_name: "Claude Opus 4.1",
    created_at: "2025-08-05T00:00:00Z",
  },
];

/** Records what the fake writes for a traced request, chunk by chunk. */
class Writer {
  private readonly chunks: Buffer[] = [];
  private readonly record: SentRecord | null;

  constructor(
    readonly response: ServerResponse,
    trace: string | null,
  ) {
    this.record = trace ? { status: 0, headers: {}, bodyBase64: "", completed: false } : null;
    if (trace && this.record) sent.set(trace, this.record);
  }

  head(status: number, headers: Record<string, string>) {
    this.response.writeHead(status, headers);
    if (this.record) Object.assign(this.record, { status, headers });
  }

  write(bytes: Buffer) {
    if (this.response.destroyed) return false;
    this.response.write(bytes);
    this.chunks.push(bytes);
    if (this.record) this.record.bodyBase64 = Buffer.concat(this.chunks).toString("base64");
    return true;
  }

  end() {
    if (this.response.destroyed) return;
    this.response.end();
    if (this.record) this.record.completed = true;
  }
}

function errorBody(type: string, message: string) {
  return { type: "error", error: { type, message }, request_id: REQUEST_ID };
}

const ERROR_TYPES: Record<number, [string, string]> = {
  400: ["invalid_request_error", "messages: at least one message is required"],
  401: ["authentication_error", "invalid x-api-key"],
  403: ["permission_error", "Your API key does not have permission to use the specified resource."],
  404: ["not_found_error", "Not found"],
  413: ["request_too_large", "Request exceeds the maximum allowed number of bytes."],
  429: ["rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"],
  500: ["api_error", "Internal server error"],
  529: ["overloaded_error", "Overloaded"],
};

function sendJson(writer: Writer, status: number, body: unknown, headers: Record<string, string> = {}) {
  writer.head(status, { "content-type": "application/json", "request-id": REQUEST_ID, ...headers });
  writer.write(Buffer.from(JSON.stringify(body)));
  writer.end();
}

function sendError(writer: Writer, status: number) {
  const [type, message] = ERROR_TYPES[status] ?? ["api_error", `status ${status}`];
  const headers: Record<string, string> = {};
  if (status === 429 || status === 529) headers["retry-after"] = "17";
  if (status === 429) {
    headers["anthropic-ratelimit-requests-limit"] = "50";
    headers["anthropic-ratelimit-requests-remaining"] = "0";
    headers["anthropic-ratelimit-requests-reset"] = "2026-01-01T00:00:17Z";
  }
  sendJson(writer, status, errorBody(type, message), headers);
}

// ---- Message content per scenario (the same content serves the blocking and streaming forms) ----

interface Scenario {
  id: string;
  /** Blocks in order; tool input is given as the pieces the stream sends (joined = full JSON). */
  blocks: Block[];
  stopReason: string;
  startUsage: Json;
  finalUsage: Json;
}

type Block =
  | { type: "text"; pieces: string[] }
  | { type: "thinking"; pieces: string[]; signature: string }
  | { type: "redacted_thinking"; data: string }
  | { type: "tool_use" | "server_tool_use"; id: string; name: string; pieces: string[] }
  | { type: "web_search_tool_result"; tool_use_id: string; content: Json[] };

const usage = (input: number, output: number, extra: Json = {}): Json => ({
  input_tokens: input,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
  output_tokens: output,
  ...extra,
});

const SCENARIOS: Record<string, Scenario> = {
  text: {
    id: "msg_01FakeText",
    blocks: [{ type: "text", pieces: ["Hello", ", wörld 🌍!"] }],
    stopReason: "end_turn",
    startUsage: usage(25, 1),
    // Streaming: message_delta's output_tokens is the cumulative total (15), not 1 + 15.
    finalUsage: { output_tokens: 15 },
  },
  tools: {
    id: "msg_01FakeTools",
    blocks: [
      { type: "text", pieces: ["I'll check ", "both."] },
      {
        type: "tool_use",
        id: "toolu_01WeatherA",
        name: "get_weather",
        pieces: ['{"location": "San', ' Francisco, CA", "unit": "cel', 'sius", "note": "naïve ☀"}'],
      },
      {
        type: "tool_use",
        id: "toolu_01TimeB",
        name: "get_time",
        pieces: ['{"timezone":', ' "America/Los_Angeles"}'],
      },
      { type: "tool_use", id: "toolu_01ListC", name: "list_files", pieces: [] },
    ],
    stopReason: "tool_use",
    startUsage: usage(410, 2),
    finalUsage: { output_tokens: 89 },
  },
  thinking: {
    id: "msg_01FakeThinking",
    blocks: [
      {
        type: "thinking",
        pieces: ["Let me think about ", "this — carefully: ", "2 + 2 = 4."],
        signature: "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds",
      },
      { type: "redacted_thinking", data: "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP" },
      { type: "text", pieces: ["The answer is 4."] },
    ],
    stopReason: "end_turn",
    startUsage: usage(60, 3),
    finalUsage: { output_tokens: 120 },
  },
  cache: {
    id: "msg_01FakeCache",
    blocks: [
      {
        type: "server_tool_use",
        id: "srvtoolu_01Search",
        name: "web_search",
        pieces: ['{"query": "workers d1"}'],
      },
      {
        type: "web_search_tool_result",
        tool_use_id: "srvtoolu_01Search",
        content: [
          {
            type: "web_search_result",
            url: "https://example.com/d1",
            title: "D1",
            encrypted_content: "Eu8BCioI",
            page_age: null,
          },
        ],
      },
      { type: "text", pieces: ["D1 is SQLite."] },
    ],
    stopReason: "end_turn",
    startUsage: {
      input_tokens: 7,
      cache_creation_input_tokens: 3000,
      cache_read_input_tokens: 40000,
      cache_creation: { ephemeral_5m_input_tokens: 1000, ephemeral_1h_input_tokens: 2000 },
      output_tokens: 1,
      service_tier: "standard",
    },
    // With server tools the model samples more than once: the final input count is higher than the
    // start's, and it is the one that counts.
    finalUsage: {
      input_tokens: 1250,
      cache_creation_input_tokens: 3000,
      cache_read_input_tokens: 40000,
      output_tokens: 512,
      server_tool_use: { web_search_requests: 2 },
    },
  },
};

// One message with every kind of block, for the hostile-chunking stream.
SCENARIOS.hostile = {
  id: "msg_01FakeHostile",
  blocks: [...(SCENARIOS.thinking?.blocks ?? []), ...(SCENARIOS.tools?.blocks ?? [])],
  stopReason: "tool_use",
  startUsage: usage(777, 4),
  finalUsage: { output_tokens: 333 },
};

/** The echo scenario for one request (built from its body). */
function echoScenario(body: { messages?: { role?: string; content?: unknown }[] }): Scenario {
  const last = [...(body.messages ?? [])].reverse().find((m) => m.role === "user");
  const text =
    typeof last?.content === "string"
      ? last.content
      : Array.isArray(last?.content)
        ? (last.content as { text?: unknown }[])
            .map((b) => (typeof b.text === "string" ? b.text : ""))
            .join("")
        : "";
  // Small deltas like a model's, but at most ~64 of them per block, so megabytes stream quickly.
  const pieces = (value: string) => {
    const size = Math.max(97, Math.ceil(value.length / 64));
    return Array.from({ length: Math.ceil(value.length / size) }, (_, i) =>
      value.slice(i * size, (i + 1) * size),
    );
  };
  return {
    id: "msg_01FakeEcho",
    blocks: [
      { type: "thinking", pieces: pieces(text), signature: "EqQBCgIYAhIMechoSignature" },
      {
        type: "tool_use",
        id: "toolu_01EchoBash",
        name: "Bash",
        pieces: pieces(JSON.stringify({ command: text })),
      },
      {
        type: "tool_use",
        id: "toolu_01EchoEdit",
        name: "Edit",
        pieces: pieces(
          JSON.stringify({ file_path: "/repo/deploy/key.pem", old_string: "", new_string: text }),
        ),
      },
    ],
    stopReason: "tool_use",
    startUsage: usage(120, 2),
    finalUsage: { output_tokens: 64 },
  };
}

/** The blocking form: one Message object (usage = start merged with final, as the API reports it). */
export function blockingMessage(name: string, model: string, custom?: Scenario): Json {
  const scenario = custom ?? SCENARIOS[name] ?? (SCENARIOS.text as Scenario);
  const content = scenario.blocks.map((block): Json => {
    switch (block.type) {
      case "text":
        return { type: "text", text: block.pieces.join("") };
      case "thinking":
        return { type: "thinking", thinking: block.pieces.join(""), signature: block.signature };
      case "redacted_thinking":
        return { type: "redacted_thinking", data: block.data };
      case "tool_use":
      case "server_tool_use":
        return {
          type: block.type,
          id: block.id,
          name: block.name,
          input: JSON.parse(block.pieces.join("") || "{}"),
        };
      default:
        return { type: block.type, tool_use_id: block.tool_use_id, content: block.content };
    }
  });
  return {
    id: scenario.id,
    type: "message",
    role: "assistant",
    model,
    content,
    stop_reason: scenario.stopReason,
    stop_sequence: null,
    usage: { ...scenario.startUsage, ...scenario.finalUsage },
  };
}

/** The streaming form, event by event, as the Messages streaming reference describes it. */
export function streamEvents(name: string, model: string, custom?: Scenario): SseEvent[] {
  const scenario = custom ?? SCENARIOS[name] ?? (SCENARIOS.text as Scenario);
  const events: SseEvent[] = [
    [
      "message_start",
      {
        type: "message_start",
        message: {
          id: scenario.id,
          type: "message",
          role: "assistant",
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: scenario.startUsage,
        },
      },
    ],
    // The real API sends a ping early in every stream.
    ["ping", { type: "ping" }],
  ];
  scenario.blocks.forEach((block, index) => {
    const delta = (d: Json): SseEvent => [
      "content_block_delta",
      { type: "content_block_delta", index, delta: d },
    ];
    const start = (content_block: Json): SseEvent => [
      "content_block_start",
      { type: "content_block_start", index, content_block },
    ];
    switch (block.type) {
      case "text":
        events.push(start({ type: "text", text: "" }));
        for (const text of block.pieces) events.push(delta({ type: "text_delta", text }));
        break;
      case "thinking":
        events.push(start({ type: "thinking", thinking: "", signature: "" }));
        for (const thinking of block.pieces) events.push(delta({ type: "thinking_delta", thinking }));
        events.push(delta({ type: "signature_delta", signature: block.signature }));
        break;
      case "redacted_thinking":
        events.push(start({ type: "redacted_thinking", data: block.data }));
        break;
      case "tool_use":
      case "server_tool_use":
        events.push(start({ type: block.type, id: block.id, name: block.name, input: {} }));
        // A tool without arguments still gets one empty input_json_delta, like the real API.
        for (const partial_json of block.pieces.length ? block.pieces : [""]) {
          events.push(delta({ type: "input_json_delta", partial_json }));
        }
        break;
      case "web_search_tool_result":
        events.push(start({ type: block.type, tool_use_id: block.tool_use_id, content: block.content }));
        break;
    }
    events.push(["content_block_stop", { type: "content_block_stop", index }]);
  });
  events.push([
    "message_delta",
    {
      type: "message_delta",
      delta: { stop_reason: scenario.stopReason, stop_sequence: null },
      usage: scenario.finalUsage,
    },
  ]);
  events.push(["message_stop", { type: "message_stop" }]);
  return events;
}

export function encodeEvents(
  events: SseEvent[],
  options: { crlf?: boolean; comments?: boolean } = {},
): string {
  const eol = options.crlf ? "\r\n" : "\n";
  return events
    .map(([name, data], i) => {
      const comment = options.comments && i % 3 === 0 ? `: keep-alive ${i}${eol}` : "";
      return `${comment}event: ${name}${eol}data: ${JSON.stringify(data)}${eol}${eol}`;
    })
    .join("");
}

const STREAM_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  "request-id": REQUEST_ID,
  "anthropic-ratelimit-tokens-remaining": "399000",
};

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const nextTick = () => new Promise((resolve) => setImmediate(resolve));

/** Hostile piece sizes: 1-byte runs and odd sizes, so boundaries land inside "ü", "—", "🌍", "\r\n". */
const HOSTILE_PIECES = [1, 1, 2, 3, 1, 5, 1, 8, 13, 2, 1, 7];

async function stream(
  writer: Writer,
  scenario: string,
  model: string,
  trace: string | null,
  custom?: Scenario,
) {
  writer.head(200, STREAM_HEADERS);
  const write = (text: string) => writer.write(Buffer.from(text, "utf8"));

  if (scenario === "hostile") {
    const bytes = Buffer.from(
      encodeEvents(streamEvents("hostile", model), { crlf: true, comments: true }),
      "utf8",
    );
    for (let at = 0, i = 0; at < bytes.length; i++) {
      const size = HOSTILE_PIECES[i % HOSTILE_PIECES.length] ?? 1;
      if (!writer.write(bytes.subarray(at, at + size))) return;
      at += size;
      // Every few pieces, yield to the event loop so pieces leave as separate TCP segments.
      if (i % 4 === 0) await nextTick();
    }
    return writer.end();
  }

  if (scenario === "reset-mid-stream") {
    // Some events, then the connection is torn down without a proper end (a TCP reset).
    write(encodeEvents(streamEvents("text", model).slice(0, 4)));
    await pause(20);
    writer.response.socket?.resetAndDestroy();
    return;
  }

  if (scenario === "error-mid-stream") {
    const events = streamEvents("text", model).slice(0, 4);
    write(encodeEvents(events));
    await pause(5);
    write(encodeEvents([["error", errorBody("overloaded_error", "Overloaded")]]));
    return writer.end();
  }

  if (scenario === "slow") {
    const [start, ping, blockStart] = streamEvents("text", model) as [SseEvent, SseEvent, SseEvent];
    (start[1].message as Json).id = "msg_01FakeSlow";
    (start[1].message as Json).usage = usage(30, 1);
    write(encodeEvents([start, ping, blockStart]));
    for (let i = 0; i < 40; i++) {
      await pause(50);
      const piece = {
        type: "content_block_delta",
        index: 0,
        delta: { type: "text_delta", text: `word${i} ` },
      };
      if (!write(encodeEvents([["content_block_delta", piece]]))) return;
    }
    write(
      encodeEvents([
        ["content_block_stop", { type: "content_block_stop", index: 0 }],
        [
          "message_delta",
          {
            type: "message_delta",
            delta: { stop_reason: "end_turn", stop_sequence: null },
            usage: { output_tokens: 4242 },
          },
        ],
        ["message_stop", { type: "message_stop" }],
      ]),
    );
    return writer.end();
  }

  if (scenario === "endless") {
    const [start, ping, blockStart] = streamEvents("text", model) as [SseEvent, SseEvent, SseEvent];
    (start[1].message as Json).id = "msg_01FakeEndless";
    (start[1].message as Json).usage = usage(30, 1);
    write(encodeEvents([start, ping, blockStart]));
    let words = 0;
    for (; words < 450; words++) {
      await pause(100);
      const text = ` ${ENDLESS_WORDS[words % ENDLESS_WORDS.length]}`;
      const piece = { type: "content_block_delta", index: 0, delta: { type: "text_delta", text } };
      if (!write(encodeEvents([["content_block_delta", piece]]))) return;
    }
    write(
      encodeEvents([
        ["content_block_stop", { type: "content_block_stop", index: 0 }],
        [
          "message_delta",
          {
            type: "message_delta",
            delta: { stop_reason: "end_turn", stop_sequence: null },
            usage: { output_tokens: words },
          },
        ],
        ["message_stop", { type: "message_stop" }],
      ]),
    );
    return writer.end();
  }

  const events = streamEvents(scenario, model, custom);
  if (scenario === "gated") {
    write(encodeEvents(events.slice(0, 2)));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 10_000);
      if (!trace) return;
      releases.set(trace, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    write(encodeEvents(events.slice(2)));
    return writer.end();
  }
  // Each event in its own write, like a real server flushing as the model produces tokens.
  for (const event of events) {
    write(encodeEvents([event]));
    await nextTick();
  }
  writer.end();
}

/** The prompt-cache space (clock and entries) a request uses: x-fake-clock. */
function clockOf(request: IncomingMessage): string {
  return header(request, "x-fake-clock") ?? "default";
}

function header(request: IncomingMessage, name: string): string | null {
  const value = request.headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? null;
}

export async function handleAnthropic(request: IncomingMessage, body: Buffer, response: ServerResponse) {
  const url = new URL(request.url ?? "/", "http://fake");
  const trace = header(request, "x-fake-trace");
  const writer = new Writer(response, trace);

  if (url.pathname.startsWith("/__fake/sent/")) {
    const record = sent.get(decodeURIComponent(url.pathname.slice("/__fake/sent/".length)));
    return sendJson(writer, record ? 200 : 404, record ?? { error: "no such trace" });
  }
  if (url.pathname.startsWith("/__fake/release/")) {
    const release = releases.get(decodeURIComponent(url.pathname.slice("/__fake/release/".length)));
    release?.();
    return sendJson(writer, release ? 200 : 404, { released: Boolean(release) });
  }

  if (url.pathname === "/__fake/clock" && request.method === "POST") {
    const { advance_ms } = JSON.parse(body.toString("utf8") || "{}") as { advance_ms?: number };
    return sendJson(writer, 200, { now: advanceClock(clockOf(request), advance_ms ?? 0) });
  }
  if (url.pathname === "/__fake/prompt-cache" && request.method === "DELETE") {
    evictAll(clockOf(request));
    return sendJson(writer, 200, { evicted: true });
  }

  // The real API checks credentials and the version header before anything else.
  if (!header(request, "x-api-key") && !header(request, "authorization")) {
    return sendJson(writer, 401, errorBody("authentication_error", "x-api-key header is required"));
  }
  if (!header(request, "anthropic-version")) {
    return sendJson(writer, 400, errorBody("invalid_request_error", "anthropic-version: header is required"));
  }

  const scenario = scenarioOf(request);
  const status = /^status-(\d{3})$/.exec(scenario)?.[1];
  if (status) return sendError(writer, Number(status));

  if (request.method === "POST" && url.pathname === "/v1/messages") {
    let parsed: { model?: string; stream?: boolean; messages?: { role?: string; content?: unknown }[] };
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch {
      return sendJson(
        writer,
        400,
        errorBody("invalid_request_error", "There was an error parsing the body."),
      );
    }
    const model = parsed.model ?? "unknown";
    if (scenario === "garbage") {
      writer.head(200, { "content-type": "application/json" });
      writer.write(Buffer.from("<html>not json</html>"));
      return writer.end();
    }
    // An interim 103 before the answer: a gateway must wait for the final status.
    if (scenario === "early-hints") response.writeEarlyHints({ link: "</hint.css>; rel=preload; as=style" });
    const custom =
      scenario === "prompt-cache"
        ? promptCacheScenario(parsed as Json, clockOf(request))
        : scenario === "echo"
          ? echoScenario(parsed)
          : undefined;
    if (parsed.stream === true)
      return stream(writer, scenario === "default" ? "text" : scenario, model, trace, custom);
    return sendJson(writer, 200, blockingMessage(scenario, model, custom), {
      "anthropic-ratelimit-tokens-remaining": "399000",
    });
  }
  if (request.method === "POST" && url.pathname === "/v1/messages/count_tokens") {
    const parsed = JSON.parse(body.toString("utf8")) as { messages?: unknown[] };
    return sendJson(writer, 200, { input_tokens: 10 + JSON.stringify(parsed.messages ?? []).length });
  }
  if (request.method === "GET" && url.pathname === "/v1/models") {
    const limit = Number(url.searchParams.get("limit") ?? 20);
    const data = FAKE_MODELS.slice(0, limit);
    return sendJson(writer, 200, {
      data,
      has_more: data.length < FAKE_MODELS.length,
      first_id: data[0]?.id ?? null,
      last_id: data.at(-1)?.id ?? null,
    });
  }
  if (request.method === "GET" && url.pathname.startsWith("/v1/models/")) {
    const model = FAKE_MODELS.find((m) => m.id === url.pathname.slice("/v1/models/".length));
    return model ? sendJson(writer, 200, model) : sendError(writer, 404);
  }
  if (request.method === "POST" && url.pathname.startsWith("/api/event_logging/")) {
    return sendJson(writer, 200, {});
  }
  return sendError(writer, 404);
}

/** A short text answer whose input and cache counts come from the simulated prompt cache. */
function promptCacheScenario(body: Json, clock: string): Scenario {
  const cache = anthropicCacheUsage(body, clock);
  return {
    id: "msg_01FakePromptCache",
    blocks: [{ type: "text", pieces: ["Cached", " answer."] }],
    stopReason: "end_turn",
    startUsage: { ...cache, output_tokens: 1 },
    finalUsage: { output_tokens: 12 },
  };
}

export const startFakeAnthropic = (port?: number) => startFakeServer(handleAnthropic, port);
