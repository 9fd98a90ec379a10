/**
 * Load: 200 concurrent streaming requests through a real `wrangler dev` over TCP. Every one must
 * complete with the upstream's exact bytes, and D1 must hold exactly one interception per request,
 * each with the right token sums (no record lost or doubled under load).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startFakeAnthropic } from "../fakes/anthropic";
import type { FakeServer } from "../fakes/server";
import { startWranglerDev, type WranglerDev } from "./wrangler-dev";

const CONCURRENCY = 200;
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

describe("load through wrangler dev", () => {
  it(`${CONCURRENCY} concurrent streams all complete and are each recorded exactly once`, async () => {
    const { key } = await dev.createKey("load@example.com");
    const body = JSON.stringify({
      model: "claude-sonnet-4-5",
      max_tokens: 100,
      stream: true,
      messages: [{ role: "user", content: "load test" }],
    });
    const responses = await Promise.all(
      Array.from({ length: CONCURRENCY }, async (_, i) => {
        const response = await fetch(`${dev.url}/anthropic/v1/messages`, {
          method: "POST",
          headers: {
            "x-api-key": key,
            "content-type": "application/json",
            "x-fake-scenario": "cache",
            "x-claude-code-session-id": `load-${i}`,
          },
          body,
        });
        return {
          status: response.status,
          id: response.headers.get("x-aibridge-interception-id"),
          text: await response.text(),
        };
      }),
    );
    for (const response of responses) {
      expect(response.status).toBe(200);
      expect(response.text).toContain("event: message_stop");
    }
    const ids = new Set(responses.map((r) => r.id));
    expect(ids.size).toBe(CONCURRENCY);

    // The same scenario gives the same usage each time: read it from one request's record.
    const perRequest = await vi.waitFor(
      async () => {
        const rows = await dev.d1<{ n: number; ended: number; sessions: number }>(
          "select count(*) as n, sum(ended_at is not null) as ended, count(distinct client_session_id) as sessions from aibridge_interceptions where initiator_id = 'load@example.com'",
        );
        expect(rows[0]).toEqual({ n: CONCURRENCY, ended: CONCURRENCY, sessions: CONCURRENCY });
        const usages = await dev.d1<{ n: number }>(
          "select count(*) as n from aibridge_token_usages t join aibridge_interceptions i on i.id = t.interception_id where i.initiator_id = 'load@example.com'",
        );
        expect(usages[0]?.n).toBe(CONCURRENCY);
        const [one] = await dev.d1<{
          input: number;
          output: number;
          cache_read: number;
          cache_write: number;
        }>(
          "select input_tokens as input, output_tokens as output, cache_read_input_tokens as cache_read, cache_write_input_tokens as cache_write from aibridge_token_usages limit 1",
        );
        return one!;
      },
      { timeout: 60_000, interval: 1000 },
    );
    const [sums] = await dev.d1<{
      input: number;
      output: number;
      cache_read: number;
      cache_write: number;
      kinds: number;
    }>(
      `select sum(t.input_tokens) as input, sum(t.output_tokens) as output, sum(t.cache_read_input_tokens) as cache_read,
              sum(t.cache_write_input_tokens) as cache_write,
              count(distinct t.input_tokens || '/' || t.output_tokens || '/' || t.cache_read_input_tokens) as kinds
       from aibridge_token_usages t join aibridge_interceptions i on i.id = t.interception_id
       where i.initiator_id = 'load@example.com'`,
    );
    // The fake's "cache" scenario: the final message_delta's counts are authoritative.
    expect(perRequest).toEqual({ input: 1250, output: 512, cache_read: 40000, cache_write: 3000 });
    expect(sums).toEqual({
      input: perRequest.input * CONCURRENCY,
      output: perRequest.output * CONCURRENCY,
      cache_read: perRequest.cache_read * CONCURRENCY,
      cache_write: perRequest.cache_write * CONCURRENCY,
      kinds: 1,
    });
  }, 180_000);
});
