/**
 * The fake Bedrock server (test/fakes/bedrock.ts) judged by the official @anthropic-ai/bedrock-sdk:
 * the SDK signs with AWS's own signer (@smithy/signature-v4) and decodes the event stream with
 * AWS's own codec, so if the fake's SigV4 check or framing were wrong, these would fail. The
 * gateway's decoder (src/providers/bedrock/eventstream.ts) is checked against the same frames,
 * fed one byte at a time, and must refuse a corrupted CRC.
 */
import { AnthropicBedrock } from "@anthropic-ai/bedrock-sdk";
import { eventStreamToSSEResponse } from "@anthropic-ai/bedrock-sdk/core/streaming";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventStreamDecoder, EventStreamError } from "../../src/providers/bedrock/eventstream";
import { transcodeEventStream } from "../../src/providers/bedrock/transcode";
import { chunkFrame, exceptionFrame, FAKE_AWS, startFakeBedrock } from "../fakes/bedrock";
import type { FakeServer } from "../fakes/server";

let fake: FakeServer;
beforeAll(async () => {
  fake = await startFakeBedrock();
});
afterAll(() => fake.close());

const MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";

function client(secret = FAKE_AWS.secretAccessKey, headers: Record<string, string> = {}) {
  return new AnthropicBedrock({
    baseURL: fake.url,
    awsRegion: FAKE_AWS.region,
    awsAccessKey: FAKE_AWS.accessKeyId,
    awsSecretKey: secret,
    defaultHeaders: headers,
    maxRetries: 0,
  });
}

describe("fake Bedrock vs the official Bedrock SDK", () => {
  it("accepts the SDK's SigV4 signature and answers InvokeModel", async () => {
    const message = await client().messages.create({
      model: MODEL,
      max_tokens: 50,
      messages: [{ role: "user", content: "hi" }],
    });
    expect(message.content).toEqual([{ type: "text", text: "Hello from Bedrock, wörld 🌍!" }]);
    expect(message.usage).toMatchObject({ input_tokens: 21, output_tokens: 13, cache_read_input_tokens: 8 });
    const seen = fake.requests.at(-1);
    expect(seen?.url).toMatch(/^\/model\/us\.anthropic\.claude-sonnet-4-5-20250929-v1(:|%3A)0\/invoke$/);
  });

  it("streams frames the SDK's event-stream decoder turns into a complete message", async () => {
    const sdk = client(FAKE_AWS.secretAccessKey, { "x-fake-bedrock": "tools" });
    const message = await sdk.messages
      .stream({ model: MODEL, max_tokens: 50, messages: [{ role: "user", content: "weather?" }] })
      .finalMessage();
    expect(message.stop_reason).toBe("tool_use");
    expect(message.content[1]).toMatchObject({
      type: "tool_use",
      name: "get_weather",
      input: { city: "Paris", unit: "c" },
    });
    expect(message.usage.output_tokens).toBe(13);
  });

  it("refuses a signature made with the wrong secret (403 InvalidSignatureException)", async () => {
    const error = (await client("not-the-secret")
      .messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e)) as { status?: number; message?: string };
    expect(error.status).toBe(403);
    expect(error.message).toContain("signature we calculated does not match");
  });

  it("sends exception frames the SDK reports as a typed stream error", async () => {
    const sdk = client(FAKE_AWS.secretAccessKey, { "x-fake-bedrock": "stream-exception" });
    const error = await sdk.messages
      .stream({ model: MODEL, max_tokens: 5, messages: [{ role: "user", content: "hi" }] })
      .finalMessage()
      .catch((e: unknown) => e as Error);
    expect(String(error)).toMatch(/throttlingException|Too many tokens/);
  });
});

describe("the gateway's event-stream decoder", () => {
  it("decodes the fake's frames fed one byte at a time, headers and payload intact", () => {
    const frames = Buffer.concat([
      chunkFrame({ type: "ping" }),
      exceptionFrame("throttlingException", "slow down ünïcode"),
    ]);
    const decoder = new EventStreamDecoder();
    const messages = [];
    for (const byte of frames) messages.push(...decoder.push(Uint8Array.of(byte)));
    expect(decoder.pending).toBe(0);
    expect(messages).toHaveLength(2);
    expect(messages[0]?.headers).toEqual({
      ":event-type": "chunk",
      ":content-type": "application/json",
      ":message-type": "event",
    });
    const part = JSON.parse(Buffer.from(messages[0]?.payload ?? []).toString()) as { bytes: string };
    expect(JSON.parse(Buffer.from(part.bytes, "base64").toString())).toEqual({ type: "ping" });
    expect(messages[1]?.headers[":exception-type"]).toBe("throttlingException");
    expect(JSON.parse(Buffer.from(messages[1]?.payload ?? []).toString())).toEqual({
      message: "slow down ünïcode",
    });
  });

  it("refuses a frame whose message CRC or prelude CRC is wrong", () => {
    const frame = Buffer.from(chunkFrame({ type: "ping" }));
    const badMessage = Buffer.from(frame);
    badMessage[badMessage.length - 1] = (badMessage[badMessage.length - 1] as number) ^ 0x80;
    expect(() => new EventStreamDecoder().push(badMessage)).toThrow(EventStreamError);
    expect(() => new EventStreamDecoder().push(badMessage)).toThrow(/message CRC mismatch/);
    const badPrelude = Buffer.from(frame);
    badPrelude[3] = (badPrelude[3] as number) + 1;
    expect(() => new EventStreamDecoder().push(badPrelude)).toThrow(/prelude CRC mismatch/);
  });
});

describe("the gateway's transcoder vs the official SDK's", () => {
  const events = [
    {
      type: "message_start",
      message: {
        id: "msg_1",
        type: "message",
        role: "assistant",
        content: [],
        usage: { input_tokens: 3, output_tokens: 1 },
      },
    },
    { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
    {
      type: "content_block_delta",
      index: 0,
      delta: { type: "text_delta", text: 'wörld 🌍 "quoted"\nnew line' },
    },
    { type: "content_block_stop", index: 0 },
    { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: 7 } },
    { type: "message_stop", "amazon-bedrock-invocationMetrics": { inputTokenCount: 3, outputTokenCount: 7 } },
  ];

  /** The frames as a byte stream cut into 3-byte pieces. */
  function frames(extra: Buffer[] = []): ReadableStream<Uint8Array> {
    const bytes = Buffer.concat([...events.map((event) => chunkFrame(event)), ...extra]);
    let offset = 0;
    return new ReadableStream({
      pull(controller) {
        if (offset >= bytes.length) return controller.close();
        controller.enqueue(new Uint8Array(bytes.subarray(offset, offset + 3)));
        offset += 3;
      },
    });
  }

  it("produces the same SSE bytes as @anthropic-ai/bedrock-sdk for chunk events", async () => {
    const sdk = await (eventStreamToSSEResponse as (r: Response) => Response)(new Response(frames())).text();
    const gateway = await new Response(transcodeEventStream(frames())).text();
    expect(gateway).toBe(sdk);
    expect(gateway.split("\n\n").filter(Boolean)).toHaveLength(events.length);
  });

  it("an exception frame ends the stream with an Anthropic-typed error event (the SDK keeps AWS's name)", async () => {
    const extra = [exceptionFrame("throttlingException", "Too many tokens")];
    const gateway = await new Response(transcodeEventStream(frames(extra))).text();
    expect(
      gateway.endsWith(
        'event: error\ndata: {"type":"error","error":{"type":"rate_limit_error","message":"Too many tokens"}}\n\n',
      ),
    ).toBe(true);
    const sdk = await (eventStreamToSSEResponse as (r: Response) => Response)(
      new Response(frames(extra)),
    ).text();
    expect(sdk).toContain('"type":"throttlingException"');
  });
});
