/**
 * Minimal pass-through Worker: /anthropic/<path> → UPSTREAM_URL/<path>, request and response
 * bodies streamed through as they are. What the gateway costs is measured against this.
 */
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return new Response("ok");
    const path = url.pathname.replace(/^\/anthropic/, "");
    return fetch(new URL(path + url.search, env.UPSTREAM_URL), {
      method: request.method,
      headers: request.headers,
      body: request.body,
    });
  },
};
