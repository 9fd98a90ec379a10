/** Everything under /admin: the JSON API (admin token) and the dashboard page (public shell). */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { ConfigError } from "../config";
import { log } from "../log";
import { adminRedactionRoutes } from "../redaction/usage";
import { adminAuth } from "./auth";
import { adminCacheRoutes } from "./cache";
import { dashboardRoutes } from "./dashboard";
import { adminInterceptionRoutes, adminSessionRoutes } from "./interceptions";
import { adminKeyRoutes } from "./keys";
import { adminLimitRoutes } from "./limits";
import { ParamError } from "./params";
import { adminUsageRoutes } from "./usage";

export const adminRoutes = new Hono<AppEnv>();

adminRoutes.use("/v1/*", adminAuth());
adminRoutes.route("/v1/keys", adminKeyRoutes);
adminRoutes.route("/v1/usage", adminUsageRoutes);
adminRoutes.route("/v1/interceptions", adminInterceptionRoutes);
adminRoutes.route("/v1/sessions", adminSessionRoutes);
adminRoutes.route("/v1/limits", adminLimitRoutes);
adminRoutes.route("/v1/cache", adminCacheRoutes);
adminRoutes.route("/v1/redactions", adminRedactionRoutes);
// The page and its assets hold no data; every number they show comes from /v1 with the token.
adminRoutes.route("/", dashboardRoutes);

adminRoutes.onError((error, c) => {
  if (error instanceof ParamError) return c.json({ error: error.message }, 400);
  if (error instanceof ConfigError) return c.json({ error: error.message }, 500);
  log.error("admin_error", {
    path: c.req.path,
    error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
  });
  return c.json({ error: "Internal gateway error." }, 500);
});
