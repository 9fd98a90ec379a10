/**
 * GET /admin: the usage dashboard. Its page, script and stylesheet are built from
 * src/admin/dashboard/ by scripts/build-dashboard.mjs into a module this Worker's bundle embeds
 * (no Workers Static Assets: [assets] would put an asset router in front of every request), and
 * served here with a strict CSP.
 */
import { type Context, Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { files } from "../../dist/dashboard/files.js"; // missing? run scripts/build-dashboard.mjs
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

/** If-None-Match holds `*` or this ETag (weak comparison, as RFC 9110 asks for If-None-Match). */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(",").some((tag) => {
    const t = tag.trim();
    return t === "*" || t.replace(/^W\//, "") === etag;
  });
}

function serve(ifNoneMatch: string | undefined, file: (typeof files)[keyof typeof files]): Response {
  // no-cache: a redeploy is picked up at once, revalidated by ETag (304 while unchanged).
  const cache = { etag: file.etag, "cache-control": "no-cache" };
  if (matches(ifNoneMatch, file.etag)) {
    return new Response(null, { status: 304, headers: cache });
  }
  return new Response(file.body, { headers: { ...cache, "content-type": file.contentType } });
}

const served = (name: keyof typeof files) => (c: Context<AppEnv>) =>
  serve(c.req.header("if-none-match"), files[name]);

// Every view is the same page (/admin?view=…): the script reads the query string.
dashboardRoutes.get("/", headers, served("index.html"));
dashboardRoutes.get("/dashboard.js", headers, served("dashboard.js"));
dashboardRoutes.get("/dashboard.css", headers, served("dashboard.css"));
