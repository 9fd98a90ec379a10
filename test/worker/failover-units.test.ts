/**
 * The breaker's state machine and the relay's keep-alive on their own, with explicit clocks and
 * real streams: the paths the end-to-end tests (test/worker/providers.test.ts) only cross once.
 */
import { describe, expect, it } from "vitest";
import { admit, reportFailure, reportSuccess } from "../../src/bridge/breaker";
import { PING_EVENT, type RelayOutcome, relayStream } from "../../src/bridge/relay";

const settings = { failures: 3, windowMs: 10_000, cooldownMs: 5_000 };

describe("circuit breaker", () => {
  it("opens after N failures inside the window, not when they are spread wider", () => {
    reportFailure("a", "m", settings, 0);
    reportFailure("a", "m", settings, 6_000);
    reportFailure("a", "m", settings, 12_000); // the first one has left the window
    expect(admit("a", "m", settings, 12_001)).toEqual({ allowed: true, probe: false });
    reportFailure("a", "m", settings, 13_000);
    expect(admit("a", "m", settings, 13_001)).toEqual({ allowed: false, retryAfterMs: 4_999 });
    expect(admit("a", "other-model", settings, 13_001)).toEqual({ allowed: true, probe: false });
  });

  it("half-open lets exactly one probe through; a failed probe re-opens, a good one closes", () => {
    for (const at of [0, 1, 2]) reportFailure("b", "m", settings, at);
    expect(admit("b", "m", settings, 4_000).allowed).toBe(false);
    expect(admit("b", "m", settings, 5_002)).toEqual({ allowed: true, probe: true });
    expect(admit("b", "m", settings, 5_003).allowed).toBe(false); // the probe is still out
    reportFailure("b", "m", settings, 5_010);
    expect(admit("b", "m", settings, 9_000)).toEqual({ allowed: false, retryAfterMs: 1_010 });
    expect(admit("b", "m", settings, 10_011)).toEqual({ allowed: true, probe: true });
    reportSuccess("b", "m", settings);
    expect(admit("b", "m", settings, 10_012)).toEqual({ allowed: true, probe: false });
  });

  it("does nothing for an instance without a breaker (today's default instances)", () => {
    for (let i = 0; i < 10; i++) reportFailure("c", "m", null, i);
    expect(admit("c", "m", null, 11)).toEqual({ allowed: true, probe: false });
  });
});

/** A stream that sends each piece after its delay. */
function timed(pieces: [delayMs: number, text: string][]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    async start(controller) {
      for (const [delay, text] of pieces) {
        await new Promise((resolve) => setTimeout(resolve, delay));
        controller.enqueue(encoder.encode(text));
      }
      controller.close();
    },
  });
}

/** The relay with keep-alive on, as the bridge runs it for an Anthropic stream; its outcome kept. */
function relayWithKeepalive(
  upstream: ReadableStream<Uint8Array>,
  keepaliveMs: number,
  idleTimeoutMs: number,
) {
  const chunks: string[] = [];
  let outcome: RelayOutcome | null = null;
  const body = relayStream(
    upstream,
    { waitUntil: () => {} },
    {
      onChunk: (chunk) => chunks.push(new TextDecoder().decode(chunk)),
      errorEvent: (message) => `event: error\ndata: ${JSON.stringify({ message })}\n\n`,
      onEnd: (relay) => {
        outcome = relay;
      },
    },
    { keepaliveMs, limits: { idleTimeoutMs } },
  );
  return { body, chunks, outcome: () => outcome };
}

describe("keep-alive pings", () => {
  it("pings only between events, never inside one the upstream has half sent; the parser never sees them", async () => {
    const upstream = timed([
      [0, 'event: a\ndata: {"x":'],
      [120, "1}\n\n"],
      [120, 'event: b\ndata: {"y":2}\n\n'],
    ]);
    const relay = relayWithKeepalive(upstream, 30, 5_000);
    const text = await new Response(relay.body).text();
    expect(text.startsWith('event: a\ndata: {"x":1}\n\n')).toBe(true);
    expect(text).toContain(`\n\n${PING_EVENT}`);
    expect(text.endsWith('event: b\ndata: {"y":2}\n\n')).toBe(true);
    expect(text.replaceAll(PING_EVENT, "")).toBe('event: a\ndata: {"x":1}\n\nevent: b\ndata: {"y":2}\n\n');
    expect(relay.chunks.join("")).toBe('event: a\ndata: {"x":1}\n\nevent: b\ndata: {"y":2}\n\n');
    expect(relay.outcome()).toEqual({ kind: "completed" });
  });

  it("still reports a stalled upstream (pings do not count as upstream data)", async () => {
    const upstream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("event: a\ndata: {}\n\n"));
      },
    });
    const relay = relayWithKeepalive(upstream, 20, 150);
    const text = await new Response(relay.body).text();
    expect(text.split(PING_EVENT).length - 1).toBeGreaterThanOrEqual(3);
    expect(text).toMatch(/event: error\ndata: \{"message":"Upstream sent nothing for 0 s"\}\n\n$/);
    expect(relay.outcome()?.kind).toBe("upstream_stalled");
  });

  it("queues no pings for a client that stopped reading while the upstream is silent", async () => {
    const upstream = timed([
      [0, "event: a\ndata: {}\n\n"],
      [300, "event: b\ndata: {}\n\n"],
    ]);
    const reader = relayWithKeepalive(upstream, 20, 5_000).body.getReader();
    const decoder = new TextDecoder();
    expect(decoder.decode((await reader.read()).value)).toBe("event: a\ndata: {}\n\n");
    expect(decoder.decode((await reader.read()).value)).toBe(PING_EVENT);
    // Not reading for 200 ms: a ping every 20 ms would pile up for it.
    await new Promise((resolve) => setTimeout(resolve, 200));
    let rest = "";
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += decoder.decode(r.value);
    expect(rest.endsWith("event: b\ndata: {}\n\n")).toBe(true);
    // The one queued while it was away, and those sent once it read again before b arrived.
    expect(rest.split(PING_EVENT).length - 1).toBeLessThanOrEqual(6);
  });

  it("sends no ping while the upstream keeps talking", async () => {
    const upstream = timed(
      Array.from({ length: 8 }, (_, i) => [15, `event: e\ndata: {"i":${i}}\n\n`] as [number, string]),
    );
    const text = await new Response(relayWithKeepalive(upstream, 60, 5_000).body).text();
    expect(text).not.toContain(PING_EVENT);
  });
});
