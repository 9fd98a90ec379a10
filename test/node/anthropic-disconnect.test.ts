/**
 * A client that disconnects mid-stream still gets its final usage recorded. Needs real TCP: the
 * in-process vitest pool cancels streams in a way a real socket close does not reproduce, so this
 * runs the Worker under `wrangler dev` (./wrangler-dev.ts) with the fake Anthropic upstream.
 */
import { randomUUID } from "node:crypto";
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startFakeAnthropic } from "../fakes/anthropic";
import type { FakeServer } from "../fakes/server";
import { startWranglerDev, type WranglerDev } from "./wrangler-dev";

let fake: FakeServer;
let dev: WranglerDev;

beforeAll(async () => {
  fake = await startFakeAnthropic();
  dev = await startWranglerDev({ vars: { ANTHROPIC_BASE_URL: fake.url } });
});

afterAll(async () => {
  await dev?.stop();
  await fake?.close();
});

async function sent(trace: string): Promise<{ completed: boolean; bodyBase64: string }> {
  return (await fetch(`${fake.url}/__fake/sent/${trace}`)).json();
}

describe("client disconnect against wrangler dev", () => {
  it("aborting mid-stream: the gateway drains the upstream and records the final usage as client_disconnected", async () => {
    const { key } = await dev.createKey("bob@example.com");
    const trace = randomUUID();
    const client = new Anthropic({ baseURL: `${dev.url}/anthropic`, apiKey: key, maxRetries: 0 });
    const stream = client.messages.stream(
      {
        model: "claude-sonnet-4-5-20250929",
        max_tokens: 8000,
        messages: [{ role: "user", content: "write a lot" }],
      },
      { headers: { "x-fake-scenario": "slow", "x-fake-trace": trace } },
    );
    const { response } = await stream.withResponse();
    const id = response.headers.get("x-aibridge-interception-id");
    expect(id).toBeTruthy();

    // Read a few deltas, then hang up (undici closes the socket).
    await new Promise<void>((resolve) => {
      let deltas = 0;
      stream.on("text", () => {
        if (++deltas === 3) resolve();
      });
    });
    stream.abort();
    await expect(stream.done()).rejects.toThrow();
    // The abort really was mid-stream: the upstream had not finished yet.
    expect((await sent(trace)).completed).toBe(false);

    // The gateway kept reading: the fake got to write its last byte (message_delta with the total).
    await vi.waitFor(async () => expect((await sent(trace)).completed).toBe(true), {
      timeout: 15_000,
      interval: 200,
    });
    expect(Buffer.from((await sent(trace)).bodyBase64, "base64").toString()).toContain(
      '"output_tokens":4242',
    );

    const interception = await vi.waitFor(
      async () => {
        const [row] = await dev.d1<Record<string, unknown>>(
          `select * from aibridge_interceptions where id = '${id}'`,
        );
        if (!row?.ended_at) throw new Error(`interception not ended yet\n${dev.output().slice(-2000)}`);
        return row;
      },
      { timeout: 60_000, interval: 500 },
    );
    expect(interception).toMatchObject({
      initiator_id: "bob@example.com",
      status: "client_disconnected",
      stop_reason: "end_turn",
      streaming: 1,
    });
    const tokens = await dev.d1(`select * from aibridge_token_usages where interception_id = '${id}'`);
    expect(tokens).toHaveLength(1);
    // The final cumulative count, not the start placeholder (1) nor a partial count.
    expect(tokens[0]).toMatchObject({
      provider_response_id: "msg_01FakeSlow",
      input_tokens: 30,
      output_tokens: 4242,
    });
    expect(dev.output()).not.toContain(key);
  });
});
