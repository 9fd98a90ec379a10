/** The Hono app: routes and app-wide middleware, nothing else. */
import { Hono } from "hono";
import { cors } from "hono/cors";
import { requestId } from "hono/request-id";
import { adminRoutes } from "./admin/routes";
import type { AppEnv } from "./app-env";
import { ConfigError, getConfig } from "./config";
import { meRoutes } from "./limits/me";
import { log } from "./log";
import { anthropicError } from "./providers/anthropic/errors";
import { anthropicRoutes } from "./providers/anthropic/routes";
import { openaiError } from "./providers/openai/errors";
import { openaiRoutes } from "./providers/openai/routes";

export const app = new Hono<AppEnv>();

app.use(requestId({ headerName: "x-aibridge-request-id" }));

app.get("/healthz", (c) => c.json({ ok: true }));

// No CORS unless CORS_ORIGINS lists origins: browsers elsewhere cannot call the gateway by default.
const providerCors = cors({
  origin: (origin, c) => (getConfig(c.env).corsOrigins.includes(origin) ? origin : null),
  allowHeaders: [
    "authorization",
    "x-api-key",
    "x-aibridge-key",
    "content-type",
    "anthropic-version",
    "anthropic-beta",
  ],
  exposeHeaders: [
    "x-aibridge-interception-id",
    "server-timing",
    "request-id",
    "x-request-id",
    // Per-user limits (docs/limits.md).
    "retry-after",
    "x-aibridge-budget-remaining-usd",
    "x-aibridge-budget-reset",
  ],
  maxAge: 600,
});
for (const prefix of ["/anthropic/*", "/openai/*"]) {
  app.use(prefix, async (c, next) => {
    let origins: string[];
    try {
      origins = getConfig(c.env).corsOrigins;
    } catch {
      return next(); // the provider routes answer a bad configuration in their own shape
    }
    return origins.length > 0 ? providerCors(c, next) : next();
  });
}
app.route("/anthropic", anthropicRoutes);
app.route("/openai", openaiRoutes);
app.route("/v1/me", meRoutes);
app.get("/admin/", (c) => c.redirect("/admin", 301));
app.route("/admin", adminRoutes);

/** Errors in the shape of the API the client was talking to, so its SDK can show them. */
function errorFor(path: string, status: number, message: string): Response {
  if (path.startsWith("/anthropic")) return anthropicError(status, message);
  if (path.startsWith("/openai")) return openaiError(status, message);
  return Response.json({ error: message }, { status });
}

app.notFound((c) => errorFor(c.req.path, 404, `No route for ${c.req.method} ${c.req.path}.`));

app.onError((error, c) => {
  if (error instanceof ConfigError) return errorFor(c.req.path, 500, error.message);
  log.error("unhandled_error", {
    path: c.req.path,
    error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
  });
  return errorFor(c.req.path, 500, "Internal gateway error.");
});
