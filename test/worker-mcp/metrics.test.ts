/**
 * Metrics of a request whose model calls an injected MCP tool: a recording METRICS binding captures
 * the datapoints (Analytics Engine is a no-op locally); the injected call is counted by server and
 * tool name, each iteration's tokens are summed into the interception's token datapoints.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, inject, it } from "vitest";
import worker from "../../src/index";
import { LAYOUT, type MetricName } from "../../src/metrics/layout";
import { createKey, GATEWAY } from "../worker/helpers";

function decode(raw: AnalyticsEngineDataPoint) {
  const metric = raw.indexes?.[0] as MetricName;
  const layout = LAYOUT[metric];
  return {
    metric,
    labels: Object.fromEntries(layout.blobs.map((name, i) => [name, String(raw.blobs?.[i + 1])])),
    values: Object.fromEntries(layout.doubles.map((name, i) => [name, Number(raw.doubles?.[i])])),
  };
}

describe("metrics with injected tools", () => {
  it("counts the injected tool invocation with its server and name, and the summed tokens", async () => {
    const { key } = await createKey("mcp-metrics@example.com");
    const points: AnalyticsEngineDataPoint[] = [];
    const ctx = createExecutionContext();
    const response = await worker.fetch(
      new Request(`${GATEWAY}/anthropic/v1/messages`, {
        method: "POST",
        headers: {
          "x-api-key": key,
          "content-type": "application/json",
          "x-test-id": "metrics-injected",
          "x-fake-scenario": "call",
        },
        body: JSON.stringify({
          model: "claude-sonnet-4-5",
          max_tokens: 256,
          messages: [{ role: "user", content: "Say hello through the echo tool." }],
        }),
      }),
      { ...env, METRICS: { writeDataPoint: (point: AnalyticsEngineDataPoint) => points.push(point) } },
      ctx,
    );
    expect(response.status).toBe(200);
    await response.text();
    await waitOnExecutionContext(ctx);
    const decoded = points.map(decode);

    const injected = decoded.filter((p) => p.metric === "injected_tool");
    expect(injected).toEqual([
      {
        metric: "injected_tool",
        labels: {
          provider: "anthropic",
          model: "claude-sonnet-4-5",
          server: inject("mcpUrl"),
          name: "bmcp_everything_echo",
          outcome: "ok",
        },
        values: { count: 1 },
      },
    ]);
    // The injected call is not a client tool selection.
    expect(decoded.filter((p) => p.metric === "tool_selection")).toEqual([]);
    // Two upstream iterations, one interception: usage summed (the fake bills 100 + 200 input, 10 + 20 output).
    expect(decoded.filter((p) => p.metric === "interception_end")).toHaveLength(1);
    const tokens = Object.fromEntries(
      decoded.filter((p) => p.metric === "tokens").map((p) => [p.labels.type, p.values.tokens]),
    );
    expect(tokens).toMatchObject({ input: 300, output: 30 });
  });
});
