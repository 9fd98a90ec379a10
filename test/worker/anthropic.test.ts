/**
 * The Anthropic Messages bridge end to end: the official SDK (or raw fetch where bytes matter) →
 * the real Worker → the fake Anthropic server (test/fakes/anthropic.ts) → records through the real
 * Queue into the real local D1. Each upstream request is tagged with `x-fake-trace` so the test can
 * read back exactly what the fake received and exactly what it sent.
 */

import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import Anthropic from "@anthropic-ai/sdk";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { app } from "../../src/app";
import type { Interception } from "../../src/bridge/interception";
import { type RelayOutcome, relayStream } from "../../src/bridge/relay";
import { MessagesStreamParser } from "../../src/providers/anthropic/stream";
import { createSseDecoder } from "../../src/sse/decoder";
import { createKey, decodeBase64, endedInterception, eventually, GATEWAY, rows } from "./helpers";

const UPSTREAM = inject("anthropicUrl");
const CENTRAL_KEY = env.ANTHROPIC_API_KEY as string;
const MODEL = "claude-sonnet-4-5-20250929";
const utf8 = new TextDecoder();

let gatewayKey: string;
let keyId: string;

beforeAll(async () => {
  const created = await createKey("alice@example.com", "anthropic tests");
  gatewayKey = created.key;
  keyId = created.id;
});

// ---- helpers -------------------------------------------------------------------------------------

function trace(scenario = "default") {
  const id = crypto.randomUUID();
  return { id, headers: { "x-fake-scenario": scenario, "x-fake-trace": id } };
}

/** The headers the SDK sent on its last request (to compare with what the upstream got). */
let sdkSent = new Headers();

function sdk(options: { apiKey?: string; headers?: Record<string, string> } = {}) {
  return new Anthropic({
    baseURL: `${GATEWAY}/anthropic`,
    apiKey: options.apiKey ?? gatewayKey,
    defaultHeaders: options.headers,
    fetch: ((input: RequestInfo | URL, init?: RequestInit) => {
      sdkSent = new Request(input, init).headers;
      return SELF.fetch(input, init);
    }) as typeof fetch,
    maxRetries: 0,
  });
}

interface UpstreamSeen {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** What the fake received for a trace (null when the gateway never called it). */
async function received(traceId: string): Promise<UpstreamSeen | null> {
  const all = (await (await fetch(`${UPSTREAM}/__fake/requests`)).json()) as {
    method: string;
    url: string;
    headers: Record<string, string>;
    bodyBase64: string;
  }[];
  const hit = all.find((r) => r.headers["x-fake-trace"] === traceId);
  return hit ? { ...hit, body: decodeBase64(hit.bodyBase64) } : null;
}

/** What the fake answered for a trace, byte for byte. */
async function sent(traceId: string) {
  const response = await fetch(`${UPSTREAM}/__fake/sent/${traceId}`);
  expect(response.status).toBe(200);
  const record = (await response.json()) as {
    status: number;
    headers: Record<string, string>;
    bodyBase64: string;
    completed: boolean;
  };
  return { ...record, body: decodeBase64(record.bodyBase64) };
}

async function readAll(body: ReadableStream<Uint8Array> | null): Promise<Uint8Array> {
  return new Uint8Array(await new Response(body).arrayBuffer());
}

function post(path: string, body: string | Uint8Array, headers: Record<string, string>) {
  return SELF.fetch(`${GATEWAY}/anthropic${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01", ...headers },
    body,
  });
}

function messageBody(extra: Record<string, unknown> = {}) {
  return JSON.stringify({
    model: MODEL,
    max_tokens: 1024,
    messages: [{ role: "user", content: "Hi there" }],
    ...extra,
  });
}

const idOf = (response: Response) => {
  const id = response.headers.get("x-aibridge-interception-id");
  expect(id).toMatch(/^[0-9a-f-]{36}$/);
  return id as string;
};

const json = (value: unknown) => (typeof value === "string" ? JSON.parse(value) : value);

// ---- expectations per fake scenario (numbers from test/fakes/anthropic.ts) -----------------------

const EXPECTED_TOOLS = [
  {
    id: "toolu_01WeatherA",
    tool: "get_weather",
    input: '{"location": "San Francisco, CA", "unit": "celsius", "note": "naïve ☀"}',
  },
  { id: "toolu_01TimeB", tool: "get_time", input: '{"timezone": "America/Los_Angeles"}' },
  { id: "toolu_01ListC", tool: "list_files", input: "{}" },
];
const EXPECTED_THOUGHT = "Let me think about this — carefully: 2 + 2 = 4.";

function expectTools(tools: Record<string, unknown>[], messageId: string) {
  expect(tools.map((t) => [t.provider_tool_call_id, t.tool, json(t.input)])).toEqual(
    EXPECTED_TOOLS.map((t) => [t.id, t.tool, JSON.parse(t.input)]),
  );
  for (const t of tools) expect(t).toMatchObject({ provider_response_id: messageId, injected: 0 });
}

// ---- blocking ------------------------------------------------------------------------------------

describe("blocking /v1/messages with the official SDK", () => {
  it("relays the message and headers; upstream gets the provider key, never the gateway key", async () => {
    const t = trace("text");
    const { data, response } = await sdk()
      .messages.create(
        { model: MODEL, max_tokens: 64, messages: [{ role: "user", content: "Hi there" }] },
        { headers: t.headers },
      )
      .withResponse();
    expect(data.content).toEqual([{ type: "text", text: "Hello, wörld 🌍!" }]);
    expect(data.usage).toMatchObject({ input_tokens: 25, output_tokens: 15 });
    expect(response.headers.get("request-id")).toBe("req_011CFakeRequestId0001");
    expect(response.headers.get("anthropic-ratelimit-tokens-remaining")).toBe("399000");

    const upstream = await received(t.id);
    expect(upstream?.url).toBe("/v1/messages");
    expect(upstream?.headers["x-api-key"]).toBe(CENTRAL_KEY);
    // This SDK sends its key as Authorization: Bearer; the gateway's key must not travel on.
    expect(sdkSent.get("authorization")).toBe(`Bearer ${gatewayKey}`);
    expect(upstream?.headers.authorization).toBeUndefined();
    // Every header the SDK sent reaches the upstream unchanged, except credentials and
    // connection-level ones; the SDK's own anthropic-version is kept, not replaced by the default.
    const forwarded = [...sdkSent].filter(([name]) => !["authorization", "content-length"].includes(name));
    expect(forwarded.length).toBeGreaterThan(8);
    for (const [name, value] of forwarded) expect(upstream?.headers[name], name).toBe(value);
    expect(sdkSent.get("anthropic-version")).toBeTruthy();
    expect(upstream?.headers["user-agent"]).toMatch(/^Anthropic\/JS /);
    expect(JSON.stringify(upstream?.headers)).not.toContain(gatewayKey);

    const { interception, tokens, prompts } = await endedInterception(idOf(response));
    expect(interception).toMatchObject({
      initiator_id: "alice@example.com",
      api_key_id: keyId,
      provider: "anthropic",
      provider_name: "messages",
      model: MODEL,
      client: "Anthropic SDK (JS)",
      credential_kind: "centralized",
      credential_hint: null,
      streaming: 0,
      status: "completed",
      stop_reason: "end_turn",
    });
    expect(tokens).toHaveLength(1);
    expect(tokens[0]).toMatchObject({
      provider_response_id: "msg_01FakeText",
      input_tokens: 25,
      output_tokens: 15,
    });
    expect(prompts.map((p) => p.prompt)).toEqual(["Hi there"]);
  });

  it("recorded after the answer was returned, the interception still ends at the time the answer left", async () => {
    const t = trace("text");
    const response = await SELF.fetch(`${GATEWAY}/anthropic/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": gatewayKey, "content-type": "application/json", ...t.headers },
      body: JSON.stringify({ model: MODEL, max_tokens: 64, messages: [{ role: "user", content: "Hi" }] }),
    });
    expect(((await response.json()) as { id: string }).id).toBe("msg_01FakeText");
    const receivedAt = Date.now();
    // Usage is parsed and recorded after the answer was handed over (a timer later), but the end
    // time recorded is the answer's, not the recording's.
    const { interception, tokens } = await endedInterception(idOf(response));
    expect(interception.status).toBe("completed");
    expect(tokens[0]).toMatchObject({ input_tokens: 25, output_tokens: 15 });
    expect(interception.ended_at as number).toBeLessThanOrEqual(receivedAt);
    expect(interception.ended_at as number).toBeGreaterThanOrEqual(interception.started_at as number);
  });

  it("records every tool_use block with its full input", async () => {
    const t = trace("tools");
    const { data, response } = await sdk()
      .messages.create(
        { model: MODEL, max_tokens: 64, messages: [{ role: "user", content: "Weather and time?" }] },
        { headers: t.headers },
      )
      .withResponse();
    expect(data.stop_reason).toBe("tool_use");
    const { interception, tools } = await endedInterception(idOf(response));
    expect(interception.stop_reason).toBe("tool_use");
    expectTools(tools, "msg_01FakeTools");
  });

  it("records thinking as a thought and leaves redacted_thinking out", async () => {
    const t = trace("thinking");
    const { response } = await sdk()
      .messages.create(
        { model: MODEL, max_tokens: 2048, messages: [{ role: "user", content: "2+2?" }] },
        { headers: t.headers },
      )
      .withResponse();
    const { thoughts } = await endedInterception(idOf(response));
    expect(thoughts.map((x) => [x.content, x.source])).toEqual([[EXPECTED_THOUGHT, "thinking"]]);
  });

  it("normalizes cache reads, cache writes with the 5m/1h split, and server tool use", async () => {
    const t = trace("cache");
    const { response } = await sdk()
      .messages.create(
        { model: MODEL, max_tokens: 64, messages: [{ role: "user", content: "search" }] },
        { headers: t.headers },
      )
      .withResponse();
    const { tokens, tools } = await endedInterception(idOf(response));
    expect(tokens).toHaveLength(1);
    expect(tokens[0]).toMatchObject({
      input_tokens: 1250,
      output_tokens: 512,
      cache_read_input_tokens: 40000,
      cache_write_input_tokens: 3000,
    });
    expect(json(tokens[0]?.extra_token_types)).toEqual({
      cache_write_5m: 1000,
      cache_write_1h: 2000,
      web_search_requests: 2,
    });
    expect(json(tokens[0]?.raw_usage)).toMatchObject({ cache_creation: { ephemeral_5m_input_tokens: 1000 } });
    expect(tools.map((x) => [x.tool, json(x.input)])).toEqual([["web_search", { query: "workers d1" }]]);
  });
});

// ---- streaming -----------------------------------------------------------------------------------

interface StreamExpectation {
  messageId: string;
  usage: {
    input_tokens: number;
    output_tokens: number;
    cache_read_input_tokens: number;
    cache_write_input_tokens: number;
  };
  tools: boolean;
  thought: boolean;
  stopReason: string;
}

const STREAMS: Record<string, StreamExpectation> = {
  text: {
    messageId: "msg_01FakeText",
    // 15, not 1 + 15: message_delta's output_tokens is cumulative.
    usage: { input_tokens: 25, output_tokens: 15, cache_read_input_tokens: 0, cache_write_input_tokens: 0 },
    tools: false,
    thought: false,
    stopReason: "end_turn",
  },
  tools: {
    messageId: "msg_01FakeTools",
    usage: { input_tokens: 410, output_tokens: 89, cache_read_input_tokens: 0, cache_write_input_tokens: 0 },
    tools: true,
    thought: false,
    stopReason: "tool_use",
  },
  thinking: {
    messageId: "msg_01FakeThinking",
    usage: { input_tokens: 60, output_tokens: 120, cache_read_input_tokens: 0, cache_write_input_tokens: 0 },
    tools: false,
    thought: true,
    stopReason: "end_turn",
  },
  cache: {
    messageId: "msg_01FakeCache",
    // message_delta repeated the input counts with a higher input: the repeated values win.
    usage: {
      input_tokens: 1250,
      output_tokens: 512,
      cache_read_input_tokens: 40000,
      cache_write_input_tokens: 3000,
    },
    tools: false,
    thought: false,
    stopReason: "end_turn",
  },
  hostile: {
    messageId: "msg_01FakeHostile",
    usage: { input_tokens: 777, output_tokens: 333, cache_read_input_tokens: 0, cache_write_input_tokens: 0 },
    tools: true,
    thought: true,
    stopReason: "tool_use",
  },
};

describe("streaming /v1/messages", () => {
  it.each(Object.entries(STREAMS))(
    "%s: the client gets the upstream bytes exactly and D1 the right rows",
    async (scenario, expected) => {
      const t = trace(scenario);
      const response = await post("/v1/messages", messageBody({ stream: true }), {
        "x-api-key": gatewayKey,
        ...t.headers,
      });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
      expect(response.headers.get("request-id")).toBe("req_011CFakeRequestId0001");
      const clientBytes = await readAll(response.body);
      const upstream = await sent(t.id);
      expect(upstream.completed).toBe(true);
      expect(clientBytes.byteLength).toBeGreaterThan(500);
      expect(clientBytes).toEqual(upstream.body);

      const { interception, tokens, tools, thoughts } = await endedInterception(idOf(response));
      expect(interception).toMatchObject({
        status: "completed",
        stop_reason: expected.stopReason,
        streaming: 1,
      });
      expect(tokens).toHaveLength(1);
      expect(tokens[0]).toMatchObject({ provider_response_id: expected.messageId, ...expected.usage });
      if (expected.tools) {
        expectTools(
          tools.filter((x) => x.tool !== "web_search"),
          expected.messageId,
        );
        // Full input JSON, verbatim as the model streamed it (pieces joined, not re-serialized).
        expect(tools.map((x) => x.input)).toEqual(EXPECTED_TOOLS.map((x) => x.input));
      }
      expect(thoughts.map((x) => x.content)).toEqual(expected.thought ? [EXPECTED_THOUGHT] : []);
    },
  );

  it(".stream() + finalMessage() parse the relayed tool-use stream; D1 holds the same tool calls", async () => {
    const t = trace("tools");
    const stream = sdk().messages.stream(
      { model: MODEL, max_tokens: 64, messages: [{ role: "user", content: "Weather and time?" }] },
      { headers: t.headers },
    );
    const jsonDeltas: string[] = [];
    stream.on("inputJson", (partial) => jsonDeltas.push(partial));
    const { response } = await stream.withResponse();
    const message = await stream.finalMessage();
    expect(message.usage.output_tokens).toBe(89);
    const sdkTools = message.content.filter((b) => b.type === "tool_use");
    expect(sdkTools.map((b) => b.input)).toEqual(EXPECTED_TOOLS.map((x) => JSON.parse(x.input)));
    expect(jsonDeltas.length).toBeGreaterThanOrEqual(5);

    const { tools } = await endedInterception(idOf(response));
    expect(tools.map((x) => [x.provider_tool_call_id, json(x.input)])).toEqual(
      sdkTools.map((b) => [b.id, b.input]),
    );
  });

  it(".stream() parses the hostile stream (1-byte pieces, split UTF-8, \\r\\n, comments)", async () => {
    const t = trace("hostile");
    const message = await sdk()
      .messages.stream(
        { model: MODEL, max_tokens: 64, messages: [{ role: "user", content: "go" }] },
        { headers: t.headers },
      )
      .finalMessage();
    const thinking = message.content.find((b) => b.type === "thinking");
    expect(thinking && "thinking" in thinking ? thinking.thinking : null).toBe(EXPECTED_THOUGHT);
    expect(message.content.map((b) => b.type)).toEqual([
      "thinking",
      "redacted_thinking",
      "text",
      "text",
      "tool_use",
      "tool_use",
      "tool_use",
    ]);
    expect(message.usage).toMatchObject({ input_tokens: 777, output_tokens: 333 });
  });

  it("the parser records the same whatever the chunk boundaries (every split of the hostile stream)", async () => {
    const t = trace("hostile");
    const response = await post("/v1/messages", messageBody({ stream: true }), {
      "x-api-key": gatewayKey,
      ...t.headers,
    });
    await readAll(response.body);
    const bytes = (await sent(t.id)).body;
    const parseIn = (pieces: Uint8Array[]) => {
      const seen: unknown[] = [];
      const recorder = {
        recordTokenUsage: (u: { inputTokens: number; outputTokens: number }) =>
          seen.push(["usage", u.inputTokens, u.outputTokens]),
        recordToolUsage: (u: { providerToolCallId: string; input: string }) =>
          seen.push(["tool", u.providerToolCallId, u.input]),
        recordThought: (content: string) => seen.push(["thought", content]),
      } as unknown as Interception;
      const parser = new MessagesStreamParser(recorder);
      const decoder = createSseDecoder((event) => parser.onEvent(event));
      for (const piece of pieces) decoder.push(piece);
      decoder.end();
      return { seen, outcome: parser.finish() };
    };
    const whole = parseIn([bytes]);
    expect(whole.seen).toEqual([
      ["thought", EXPECTED_THOUGHT],
      ...EXPECTED_TOOLS.map((x) => ["tool", x.id, x.input]),
      ["usage", 777, 333],
    ]);
    expect(whole.outcome).toEqual({ stopReason: "tool_use", error: null });
    for (let at = 1; at < bytes.length; at++) {
      expect(parseIn([bytes.subarray(0, at), bytes.subarray(at)]).seen).toEqual(whole.seen);
    }
    expect(parseIn(Array.from(bytes, (b) => Uint8Array.of(b))).seen).toEqual(whole.seen);
  });

  it("a client that hangs up while a read is pending: the relay still drains the upstream to its end", async () => {
    // workerd's native streams (fetch bodies, IdentityTransformStream) allow one pending read; the
    // drain must reuse the read the relay was waiting on. The real-TCP version of this is
    // test/node/anthropic-disconnect.test.ts.
    const upstream = new IdentityTransformStream();
    const writer = upstream.writable.getWriter();
    const seen: string[] = [];
    const ctx = createExecutionContext();
    const ended = new Promise<RelayOutcome>((resolve) => {
      const client = relayStream(upstream.readable as ReadableStream<Uint8Array>, ctx, {
        onChunk: (chunk) => seen.push(utf8.decode(chunk)),
        errorEvent: (message) => message,
        onEnd: resolve,
      });
      const reader = client.getReader();
      void (async () => {
        const first = reader.read();
        await writer.write(new TextEncoder().encode("first;"));
        expect(utf8.decode((await first).value)).toBe("first;");
        void reader.read(); // the relay now waits on the upstream
        await new Promise((r) => setTimeout(r, 10));
        await reader.cancel(); // the client hangs up
        for (const part of ["second;", "third;"]) await writer.write(new TextEncoder().encode(part));
        await writer.close();
      })();
    });
    expect(await ended).toEqual({ kind: "client_disconnected" });
    expect(seen.join("")).toBe("first;second;third;");
    await waitOnExecutionContext(ctx);
  });

  it("relays the first event before the upstream has finished (no buffering)", async () => {
    const t = trace("gated");
    const response = await post("/v1/messages", messageBody({ stream: true }), {
      "x-api-key": gatewayKey,
      ...t.headers,
    });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let head = "";
    while (!head.includes("event: ping")) {
      const { value, done } = await reader.read();
      expect(done).toBe(false);
      head += utf8.decode(value, { stream: true });
    }
    expect(head).toContain("event: message_start");
    // The fake is still holding the rest of the stream until it is released.
    expect((await sent(t.id)).completed).toBe(false);
    expect((await fetch(`${UPSTREAM}/__fake/release/${t.id}`, { method: "POST" })).status).toBe(200);
    let rest = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += utf8.decode(value, { stream: true });
    }
    expect(rest).toContain("event: message_stop");
    expect(await endedInterception(idOf(response))).toMatchObject({ interception: { status: "completed" } });
  });

  it("an error event mid-stream is relayed as sent and the interception ends failed with its type", async () => {
    const t = trace("error-mid-stream");
    const response = await post("/v1/messages", messageBody({ stream: true }), {
      "x-api-key": gatewayKey,
      ...t.headers,
    });
    const clientBytes = await readAll(response.body);
    expect(clientBytes).toEqual((await sent(t.id)).body);
    expect(utf8.decode(clientBytes)).toContain(
      'event: error\ndata: {"type":"error","error":{"type":"overloaded_error"',
    );
    const { interception } = await endedInterception(idOf(response));
    expect(interception).toMatchObject({
      status: "failed",
      error_type: "overloaded_error",
      error_message: "Overloaded",
    });

    const error = await sdk()
      .messages.stream(
        { model: MODEL, max_tokens: 64, messages: [{ role: "user", content: "x" }] },
        { headers: trace("error-mid-stream").headers },
      )
      .finalMessage()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect((error as InstanceType<typeof Anthropic.APIError>).type).toBe("overloaded_error");
  });
});

// ---- what reaches the upstream, and what is read from the request -------------------------------

/** A first Claude Code turn, shaped like the real thing (~85 KB). */
function claudeCodeBody(sessionId: string) {
  const tools = Array.from({ length: 25 }, (_, i) => ({
    name:
      ["Bash", "Read", "Edit", "Write", "Glob", "Grep", "Task", "WebFetch"][i % 8] +
      (i >= 8 ? String(i) : ""),
    description: `Tool ${i}. ${"Use this tool carefully; it does exactly one thing and reports back. ".repeat(40)}`,
    input_schema: {
      type: "object",
      properties: {
        command: { type: "string", description: "The command to run" },
        timeout: { type: "number" },
      },
      required: ["command"],
      additionalProperties: false,
      $schema: "http://json-schema.org/draft-07/schema#",
    },
    ...(i === 24 ? { cache_control: { type: "ephemeral" } } : {}),
  }));
  return JSON.stringify({
    model: MODEL,
    messages: [
      {
        role: "user",
        content: [
          { type: "text", text: "<system-reminder>context</system-reminder>" },
          { type: "text", text: "fix the failing test" },
        ],
      },
      {
        role: "assistant",
        content: [
          { type: "tool_use", id: "toolu_01CcRead", name: "Read", input: { file_path: "/repo/a.ts" } },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "toolu_01CcRead", content: "export const a = 1;" },
          { type: "text", text: "now make it 2 — ünïcode ✓", cache_control: { type: "ephemeral" } },
        ],
      },
      { role: "system", content: "<system-reminder>The user switched to plan mode.</system-reminder>" },
    ],
    system: [
      {
        type: "text",
        text: "You are Claude Code, Anthropic's official CLI for Claude.",
        cache_control: { type: "ephemeral" },
      },
      { type: "text", text: "Instructions. ".repeat(2500), cache_control: { type: "ephemeral", ttl: "1h" } },
    ],
    tools,
    metadata: {
      user_id: JSON.stringify({ device_id: "d".repeat(64), account_uuid: "", session_id: sessionId }),
    },
    max_tokens: 64000,
    thinking: { type: "enabled", budget_tokens: 31999 },
    context_management: { edits: [{ type: "clear_thinking_20251015", keep: "all" }] },
    output_config: { effort: "high" },
    stream: true,
  });
}

describe("the request reaches the upstream unchanged", () => {
  it("a Claude-Code-shaped request (~85 KB, ?beta=true, role:system message, 25 tools) passes byte for byte", async () => {
    const t = trace("tools");
    const session = crypto.randomUUID();
    const body = claudeCodeBody(session);
    expect(body.length).toBeGreaterThan(80_000);
    const ccHeaders = {
      authorization: `Bearer ${gatewayKey}`,
      "anthropic-version": "2023-06-01",
      "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27",
      "x-app": "cli",
      "user-agent": "claude-cli/2.0.14 (external, sdk-cli)",
      "x-claude-code-session-id": session,
      "x-stainless-lang": "js",
      "x-stainless-retry-count": "0",
      "accept-encoding": "gzip, deflate, br, zstd",
      ...t.headers,
    };
    const response = await post("/v1/messages?beta=true", body, ccHeaders);
    expect(response.status).toBe(200);
    expect(await readAll(response.body)).toEqual((await sent(t.id)).body);

    const upstream = await received(t.id);
    expect(upstream?.url).toBe("/v1/messages?beta=true");
    expect(upstream?.body).toEqual(new TextEncoder().encode(body));
    for (const name of [
      "anthropic-version",
      "anthropic-beta",
      "x-app",
      "user-agent",
      "x-claude-code-session-id",
      "x-stainless-lang",
      "x-stainless-retry-count",
    ]) {
      expect(upstream?.headers[name], name).toBe(ccHeaders[name as keyof typeof ccHeaders]);
    }
    expect(upstream?.headers["x-api-key"]).toBe(CENTRAL_KEY);
    expect(upstream?.headers.authorization).toBeUndefined();
    expect(JSON.stringify(upstream?.headers)).not.toContain(gatewayKey);

    const { interception, prompts } = await endedInterception(idOf(response));
    expect(interception).toMatchObject({
      client: "Claude Code",
      user_agent: "claude-cli/2.0.14 (external, sdk-cli)",
      client_session_id: session,
      correlating_tool_call_id: "toolu_01CcRead",
    });
    // The trailing role:"system" message is skipped; the prompt is the last text block.
    expect(prompts.map((p) => p.prompt)).toEqual(["now make it 2 — ünïcode ✓"]);
  });

  it("keeps odd but valid JSON bytes as sent (whitespace, escapes, unknown fields, key order)", async () => {
    const t = trace("text");
    const body = `{\n  "stream":false, "zz_unknown": {"a": [1, 2.50, 1e3]},\r\n "model" : "${MODEL}",\t"max_tokens":5,
      "messages":[{"role":"user","content":"caf\\u00e9 ✓ \\ud83c\\udf0d"}], "model_extra": null }  `;
    const response = await post("/v1/messages", body, { "x-api-key": gatewayKey, ...t.headers });
    expect(response.status).toBe(200);
    expect((await received(t.id))?.body).toEqual(new TextEncoder().encode(body));
    const { prompts } = await endedInterception(idOf(response));
    expect(prompts.map((p) => p.prompt)).toEqual(["café ✓ 🌍"]);
  });

  it("takes the session id from metadata.user_id's JSON string; no prompt when the turn only returns tool results", async () => {
    const t = trace("text");
    const body = messageBody({
      metadata: {
        user_id: JSON.stringify({ device_id: "dev", account_uuid: "acc", session_id: "sess-from-metadata" }),
      },
      messages: [
        { role: "user", content: "list files" },
        {
          role: "assistant",
          content: [
            { type: "tool_use", id: "toolu_A", name: "ls", input: {} },
            { type: "tool_use", id: "toolu_B", name: "pwd", input: {} },
          ],
        },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: "toolu_A", content: "a.ts" },
            { type: "tool_result", tool_use_id: "toolu_B", content: [{ type: "text", text: "/repo" }] },
          ],
        },
      ],
    });
    const response = await post("/v1/messages", body, {
      "x-api-key": gatewayKey,
      "user-agent": "curl/8.5.0",
      ...t.headers,
    });
    const { interception, prompts } = await endedInterception(idOf(response));
    expect(interception).toMatchObject({
      client_session_id: "sess-from-metadata",
      correlating_tool_call_id: "toolu_B",
      client: "curl",
    });
    expect(prompts).toEqual([]);
  });

  it("a plain metadata.user_id (not JSON) gives no session; a system-only tail gives no prompt", async () => {
    const t = trace("text");
    const body = messageBody({
      metadata: { user_id: "user-1234" },
      messages: [
        { role: "user", content: "first" },
        { role: "assistant", content: "ok" },
        { role: "system", content: "reminder" },
      ],
    });
    const response = await post("/v1/messages", body, { "x-api-key": gatewayKey, ...t.headers });
    const { interception, prompts } = await endedInterception(idOf(response));
    expect(interception).toMatchObject({ client_session_id: null, correlating_tool_call_id: null });
    expect(prompts).toEqual([]);
  });

  it("adds anthropic-version only when the client sent none, and never changes the client's", async () => {
    const bare = trace("text");
    const response = await SELF.fetch(`${GATEWAY}/anthropic/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": gatewayKey, "content-type": "application/json", ...bare.headers },
      body: messageBody(),
    });
    expect(response.status).toBe(200);
    expect((await received(bare.id))?.headers["anthropic-version"]).toBe("2023-06-01");

    const own = trace("text");
    await post("/v1/messages", messageBody(), {
      "x-api-key": gatewayKey,
      "anthropic-version": "2099-12-31",
      ...own.headers,
    });
    expect((await received(own.id))?.headers["anthropic-version"]).toBe("2099-12-31");
  });

  it("BYOK: the user's own key goes upstream and the gateway key comes in X-AIBridge-Key", async () => {
    const ownKey = "sk-ant-api03-users-own-key-abcdefghijklmnop-WXYZ";
    const t = trace("text");
    const { response } = await sdk({ apiKey: ownKey, headers: { "x-aibridge-key": gatewayKey } })
      .messages.create(
        { model: MODEL, max_tokens: 5, messages: [{ role: "user", content: "byok" }] },
        { headers: t.headers },
      )
      .withResponse();
    const upstream = await received(t.id);
    // The SDK sends its apiKey as Authorization: Bearer; that is the user's own key here.
    expect(upstream?.headers.authorization).toBe(`Bearer ${ownKey}`);
    expect(upstream?.headers["x-api-key"]).toBeUndefined();
    expect(upstream?.headers["x-aibridge-key"]).toBeUndefined();
    expect(JSON.stringify(upstream?.headers)).not.toContain(gatewayKey);
    expect(JSON.stringify(upstream?.headers)).not.toContain(CENTRAL_KEY);
    const { interception } = await endedInterception(idOf(response));
    expect(interception).toMatchObject({ credential_kind: "byok", initiator_id: "alice@example.com" });
    expect(interception.credential_hint).toMatch(/^sk-ant-.*…WXYZ$/);
    expect(interception.credential_hint).not.toContain("users-own-key");

    // x-api-key (Claude Code's ANTHROPIC_API_KEY) as the user's own credential.
    const apiKey = trace("text");
    await post("/v1/messages", messageBody(), {
      "x-api-key": ownKey,
      "x-aibridge-key": gatewayKey,
      ...apiKey.headers,
    });
    const seen = await received(apiKey.id);
    expect(seen?.headers["x-api-key"]).toBe(ownKey);
    expect(seen?.headers.authorization).toBeUndefined();
    expect(JSON.stringify(seen?.headers)).not.toContain(CENTRAL_KEY);
  });
});

// ---- passthrough ---------------------------------------------------------------------------------

describe("passthrough allowlist", () => {
  it("models, models/{id}, count_tokens and event_logging pass with the provider key and are not intercepted", async () => {
    const client = sdk();
    const t = trace();
    const startedAt = Date.now();

    const page = await client.models.list({ limit: 1 }, { headers: t.headers });
    expect(page.data.map((m) => m.id)).toEqual(["claude-sonnet-4-5-20250929"]);
    const upstream = await received(t.id);
    expect(upstream?.url).toBe("/v1/models?limit=1");
    expect(upstream?.headers["x-api-key"]).toBe(CENTRAL_KEY);
    expect(JSON.stringify(upstream?.headers)).not.toContain(gatewayKey);

    expect((await client.models.retrieve("claude-opus-4-1-20250805")).display_name).toBe("Claude Opus 4.1");
    await expect(client.models.retrieve("no-such-model")).rejects.toMatchObject({ status: 404 });

    const counted = await client.messages.countTokens({
      model: MODEL,
      messages: [{ role: "user", content: "count me" }],
    });
    expect(counted.input_tokens).toBe(10 + JSON.stringify([{ role: "user", content: "count me" }]).length);

    const logged = trace();
    const telemetry = '{"events":[{"event_type":"ClaudeCodeInternalEvent"}]}';
    const response = await post("/api/event_logging/batch", telemetry, {
      "x-api-key": gatewayKey,
      ...logged.headers,
    });
    expect(response.status).toBe(200);
    const seen = await received(logged.id);
    expect(seen?.url).toBe("/api/event_logging/batch");
    expect(seen?.body).toEqual(new TextEncoder().encode(telemetry));

    // A bridged request last, as a marker: once its records are in D1, any interception the
    // passthrough calls above had opened (their records were sent earlier) would be there too.
    const marker = await client.messages
      .create({ model: MODEL, max_tokens: 5, messages: [{ role: "user", content: "marker" }] })
      .withResponse();
    const markerId = marker.response.headers.get("x-aibridge-interception-id")!;
    await endedInterception(markerId);
    const since = await rows<{ id: string }>(
      "select id from aibridge_interceptions where started_at >= ?",
      startedAt,
    );
    expect(since.map((row) => row.id)).toEqual([markerId]);
  });

  it("everything else under /anthropic is 404 in Anthropic's shape and never reaches the upstream", async () => {
    const requests = async () =>
      ((await (await fetch(`${UPSTREAM}/__fake/requests`)).json()) as unknown[]).length;
    const before = await requests();
    const attempts: [string, string][] = [
      ["POST", "/anthropic/v1/complete"],
      ["GET", "/anthropic/v1/files"],
      ["POST", "/anthropic/v1/messages/batches"],
      ["GET", "/anthropic/v1/models/a%2F..%2Fb"],
      ["GET", "/anthropic/v1/organizations/me"],
      ["POST", "/anthropic/api/other"],
    ];
    for (const [method, path] of attempts) {
      const response = await SELF.fetch(`${GATEWAY}${path}`, {
        method,
        headers: { "x-api-key": gatewayKey, "content-type": "application/json" },
        body: method === "POST" ? "{}" : undefined,
      });
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(await response.json()).toMatchObject({ type: "error", error: { type: "not_found_error" } });
    }
    expect(await requests()).toBe(before);
  });

  it("answers Claude Code's HEAD /anthropic pre-connect locally, without a key", async () => {
    const requests = async () =>
      ((await (await fetch(`${UPSTREAM}/__fake/requests`)).json()) as unknown[]).length;
    const before = await requests();
    for (const path of ["/anthropic", "/anthropic/"]) {
      const response = await SELF.fetch(`${GATEWAY}${path}`, { method: "HEAD" });
      expect(response.status, path).toBe(200);
    }
    expect(await requests()).toBe(before);
  });

  it("passthrough routes are authenticated too", async () => {
    const response = await SELF.fetch(`${GATEWAY}/anthropic/v1/models`, {
      headers: { "x-api-key": "aib_wrong" },
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ type: "error", error: { type: "authentication_error" } });
  });
});

// ---- errors --------------------------------------------------------------------------------------

describe("errors", () => {
  it.each([
    ["bad JSON", '{"model": "x", "messages": [', /not valid JSON/],
    ["missing model", '{"max_tokens": 5, "messages": []}', /model/],
    ["non-object body", '["model"]', /JSON object/],
    ["a string body", '"hello"', /JSON object/],
    ["empty body", "", /empty/],
  ])("%s → 400 in Anthropic's shape, upstream never called", async (_name, body, message) => {
    const t = trace();
    const response = await post("/v1/messages", body, { "x-api-key": gatewayKey, ...t.headers });
    expect(response.status).toBe(400);
    const error = (await response.json()) as { type: string; error: { type: string; message: string } };
    expect(error).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
    expect(error.error.message).toMatch(message);
    expect(await received(t.id)).toBeNull();
  });

  it("a body over 32 MiB → 413 in Anthropic's shape", async () => {
    const t = trace();
    const response = await post("/v1/messages", `{"model":"x","pad":"${"x".repeat(32 * 1024 * 1024)}"}`, {
      "x-api-key": gatewayKey,
      ...t.headers,
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ type: "error", error: { type: "request_too_large" } });
    expect(await received(t.id)).toBeNull();
  });

  it.each([
    [400, "invalid_request_error", false],
    [429, "rate_limit_error", false],
    [529, "overloaded_error", true],
    [500, "api_error", true],
  ])(
    "upstream %i is relayed unchanged (body and headers) and recorded as %s",
    async (status, type, streaming) => {
      const t = trace(`status-${status}`);
      const response = await post("/v1/messages", messageBody({ stream: streaming }), {
        "x-api-key": gatewayKey,
        ...t.headers,
      });
      expect(response.status).toBe(status);
      const upstream = await sent(t.id);
      expect(new Uint8Array(await response.arrayBuffer())).toEqual(upstream.body);
      expect(response.headers.get("request-id")).toBe("req_011CFakeRequestId0001");
      expect(response.headers.get("retry-after")).toBe(upstream.headers["retry-after"] ?? null);
      if (status === 429) expect(response.headers.get("anthropic-ratelimit-requests-remaining")).toBe("0");
      const { interception } = await endedInterception(idOf(response));
      expect(interception).toMatchObject({
        status: "failed",
        error_type: type,
        streaming: streaming ? 1 : 0,
      });
      expect(interception.error_message).toBe(JSON.parse(utf8.decode(upstream.body)).error.message);
    },
  );

  it("the SDK sees upstream errors as the provider's (type, status, retry-after, request id)", async () => {
    const error = await sdk()
      .messages.create(
        { model: MODEL, max_tokens: 5, messages: [{ role: "user", content: "x" }] },
        { headers: trace("status-429").headers },
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    const apiError = error as InstanceType<typeof Anthropic.APIError>;
    expect(apiError.type).toBe("rate_limit_error");
    expect(apiError.requestID).toBe("req_011CFakeRequestId0001");
    expect(apiError.headers?.get("retry-after")).toBe("17");
  });

  it("an unreachable upstream → 502 in Anthropic's shape, interception failed", async () => {
    // The real app with one binding changed: an upstream port nothing listens on.
    const deadEnv = { ...env, ANTHROPIC_BASE_URL: "http://127.0.0.1:1" };
    const ctx = createExecutionContext();
    const response = await app.fetch(
      new Request(`${GATEWAY}/anthropic/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": gatewayKey, "content-type": "application/json" },
        body: messageBody(),
      }),
      deadEnv,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(response.status).toBe(502);
    const body = (await response.json()) as { type: string; error: { type: string; message: string } };
    expect(body).toMatchObject({ type: "error", error: { type: "api_error" } });
    expect(body.error.message).not.toContain("127.0.0.1");
    const row = await eventually(async () => {
      const [found] = await rows(
        "select * from aibridge_interceptions where error_type = 'upstream_unreachable'",
      );
      if (!found?.ended_at) throw new Error("not recorded yet");
      return found;
    });
    expect(row).toMatchObject({ status: "failed", initiator_id: "alice@example.com" });
  });

  it("a 200 that is not JSON is relayed unchanged and the interception fails as unparseable", async () => {
    const t = trace("garbage");
    const response = await post("/v1/messages", messageBody(), { "x-api-key": gatewayKey, ...t.headers });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("<html>not json</html>");
    const { interception } = await endedInterception(idOf(response));
    expect(interception).toMatchObject({
      status: "failed",
      error_type: "unparseable_response",
      error_message: "The upstream's body is not valid JSON (SyntaxError).",
    });
  });

  it("no secret (gateway key, provider key, BYOK key) is stored in any D1 row", async () => {
    const tables = [
      "aibridge_interceptions",
      "aibridge_token_usages",
      "aibridge_user_prompts",
      "aibridge_tool_usages",
      "aibridge_model_thoughts",
      "aibridge_api_keys",
    ];
    const dump = JSON.stringify(await Promise.all(tables.map((table) => rows(`select * from ${table}`))));
    expect(dump.length).toBeGreaterThan(1000);
    for (const secret of [gatewayKey, CENTRAL_KEY, "users-own-key"]) expect(dump).not.toContain(secret);
  });
});
