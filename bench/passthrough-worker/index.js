/**
 * Minimal pass-through Worker: /anthropic/<path> → UPSTREAM_URL/<path>, request and response
 * bodies streamed through as they are. What the gateway costs is measured against this.
 *
 * With `x-bench-relay: js` the response body goes through a pull-based JavaScript ReadableStream
 * (highWaterMark 0, one upstream read per pull: the shape of src/bridge/relay.ts without any
 * parsing), to tell the cost of relaying in JavaScript apart from the gateway's own work.
 *
 * With `x-bench-queue: 1` as well, each request also sends one queue message the size of the
 * gateway's records for a small chat, and the queue consumer writes each message to a D1 row: the
 * floor, under `wrangler dev`, for any Worker that records its requests through a Queue into D1.
 */
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return new Response("ok");
    const path = url.pathname.replace(/^\/anthropic/, "");
    const upstream = await fetch(new URL(path + url.search, env.UPSTREAM_URL), {
      method: request.method,
      headers: request.headers,
      body: request.body,
    });
    if (request.headers.get("x-bench-queue") === "1") ctx.waitUntil(env.RECORDS.send(RECORD));
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
    return new Response(body, upstream);
  },
  async queue(batch, env) {
    await env.DB.prepare("create table if not exists records (id text primary key, body text)").run();
    const insert = env.DB.prepare("insert or ignore into records (id, body) values (?, ?)");
    await env.DB.batch(batch.messages.map((m) => insert.bind(m.id, JSON.stringify(m.body))));
    batch.ackAll();
  },
};

/** About the size of the gateway's records for a small streamed chat (one packed message, ~2 KB). */
const RECORD = {
  kind: "records",
  records: Array.from({ length: 4 }, (_, i) => ({
    kind: "token_usage",
    id: `019ad6f5-7a1c-7c3e-9f1e-2b9d6f0c1a2${i}`,
    interceptionId: "019ad6f5-7a1c-7c3e-9f1e-2b9d6f0c1a2b",
    initiatorId: "bench@example.com",
    model: "claude-sonnet-4-5-20250929",
    text: "x".repeat(400),
    createdAt: 1764460800000,
  })),
};
