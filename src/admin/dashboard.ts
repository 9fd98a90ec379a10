/**
 * GET /admin: the usage dashboard. Its page, script and stylesheet are Workers Static Assets built
 * from src/admin/dashboard/ (scripts/build-dashboard.mjs); the Worker runs first for every request
 * (wrangler.toml [assets] run_worker_first) and serves them from ASSETS with a strict CSP.
 */
import { type Context, Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import type { AppEnv } from "../app-env";

/** Only this origin's own script, styles and API: no inline code, no CDN, no framing. */
const headers = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'none'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    connectSrc: ["'self'"],
    imgSrc: ["'self'"],
    baseUri: ["'none'"],
    formAction: ["'none'"],
    frameAncestors: ["'none'"],
  },
  referrerPolicy: "no-referrer",
  xFrameOptions: "DENY",
});

export const dashboardRoutes = new Hono<AppEnv>();

async function asset(c: Context<AppEnv>, path: string): Promise<Response> {
  const found = await c.env.ASSETS?.fetch(new Request(new URL(path, c.req.url)));
  if (!found?.ok) {
    await found?.body?.cancel();
    return c.text("The dashboard is not built (scripts/build-dashboard.mjs; wrangler runs it).", 503);
  }
  // no-cache: a redeploy is picked up at once (revalidated by ETag); the files are small.
  const response = new Response(found.body, found);
  response.headers.set("cache-control", "no-cache");
  return response;
}

// Every view is the same page (/admin?view=…): the script reads the query string.
dashboardRoutes.get("/", headers, (c) => asset(c, "/admin/index.html"));
dashboardRoutes.get("/dashboard.js", headers, (c) => asset(c, "/admin/dashboard.js"));
dashboardRoutes.get("/dashboard.css", headers, (c) => asset(c, "/admin/dashboard.css"));
