/**
 * Routes under /anthropic. The bridged route records interceptions; the passthrough routes are an
 * allowlist (everything else is 404) so the gateway's key cannot reach other provider APIs.
 */
import { type Context, Hono } from "hono";
import type { AppEnv } from "../../app-env";
import { providerGate } from "../../bridge/gate";
import { bridgeHandler } from "../../bridge/handler";
import { passthroughHandler, safeSegment } from "../../bridge/passthrough";
import { anthropicMessages, DEFAULT_ANTHROPIC_VERSION } from "./adapter";
import { anthropicError } from "./errors";

export const anthropicRoutes = new Hono<AppEnv>();

// Claude Code pre-connects with HEAD {base}; answer locally, no auth, no upstream. A middleware,
// because Hono dispatches HEAD to GET routes (an on("HEAD") route never matches), and the base URL
// may come with or without a trailing slash.
anthropicRoutes.use("*", async (c, next) => {
  if (c.req.raw.method === "HEAD" && /^\/[^/]+\/?$/.test(c.req.path)) return c.body(null, 200);
  await next();
});

anthropicRoutes.use("*", providerGate(anthropicError, "anthropic"));

anthropicRoutes.post("/v1/messages", bridgeHandler(anthropicMessages));
anthropicRoutes.all("/v1/messages", (c) =>
  anthropicError(405, `${c.req.method} is not allowed on /v1/messages.`),
);

const proxy = (path: (c: Context<AppEnv>) => string) =>
  passthroughHandler({
    target: (c) => `${c.get("instance").baseUrl}${path(c)}${new URL(c.req.url).search}`,
    defaultHeaders: { "anthropic-version": DEFAULT_ANTHROPIC_VERSION },
    errorResponse: anthropicError,
  });
// Bedrock has no Anthropic models list, token counter or telemetry endpoint behind these paths.
const passthrough = (path: (c: Context<AppEnv>) => string) => (c: Context<AppEnv>) =>
  c.get("instance").type === "bedrock"
    ? anthropicError(404, `${c.req.path.replace(/^\/[^/]+/, "")} is not available on a Bedrock instance.`)
    : proxy(path)(c);

anthropicRoutes.get(
  "/v1/models",
  passthrough(() => "/v1/models"),
);
anthropicRoutes.get("/v1/models/:id", (c) => {
  const id = safeSegment(c.req.param("id"));
  if (!id) return anthropicError(404, "Not found.");
  return passthrough(() => `/v1/models/${id}`)(c);
});
anthropicRoutes.post(
  "/v1/messages/count_tokens",
  passthrough(() => "/v1/messages/count_tokens"),
);
anthropicRoutes.post("/api/event_logging/:rest{.+}", (c) => {
  const rest = c.req.param("rest");
  if (!rest.split("/").every((segment) => safeSegment(segment))) return anthropicError(404, "Not found.");
  return passthrough(() => `/api/event_logging/${rest}`)(c);
});
