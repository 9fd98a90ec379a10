/**
 * Minimal pass-through Worker: /anthropic/<path> → UPSTREAM_URL/<path>, request and response
 * bodies streamed through as they are. What the gateway costs is measured against this.
 *
 * With `x-bench-relay: js` the response body goes through a pull-based JavaScript ReadableStream
 * (highWaterMark 0, one upstream read per pull: the shape of src/bridge/relay.ts without any
 * parsing), to tell the cost of relaying in JavaScript apart from the gateway's own work.
 *
 * Run with wrangler.shaped.toml it is deployed the way the gateway is: Workers Static Assets with
 * run_worker_first (every request passes the dev server's asset router first) and, with
 * LOG_LINE = "1", one JSON log line per request the size of the gateway's. What the runtime charges
 * any Worker for those two shows apart from the gateway's own work.
 */
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return new Response("ok");
    const path = url.pathname.replace(/^\/anthropic/, "");
    const upstream = await fetch(new URL(path + url.search, env.UPSTREAM_URL), {
      method: request.method,
      headers: request.headers,
      body: request.body,
    });
    if (request.headers.get("x-bench-relay") !== "js" || !upstream.body) return upstream;
    const reader = upstream.body.getReader();
    const body = new ReadableStream(
      {
        async pull(controller) {
          const { done, value } = await reader.read();
          if (done) controller.close();
          else controller.enqueue(value);
        },
        cancel: (reason) => reader.cancel(reason),
      },
      { highWaterMark: 0 },
    );
    if (env.LOG_LINE === "1") console.log(LOG_LINE);
    return new Response(body, upstream);
  },
};

/** A line shaped like the gateway's per-request `interception` log line (src/bridge/interception.ts). */
const LOG_LINE = JSON.stringify({
  level: "info",
  event: "interception",
  id: "019ad6f5-7a1c-7c3e-9f1e-2b9d6f0c1a2b",
  user: "bench@example.com",
  provider: "anthropic",
  api: "messages",
  instance: "anthropic",
  upstreamInstance: "anthropic",
  fallback: false,
  model: "claude-sonnet-4-5-20250929",
  client: "claude-code",
  streaming: true,
  status: "completed",
  stopReason: "end_turn",
  errorType: null,
  durationMs: 12,
  tokens: { input: 2048, output: 20, cacheRead: 40960, cacheWrite: 0, estimatedUsages: 0 },
  overhead: { auth: 0, parse: 0, inject: 0, upstreamHeaders: 4, firstByte: 0, total: 0 },
});
