/**
 * Limits inside the MCP inner loop: every upstream call of the loop reserves its own worst case
 * (plus what the interception has already recorded), and the interception's end reconciles the
 * summed cost. The fake model (test/fakes/mcp-upstream.ts) calls the echo tool once, then answers.
 */
import { SELF } from "cloudflare:test";
import Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import type { LimitState } from "../../src/limits/limiter";
import { admin, createKey, endedInterception, eventually, GATEWAY, rows } from "../worker/helpers";
import { upstreamRequests } from "./helpers";

const question = {
  model: "claude-sonnet-4-5",
  max_tokens: 256,
  messages: [{ role: "user" as const, content: "Say hello through the echo tool." }],
};

function client(key: string, test: string) {
  return new Anthropic({
    baseURL: `${GATEWAY}/anthropic`,
    apiKey: key,
    maxRetries: 0,
    defaultHeaders: { "x-test-id": test, "x-fake-scenario": "call" },
    fetch: SELF.fetch.bind(SELF),
  });
}

/** The documented worst case of one call (claude-sonnet-4-5: dearest input $6, output $15 per MTok). */
function bound(text: string): number {
  return (new TextEncoder().encode(text).byteLength + 1000) * 6 + question.max_tokens * 15;
}

async function state(user: string): Promise<LimitState> {
  const response = await admin(`/limits/${encodeURIComponent(user)}`);
  return ((await response.json()) as { state: LimitState }).state;
}

async function settled(user: string): Promise<LimitState> {
  return eventually(async () => {
    const s = await state(user);
    if (s.in_flight !== 0) throw new Error(`in flight: ${JSON.stringify(s)}`);
    return s;
  });
}

async function recordedMicros(interceptionId: string): Promise<number> {
  const [row] = await rows<{ micros: number }>(
    "select sum(cost_micros) as micros from aibridge_token_usages where interception_id = ?",
    interceptionId,
  );
  return row?.micros ?? 0;
}

async function policy(user: string, body: unknown) {
  const response = await admin(`/limits/${encodeURIComponent(user)}`, {
    method: "PUT",
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
}

describe("limits in the MCP loop", () => {
  let firstBody = "";

  it("each iteration is reserved; the end reconciles the summed cost of all iterations", async () => {
    const user = "loop-budget@example.com";
    const { key } = await createKey(user);
    await policy(user, { budget_usd: 10 });
    const { response } = await client(key, "limits-ok").messages.create(question).withResponse();
    const sent = await upstreamRequests("limits-ok");
    expect(sent).toHaveLength(2);
    firstBody = sent[0]?.text ?? "";
    const id = response.headers.get("x-aibridge-interception-id") ?? "";
    const { interception, tokens } = await endedInterception(id);
    expect(interception.status).toBe("completed");
    expect(tokens).toHaveLength(2);
    const s = await settled(user);
    const recorded = await recordedMicros(id);
    // Both iterations' usage (input 100·N, output 10·N, a few cache reads) is in the spend.
    expect(recorded).toBeGreaterThan(100 * 3 + 10 * 15 + 200 * 3 + 20 * 15 - 1);
    expect(s.spent_usd).toBe(recorded / 1e6);
    expect(s.reserved_usd).toBe(0);
    // One client request for RPM, however many iterations.
    expect(s.requests_last_minute).toBe(1);
  });

  it("a budget that fits the first iteration only: the second is refused before it reaches the upstream", async () => {
    const user = "loop-tight@example.com";
    const { key } = await createKey(user);
    // The first call fits exactly; the second needs the first's recorded cost plus its own (larger) worst case.
    await policy(user, { budget_usd: bound(firstBody) / 1e6 });
    const refused = await client(key, "limits-tight")
      .messages.create(question)
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.RateLimitError);
    const error = refused as InstanceType<typeof Anthropic.RateLimitError>;
    expect(error.message).toContain("Budget of $");
    expect(Number(error.headers?.get("retry-after"))).toBeGreaterThan(0);
    const sent = await upstreamRequests("limits-tight");
    expect(sent).toHaveLength(1);
    expect(sent[0]?.text).toBe(firstBody);

    const id = error.headers?.get("x-aibridge-interception-id") ?? "";
    const { interception } = await endedInterception(id);
    // Something did reach the upstream, so this is a failure of the loop, not a rejected request.
    expect(interception).toMatchObject({ status: "failed", error_type: "budget_exceeded" });
    const s = await settled(user);
    expect(s.spent_usd).toBe((await recordedMicros(id)) / 1e6);
    expect(s.spent_usd).toBeGreaterThan(0);
    expect(s.spent_usd).toBeLessThanOrEqual(s.budget_usd ?? 0);
  });

  it("streaming: a refusal between iterations ends the one client stream with the provider's error event", async () => {
    const user = "loop-tight-stream@example.com";
    const { key } = await createKey(user);
    const streamed = JSON.stringify({ ...question, stream: true });
    // The loop's first streaming body is the blocking one plus `,"stream":true` (14 bytes).
    await policy(user, { budget_usd: (bound(firstBody) + 14 * 6) / 1e6 });
    const response = await SELF.fetch(`${GATEWAY}/anthropic/v1/messages`, {
      method: "POST",
      headers: {
        "x-api-key": key,
        "content-type": "application/json",
        "x-test-id": "limits-stream",
        "x-fake-scenario": "call",
      },
      body: streamed,
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain("event: error");
    expect(text).toContain("Budget of $");
    const sent = await upstreamRequests("limits-stream");
    expect(sent).toHaveLength(1);
    expect(new TextEncoder().encode(sent[0]?.text).byteLength).toBe(
      new TextEncoder().encode(firstBody).byteLength + 14,
    );
    const { interception } = await endedInterception(
      response.headers.get("x-aibridge-interception-id") ?? "",
    );
    expect(interception).toMatchObject({ status: "failed", error_type: "budget_exceeded" });
    await settled(user);
  });
});
