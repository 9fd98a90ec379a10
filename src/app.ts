/** The Hono app: routes and app-wide middleware, nothing else. */
import { Hono } from "hono";
import { requestId } from "hono/request-id";
import { adminRoutes } from "./admin/routes";
import type { AppEnv } from "./app-env";
import { ConfigError } from "./config";
import { meRoutes } from "./limits/me";
import { log } from "./log";
import { anthropicError } from "./providers/anthropic/errors";
import { instanceRoutes } from "./providers/mount";
import { openaiError } from "./providers/openai/errors";

export const app = new Hono<AppEnv>();

app.use(requestId({ headerName: "x-aibridge-request-id" }));

app.get("/healthz", (c) => c.json({ ok: true }));

app.route("/v1/me", meRoutes);
// Every provider instance at /{name} (today's /anthropic and /openai when PROVIDERS is unset).
app.route("/", instanceRoutes);
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
