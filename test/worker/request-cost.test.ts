/**
 * The gateway's per-request cost, where it is a behaviour a test can hold (the figures themselves
 * are in bench/RESULTS.md): how many queue sends one bridged request makes, and that the stream
 * parsers' shortcuts (delta strings sliced out instead of JSON.parse) give exactly what parsing
 * gives, escapes and all, and fall back to parsing for any other shape.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { observeCachePrefix } from "../../src/analytics/observe";
import { app } from "../../src/app";
import { Interception } from "../../src/bridge/interception";
import type { Env } from "../../src/config";
import { MessagesStreamParser } from "../../src/providers/anthropic/stream";
import { ChatStreamParser, ResponsesStreamParser } from "../../src/providers/openai/stream";
import { type RecordMessage, type RecordPack, recordsOf } from "../../src/recorder/records";
import { createKey, GATEWAY } from "./helpers";

let gatewayKey: string;
beforeAll(async () => {
  gatewayKey = (await createKey("cost@example.com", "request cost tests")).key;
});

/** A RECORDS queue that keeps what it was sent (and sends nothing on): records per send, messages per send. */
function recordingQueue() {
  const batches: RecordMessage[][] = [];
  const messageCounts: number[] = [];
  const keep = (bodies: (RecordMessage | RecordPack)[]) => {
    batches.push(bodies.flatMap(recordsOf));
    messageCounts.push(bodies.length);
  };
  const queue = {
    async send(body: RecordMessage | RecordPack) {
      keep([body]);
    },
    async sendBatch(messages: Iterable<{ body: RecordMessage | RecordPack }>) {
      keep([...messages].map((m) => m.body));
    },
  };
  return { batches, messageCounts, queue: queue as unknown as Queue<unknown> };
}

/** An interception opened as the handler opens one, recording into `queue`. */
function openInterception(queue: Queue<unknown>, ctx: ExecutionContext): Interception {
  return new Interception(
    {
      env: { ...(env as unknown as Env), RECORDS: queue },
      ctx,
      recording: { configured: "redacted", header: null, key: "request-cost-test-key" },
      startRecordDelayMs: 10_000,
    },
    {
      actor: {
        userId: "cost-user",
        keyId: "cost-key",
        credentialKind: "centralized",
        credentialHint: null,
        byokCredential: null,
      },
      provider: "anthropic",
      providerName: "messages",
      model: "claude-sonnet-4-5-20250929",
      client: "unknown",
      userAgent: null,
      clientSessionId: null,
      correlatingToolCallId: null,
      streaming: false,
    },
  );
}

const messagesRequest = (headers: Record<string, string> = {}) =>
  new Request(`${GATEWAY}/anthropic/v1/messages`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "anthropic-version": "2023-06-01",
      "x-api-key": gatewayKey,
      ...headers,
    },
    body: JSON.stringify({
      model: "claude-sonnet-4-5-20250929",
      max_tokens: 64,
      stream: true,
      system: [{ type: "text", text: "Be brief.", cache_control: { type: "ephemeral" } }],
      messages: [{ role: "user", content: "Hello" }],
    }),
  });

describe("queue sends per interception", () => {
  it("a request that ends in time is one message: the end record with everything (no start record, key use once a minute)", async () => {
    const kindsOf = async () => {
      const { batches, messageCounts, queue } = recordingQueue();
      const ctx = createExecutionContext();
      const response = await app.fetch(
        messagesRequest(),
        { ...(env as unknown as Env), RECORDS: queue },
        ctx,
      );
      expect(response.status).toBe(200);
      await response.text();
      await waitOnExecutionContext(ctx);
      // One sendBatch carrying one message (Queues bill, and the broker works, per message).
      expect(messageCounts).toEqual([1]);
      return batches.map((batch) => batch.map((r) => r.kind).sort());
    };
    // The key's first use in this isolate is recorded; the next within the minute is not.
    expect(await kindsOf()).toEqual([
      ["cache_fingerprint", "interception_ended", "key_used", "prompt", "token_usage"],
    ]);
    expect(await kindsOf()).toEqual([["cache_fingerprint", "interception_ended", "prompt", "token_usage"]]);
  });

  it("an interception that ends at once still sends one message, its deferred fingerprint included", async () => {
    const { batches, messageCounts, queue } = recordingQueue();
    const ctx = createExecutionContext();
    const interception = openInterception(queue, ctx);
    const body = JSON.stringify({
      model: "claude-sonnet-4-5-20250929",
      max_tokens: 8,
      system: [{ type: "text", text: "Be brief.", cache_control: { type: "ephemeral" } }],
      messages: [{ role: "user", content: "Hello" }],
    });
    // As the handler does: the fingerprint is deferred request work, and the request ends in the
    // same task (as a refusal or an upstream failure does), before any of that work has run.
    observeCachePrefix(interception, body);
    interception.end({ status: "completed" });
    await waitOnExecutionContext(ctx);
    expect(messageCounts).toEqual([1]);
    expect(batches[0]!.map((r) => r.kind)).toContain("cache_fingerprint");
    expect(batches[0]!.map((r) => r.kind)).toContain("interception_ended");
  });

  it("request work queued between the stream's run and the end rides with the end; queued after both, it still runs", async () => {
    const { batches, queue } = recordingQueue();
    const ctx = createExecutionContext();
    const interception = openInterception(queue, ctx);
    interception.streamStarted();
    // Past the stream's AFTER_RESPONSE_MS: the request work has run once.
    await new Promise((r) => setTimeout(r, 50));
    observeCachePrefix(
      interception,
      JSON.stringify({
        model: "claude-sonnet-4-5-20250929",
        max_tokens: 8,
        system: [{ type: "text", text: "Queued late.", cache_control: { type: "ephemeral" } }],
        messages: [{ role: "user", content: "Hello" }],
      }),
    );
    interception.end({ status: "completed" });
    await waitOnExecutionContext(ctx);
    expect(batches.flat().map((r) => r.kind)).toContain("cache_fingerprint");
    // After the end batch was taken, nothing would run a job again: it runs when queued.
    let ran = 0;
    interception.deferRequestWork(() => {
      ran += 1;
    });
    await waitOnExecutionContext(ctx);
    expect(ran).toBe(1);
  });

  it("a request still running after START_RECORD_DELAY_SECONDS sends its start record then, and the rest with the end", async () => {
    const { batches, queue } = recordingQueue();
    const ctx = createExecutionContext();
    const trace = `start-delay-${crypto.randomUUID()}`;
    const response = await app.fetch(
      messagesRequest({ "x-fake-scenario": "gated", "x-fake-trace": trace }),
      { ...(env as unknown as Env), RECORDS: queue, START_RECORD_DELAY_SECONDS: "1" },
      ctx,
    );
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    await reader.read(); // the first events; the fake holds the rest back
    await new Promise((r) => setTimeout(r, 1_300));
    // The start record went out on its own while the stream was still open.
    expect(batches.map((batch) => batch.map((r) => r.kind))).toEqual([["interception_started"]]);
    await fetch(`${inject("anthropicUrl")}/__fake/release/${trace}`, { method: "POST" });
    while (!(await reader.read()).done) {}
    await waitOnExecutionContext(ctx);
    expect(batches).toHaveLength(2);
    expect(batches[1]!.map((r) => r.kind)).toContain("interception_ended");
    expect(batches[1]!.map((r) => r.kind)).not.toContain("interception_started");
  });

  it("a handler that throws after the interception opened records it as failed, not left started", async () => {
    const { batches, queue } = recordingQueue();
    const ctx = createExecutionContext();
    // The handler's second waitUntil (the interception's end, after the upstream answered)
    // throws, as any unexpected failure in the request path would.
    let calls = 0;
    const failingCtx = {
      waitUntil(promise: Promise<unknown>) {
        calls += 1;
        if (calls === 2) throw new TypeError("unexpected");
        ctx.waitUntil(promise);
      },
      passThroughOnException: () => ctx.passThroughOnException(),
    } as unknown as ExecutionContext;
    const response = await app.fetch(
      messagesRequest(),
      { ...(env as unknown as Env), RECORDS: queue },
      failingCtx,
    );
    expect(response.status).toBe(500);
    expect(await response.json()).toMatchObject({ error: { message: "Internal gateway error." } });
    await waitOnExecutionContext(ctx);
    const records = batches.flat();
    expect(records.find((r) => r.kind === "interception_ended")).toMatchObject({
      status: "failed",
      errorType: "gateway_error",
      errorMessage: "Internal gateway error (TypeError).",
    });
  });
});

// ---- stream parsers ---------------------------------------------------------------------------------

interface Seen {
  usage: { outputTokens: number; estimateMethod?: string | null }[];
  tools: { input: string; tool: string }[];
  thoughts: string[];
}

function fakeInterception(): { interception: Interception; seen: Seen } {
  const seen: Seen = { usage: [], tools: [], thoughts: [] };
  const interception = {
    requestTextChars: 40,
    recordTokenUsage: (u: Seen["usage"][number]) => seen.usage.push(u),
    recordToolUsage: (t: Seen["tools"][number]) => seen.tools.push(t),
    recordThought: (text: string) => seen.thoughts.push(text),
  } as unknown as Interception;
  return { interception, seen };
}

/** Strings that need every kind of JSON escape, and characters that need none. */
const AWKWARD = [
  'say "hi"',
  "back\\slash \\\\ twice",
  "line\nbreak\ttab\r",
  "control \u0001 char",
  "naïve café → 🌍",
  "lone \ud800 surrogate",
  "ends with a backslash \\",
  '\\"',
  "",
];

const delta = (index: number, d: Record<string, unknown>) =>
  JSON.stringify({ type: "content_block_delta", index, delta: d });

describe("Anthropic deltas read without JSON.parse", () => {
  it("thinking and tool input come out exactly as parsed, whatever they escape", () => {
    const { interception, seen } = fakeInterception();
    const parser = new MessagesStreamParser(interception);
    const events = [
      [
        "content_block_start",
        JSON.stringify({
          type: "content_block_start",
          index: 0,
          content_block: { type: "thinking", thinking: "" },
        }),
      ],
      ...AWKWARD.map((thinking) => ["content_block_delta", delta(0, { type: "thinking_delta", thinking })]),
      ["content_block_delta", delta(0, { type: "signature_delta", signature: "EqQB/+==" })],
      ["content_block_stop", JSON.stringify({ type: "content_block_stop", index: 0 })],
      [
        "content_block_start",
        JSON.stringify({
          type: "content_block_start",
          index: 12,
          content_block: { type: "tool_use", id: "toolu_1", name: "Edit", input: {} },
        }),
      ],
      ...AWKWARD.map((partial_json) => [
        "content_block_delta",
        delta(12, { type: "input_json_delta", partial_json }),
      ]),
      ["content_block_stop", JSON.stringify({ type: "content_block_stop", index: 12 })],
    ];
    for (const [event, data] of events as [string, string][]) parser.onEvent({ event, data });
    parser.finish();
    // Compared as JSON: a failure's diff must not carry the lone surrogate to the test runner.
    expect(JSON.stringify(seen.thoughts)).toBe(JSON.stringify([AWKWARD.join("")]));
    expect(JSON.stringify(seen.tools.map((t) => t.input))).toBe(JSON.stringify([AWKWARD.join("")]));
  });

  it("any other shape is parsed in full: extra fields, another key order, spaces, a wrong event name", () => {
    const { interception, seen } = fakeInterception();
    const parser = new MessagesStreamParser(interception);
    const pieces = ["a", "b", "c", "d", "e"];
    const data = [
      // A field after the string: the slice must not stop at the first closing brace.
      JSON.stringify({
        type: "content_block_delta",
        index: 0,
        delta: { type: "thinking_delta", thinking: "a", extra: "}}" },
      }),
      JSON.stringify({
        index: 0,
        type: "content_block_delta",
        delta: { type: "thinking_delta", thinking: "b" },
      }),
      JSON.stringify({
        type: "content_block_delta",
        index: 0,
        delta: { thinking: "c", type: "thinking_delta" },
      }),
      '{"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "d"}}',
      delta(0, { type: "thinking_delta", thinking: "e" }),
    ];
    parser.onEvent({
      event: "content_block_start",
      data: JSON.stringify({
        type: "content_block_start",
        index: 0,
        content_block: { type: "thinking", thinking: "" },
      }),
    });
    // The data's own type decides, as with JSON.parse (an SSE event name that disagrees is ignored).
    for (const [i, d] of data.entries())
      parser.onEvent({ event: i === 4 ? "message" : "content_block_delta", data: d });
    parser.finish();
    expect(seen.thoughts).toEqual([pieces.join("")]);
  });

  it("a stream cut before its usage: the output estimate counts the text deltas' characters as written", () => {
    const { interception, seen } = fakeInterception();
    const parser = new MessagesStreamParser(interception);
    parser.onEvent({
      event: "message_start",
      data: JSON.stringify({
        type: "message_start",
        message: { id: "msg_1", usage: { input_tokens: 10, output_tokens: 1 } },
      }),
    });
    // 16 characters as written (the \" counts 2), 4 thinking characters decoded: 20 → 5 tokens.
    parser.onEvent({
      event: "content_block_delta",
      data: delta(0, { type: "text_delta", text: 'twelve "ch' }),
    });
    parser.onEvent({ event: "content_block_delta", data: delta(0, { type: "text_delta", text: "ars" }) });
    parser.onEvent({
      event: "content_block_delta",
      data: delta(1, { type: "thinking_delta", thinking: "a\nb!" }),
    });
    parser.finish();
    expect(seen.usage).toHaveLength(1);
    expect(seen.usage[0]).toMatchObject({ outputTokens: 5, estimateMethod: "message_start+chars/4" });
  });
});

describe("OpenAI deltas read without JSON.parse", () => {
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      id: "chatcmpl-1",
      object: "chat.completion.chunk",
      created: 1,
      model: "gpt-4o",
      system_fingerprint: "fp_1",
      choices,
      usage: null,
      ...extra,
    });

  it("chat: text chunks are counted (decoded length), and chunks that carry anything else still count", () => {
    const { interception, seen } = fakeInterception();
    const parser = new ChatStreamParser(interception);
    const text = AWKWARD.join("|");
    parser.onEvent({
      event: undefined,
      data: chunk([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }]),
    });
    for (const content of AWKWARD)
      parser.onEvent({
        event: undefined,
        data: chunk([{ index: 0, delta: { content: `${content}|` }, logprobs: null, finish_reason: null }]),
      });
    // Two choices in one chunk, and content beside a tool call: parsed in full.
    parser.onEvent({
      event: undefined,
      data: chunk([
        { index: 0, delta: { content: "xy" }, finish_reason: null },
        { index: 1, delta: { content: "z" }, finish_reason: null },
      ]),
    });
    parser.onEvent({
      event: undefined,
      data: chunk([
        {
          index: 0,
          delta: {
            content: "w",
            tool_calls: [
              { index: 0, id: "call_1", type: "function", function: { name: "f", arguments: "{}" } },
            ],
          },
          finish_reason: null,
        },
      ]),
    });
    parser.onEvent({
      event: undefined,
      data: chunk([{ index: 0, delta: { content: "v" }, finish_reason: "stop" }]),
    });
    const outcome = parser.finish();
    expect(outcome.stopReason).toBe("stop");
    expect(seen.tools.map((t) => t.input)).toEqual(["{}"]);
    // No usage chunk: estimated from every character of output seen (decoded).
    const chars = text.length + 1 + 3 + 1 + 2 + 1;
    expect(seen.usage).toEqual([expect.objectContaining({ outputTokens: Math.ceil(chars / 4) })]);
  });

  it("Responses: function-call argument deltas assemble exactly, and a cut stream records them", () => {
    const { interception, seen } = fakeInterception();
    const parser = new ResponsesStreamParser(interception);
    const ev = (type: string, data: Record<string, unknown>) => ({
      event: type,
      data: JSON.stringify({ type, ...data }),
    });
    parser.onEvent(ev("response.created", { response: { id: "resp_1", status: "in_progress" } }));
    parser.onEvent(
      ev("response.output_item.added", {
        output_index: 3,
        item: { id: "fc_1", type: "function_call", call_id: "call_1", name: "edit", arguments: "" },
      }),
    );
    for (const delta of AWKWARD)
      parser.onEvent(
        ev("response.function_call_arguments.delta", {
          sequence_number: 4,
          item_id: "fc_1",
          output_index: 3,
          delta,
          obfuscation: "x{y",
        }),
      );
    parser.finish();
    expect(JSON.stringify(seen.tools.map((t) => t.input))).toBe(JSON.stringify([AWKWARD.join("")]));
  });
});
