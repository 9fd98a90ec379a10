/**
 * Minimal pass-through Worker: /anthropic/<path> → UPSTREAM_URL/<path>, request and response
 * bodies streamed through as they are. What the gateway costs is measured against this.
 *
 * With `x-bench-relay: js` the response body goes through a pull-based JavaScript ReadableStream
 * (highWaterMark 0, one upstream read per pull: the shape of src/bridge/relay.ts without any
 * parsing), to tell the cost of relaying in JavaScript apart from the gateway's own work.
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
    return new Response(body, upstream);
  },
};
