/**
 * A client that disconnects mid-stream from a Chat Completions stream still gets its usage
 * recorded. The client did not ask for include_usage, so the usage exists only in the chunk the
 * gateway asked for and hides: the gateway must keep reading the upstream after the client left.
 * Needs real TCP, so the Worker runs under `wrangler dev` (./wrangler-dev.ts).
 */
import { randomUUID } from "node:crypto";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startFakeOpenAI } from "../fakes/openai";
import type { FakeServer } from "../fakes/server";
import { startWranglerDev, type WranglerDev } from "./wrangler-dev";

let fake: FakeServer;
let dev: WranglerDev;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  dev = await startWranglerDev({ vars: { OPENAI_BASE_URL: `${fake.url}/v1` } });
});

afterAll(async () => {
  await dev?.stop();
  await fake?.close();
});

async function upstreamFinished(trace: string): Promise<boolean> {
  const response = await fetch(`${fake.url}/__fake/sent/${trace}`);
  return response.ok && ((await response.json()) as { completed: boolean }).completed;
}

describe("client disconnect against wrangler dev (OpenAI)", () => {
  it("aborting a chat stream mid-way: the upstream is drained and the hidden usage chunk recorded", async () => {
    const { key } = await dev.createKey("carol@example.com");
    const trace = randomUUID();
    const client = new OpenAI({ baseURL: `${dev.url}/openai/v1`, apiKey: key, maxRetries: 0 });
    const { data: stream, response } = await client.chat.completions
      .create(
        { model: "gpt-4o-mini", stream: true, messages: [{ role: "user", content: "write a lot" }] },
        { headers: { "x-fake-scenario": "slow", "x-fake-trace": trace } },
      )
      .withResponse();
    const id = response.headers.get("x-aibridge-interception-id");
    expect(id).toBeTruthy();

    let chunks = 0;
    for await (const chunk of stream) {
      expect("usage" in chunk).toBe(false);
      if (++chunks === 4) break; // leaving the loop aborts the request: the socket closes
    }
    // The hang-up really was mid-stream.
    expect(await upstreamFinished(trace)).toBe(false);

    // The gateway kept reading until the fake wrote its last byte.
    await vi.waitFor(async () => expect(await upstreamFinished(trace)).toBe(true), {
      timeout: 15_000,
      interval: 200,
    });

    const interception = await vi.waitFor(
      async () => {
        const [row] = await dev.d1<Record<string, unknown>>(
          `select * from aibridge_interceptions where id = '${id}'`,
        );
        if (!row?.ended_at) throw new Error("interception not ended yet");
        return row;
      },
      { timeout: 60_000, interval: 500 },
    );
    expect(interception).toMatchObject({
      initiator_id: "carol@example.com",
      provider_name: "chat_completions",
      status: "client_disconnected",
      stop_reason: "stop",
      streaming: 1,
    });
    const tokens = await dev.d1(`select * from aibridge_token_usages where interception_id = '${id}'`);
    expect(tokens).toHaveLength(1);
    expect(tokens[0]).toMatchObject({ input_tokens: 30, output_tokens: 4242 });
    expect(dev.output()).not.toContain(key);
  });
});
