/**
 * Metrics: a recording METRICS binding stands in for Analytics Engine (a silent no-op locally) and
 * captures the datapoints of real requests through the Worker; each datapoint must follow the one
 * layout in src/metrics/layout.ts, which docs/metrics.md documents.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, inject, it, vi } from "vitest";
import worker from "../../src/index";
import { LAYOUT, type MetricName } from "../../src/metrics/layout";
import { createKey, GATEWAY } from "./helpers";

type Point = { metric: MetricName; labels: Record<string, string>; values: Record<string, number> };

/** Decodes raw datapoints back into named labels and values using the published layout. */
function decode(raw: AnalyticsEngineDataPoint): Point {
  const metric = raw.indexes?.[0] as MetricName;
  expect(raw.blobs?.[0]).toBe(metric);
  const layout = LAYOUT[metric];
  expect(raw.blobs).toHaveLength(layout.blobs.length + 1);
  expect(raw.doubles).toHaveLength(layout.doubles.length);
  return {
    metric,
    labels: Object.fromEntries(layout.blobs.map((name, i) => [name, String(raw.blobs?.[i + 1])])),
    values: Object.fromEntries(layout.doubles.map((name, i) => [name, Number(raw.doubles?.[i])])),
  };
}

async function call(path: string, init: RequestInit) {
  const points: AnalyticsEngineDataPoint[] = [];
  const metrics = { writeDataPoint: (point: AnalyticsEngineDataPoint) => points.push(point) };
  const ctx = createExecutionContext();
  const response = await worker.fetch(
    new Request(`${GATEWAY}${path}`, init),
    { ...env, METRICS: metrics },
    ctx,
  );
  const body = await response.text();
  await waitOnExecutionContext(ctx);
  return { response, body, points: points.map(decode) };
}

const messages = (key: string, scenario: string, stream: boolean) => ({
  method: "POST",
  headers: {
    "x-api-key": key,
    "content-type": "application/json",
    "x-fake-scenario": scenario,
    "user-agent": "claude-cli/2.0.14 (external, sdk-cli)",
  },
  body: JSON.stringify({
    model: "claude-sonnet-4-5",
    max_tokens: 100,
    stream,
    messages: [{ role: "user", content: "What is the weather?" }],
  }),
});

describe("metrics datapoints", () => {
  it("a blocking request writes start, end, tokens by type, prompt and tool selections", async () => {
    const { key } = await createKey("metrics@example.com");
    const { response, points } = await call("/anthropic/v1/messages", messages(key, "tools", false));
    expect(response.status).toBe(200);
    const common = { provider: "anthropic", model: "claude-sonnet-4-5" };

    const start = points.filter((p) => p.metric === "interception_start");
    expect(start).toEqual([
      {
        metric: "interception_start",
        labels: {
          ...common,
          route: "/anthropic/v1/messages",
          method: "POST",
          client: "Claude Code",
          initiator: "metrics@example.com",
        },
        values: { count: 1 },
      },
    ]);
    const [end] = points.filter((p) => p.metric === "interception_end");
    expect(end?.labels).toEqual({
      ...common,
      route: "/anthropic/v1/messages",
      method: "POST",
      client: "Claude Code",
      initiator: "metrics@example.com",
      status: "completed",
    });
    expect(end?.values.count).toBe(1);
    expect(end?.values.duration_seconds).toBeGreaterThanOrEqual(0);
    for (const name of ["auth_ms", "parse_ms", "inject_ms", "upstream_headers_ms", "overhead_ms"]) {
      expect(end?.values[name]).toBeGreaterThanOrEqual(0);
    }

    const tokens = points.filter((p) => p.metric === "tokens");
    expect(tokens.length).toBeGreaterThanOrEqual(2);
    for (const point of tokens) {
      expect(point.labels).toMatchObject({
        ...common,
        initiator: "metrics@example.com",
        client: "Claude Code",
      });
      expect(point.values.tokens).toBeGreaterThan(0);
    }
    expect(tokens.map((p) => p.labels.type)).toEqual(expect.arrayContaining(["input", "output"]));

    expect(points.filter((p) => p.metric === "prompt")).toEqual([
      {
        metric: "prompt",
        labels: { ...common, initiator: "metrics@example.com", client: "Claude Code" },
        values: { count: 1 },
      },
    ]);
    const selections = points.filter((p) => p.metric === "tool_selection");
    expect(selections.length).toBe(3);
    for (const point of selections) expect(point.values.count).toBe(1);
  });

  it("a streaming request writes the same datapoints, with output tokens from the final delta", async () => {
    const { key } = await createKey("metrics-stream@example.com");
    const { response, points } = await call("/anthropic/v1/messages", messages(key, "slow", true));
    expect(response.status).toBe(200);
    const [end] = points.filter((p) => p.metric === "interception_end");
    expect(end?.labels.status).toBe("completed");
    expect(end?.values.first_byte_ms).toBeGreaterThanOrEqual(0);
    const output = points.find((p) => p.metric === "tokens" && p.labels.type === "output");
    expect(output?.values.tokens).toBe(4242);
  });

  it("a failed upstream request is counted with its status", async () => {
    const { key } = await createKey("metrics-fail@example.com");
    const { response, points } = await call("/anthropic/v1/messages", messages(key, "status-529", false));
    expect(response.status).toBe(529);
    const [end] = points.filter((p) => p.metric === "interception_end");
    expect(end?.labels.status).toBe("failed");
  });

  it("a passthrough request is counted by route pattern, method and status, not as an interception", async () => {
    const { key } = await createKey("metrics-pass@example.com");
    const { response, points } = await call("/anthropic/v1/models", { headers: { "x-api-key": key } });
    expect(response.status).toBe(200);
    expect(points.map((p) => p.metric)).toEqual(["passthrough"]);
    expect(points[0]?.labels).toEqual({
      provider: "anthropic",
      route: "/anthropic/v1/models",
      method: "GET",
      status: "200",
    });
    expect(points[0]?.values.count).toBe(1);
  });

  it("bridged responses carry a Server-Timing header that parses", async () => {
    const { key } = await createKey("metrics-timing@example.com");
    const { response } = await call("/anthropic/v1/messages", messages(key, "text", false));
    const header = response.headers.get("server-timing") ?? "";
    const entries = header.split(/,\s*/).map((entry) => {
      const [name, ...params] = entry.split(";");
      const dur = params.find((p) => p.startsWith("dur="));
      return { name, dur: Number(dur?.slice(4)) };
    });
    expect(entries.map((e) => e.name)).toEqual(["auth", "parse", "inject", "upstream"]);
    for (const entry of entries) expect(Number.isFinite(entry.dur) && entry.dur >= 0).toBe(true);
  });
});

describe("recording runs after the answer; the interception log line", () => {
  /** One request with a capturing METRICS and console, `vars` laid over the env (a fresh config). */
  async function observed(init: RequestInit, vars: Record<string, string | undefined>) {
    const points: AnalyticsEngineDataPoint[] = [];
    const lines: string[] = [];
    const spies = (["log", "info", "warn", "error"] as const).map((level) =>
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void lines.push(args.join(" "))),
    );
    try {
      const ctx = createExecutionContext();
      const metrics = { writeDataPoint: (point: AnalyticsEngineDataPoint) => points.push(point) };
      const response = await worker.fetch(
        new Request(`${GATEWAY}/anthropic/v1/messages`, init),
        { ...env, ...vars, METRICS: metrics },
        ctx,
      );
      const endsWhenAnswered = points.filter((p) => decode(p).metric === "interception_end").length;
      const body = await response.text();
      await waitOnExecutionContext(ctx);
      const ends = points.map(decode).filter((p) => p.metric === "interception_end");
      const logged = lines.filter((line) => line.includes('"event":"interception"'));
      return { response, body, endsWhenAnswered, ends, logged };
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  }

  it("a blocking answer is handed back before its end is recorded, and by default a completed one logs nothing", async () => {
    const { key } = await createKey("log-default@example.com");
    // The worker project sets LOG_INTERCEPTIONS=all; unset, the default applies.
    const unset = { LOG_INTERCEPTIONS: undefined };
    const done = await observed(messages(key, "text", false), unset);
    expect(done.response.status).toBe(200);
    // The interception had ended (the body was read whole) but its datapoints came a task later.
    expect(done.endsWhenAnswered).toBe(0);
    expect(done.ends.map((p) => p.labels.status)).toEqual(["completed"]);
    expect(done.logged).toEqual([]);

    const failed = await observed(messages(key, "status-529", false), unset);
    expect(failed.response.status).toBe(529);
    expect(failed.logged).toHaveLength(1);
    expect(JSON.parse(failed.logged[0]!)).toMatchObject({ event: "interception", status: "failed" });
  });

  it("the start datapoint is request work, off the request's path: after a blocking answer, and while a stream still flows", async () => {
    const { key } = await createKey("request-work@example.com");
    const points: AnalyticsEngineDataPoint[] = [];
    const metrics = { writeDataPoint: (point: AnalyticsEngineDataPoint) => points.push(point) };
    const count = (metric: MetricName) => points.map(decode).filter((p) => p.metric === metric).length;

    const ctx = createExecutionContext();
    const blocking = await worker.fetch(
      new Request(`${GATEWAY}/anthropic/v1/messages`, messages(key, "text", false)),
      { ...env, METRICS: metrics },
      ctx,
    );
    expect(blocking.status).toBe(200);
    expect(count("interception_start")).toBe(0); // nothing of the request's own work came first
    await blocking.text();
    await waitOnExecutionContext(ctx);
    expect(count("interception_start")).toBe(1);

    // A stream the fake holds open after its first events: its request work runs meanwhile.
    const trace = `request-work-${crypto.randomUUID()}`;
    const streamCtx = createExecutionContext();
    const init = messages(key, "gated", true);
    const stream = await worker.fetch(
      new Request(`${GATEWAY}/anthropic/v1/messages`, {
        ...init,
        headers: { ...(init.headers as Record<string, string>), "x-fake-trace": trace },
      }),
      { ...env, METRICS: metrics },
      streamCtx,
    );
    const reader = stream.body!.getReader();
    await reader.read();
    await new Promise((r) => setTimeout(r, 50));
    expect(count("interception_start")).toBe(2);
    expect(count("interception_end")).toBe(1); // the blocking one's; the stream is still open
    await fetch(`${inject("anthropicUrl")}/__fake/release/${trace}`, { method: "POST" });
    while (!(await reader.read()).done) {}
    await waitOnExecutionContext(streamCtx);
    expect(count("interception_end")).toBe(2);
  });

  it("LOG_INTERCEPTIONS=all logs every interception; a bad value is a configuration error", async () => {
    const { key } = await createKey("log-all@example.com");
    const all = await observed(messages(key, "text", true), { LOG_INTERCEPTIONS: "all" });
    expect(all.response.status).toBe(200);
    expect(all.logged.map((line) => JSON.parse(line).status)).toEqual(["completed"]);

    const bad = await observed(messages(key, "text", false), { LOG_INTERCEPTIONS: "verbose" });
    expect(bad.response.status).toBe(500);
    expect(bad.body).toContain("LOG_INTERCEPTIONS must be one of errors, all");
  });
});
