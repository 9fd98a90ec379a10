/** GET /admin: the usage dashboard, its script and stylesheet, all served by the Worker. */
import { Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import type { AppEnv } from "../app-env";
import { DASHBOARD_HTML } from "./dashboard/page";
import { DASHBOARD_JS } from "./dashboard/script";
import { DASHBOARD_CSS } from "./dashboard/style";

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

function asset(body: string, type: string) {
  // no-cache: a redeploy is picked up at once; the files are small.
  return new Response(body, { headers: { "content-type": type, "cache-control": "no-cache" } });
}

dashboardRoutes.get("/", headers, () => asset(DASHBOARD_HTML, "text/html; charset=utf-8"));
dashboardRoutes.get("/dashboard.js", headers, () => asset(DASHBOARD_JS, "text/javascript; charset=utf-8"));
dashboardRoutes.get("/dashboard.css", headers, () => asset(DASHBOARD_CSS, "text/css; charset=utf-8"));
