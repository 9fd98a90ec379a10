/**
 * GET /v1/me: a user's own view, with their own gateway key in any header the bridged routes accept
 * (x-api-key, Authorization: Bearer, X-AIBridge-Key). Their id, effective policy, live state and
 * what D1 recorded for them this period. Nothing about anyone else.
 */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { resolveActor } from "../auth/actor";
import { ConfigError, getConfig } from "../config";
import { DEFAULT_PERIOD, periodBounds } from "./period";
import { recordedUsage, userLimits } from "./store";

export const meRoutes = new Hono<AppEnv>();

meRoutes.get("/", async (c) => {
  let byok: boolean;
  try {
    byok = getConfig(c.env).byok;
  } catch (error) {
    if (error instanceof ConfigError) return c.json({ error: error.message }, 500);
    throw error;
  }
  const result = await resolveActor(c.req.raw.headers, "anthropic", c.env.DB, byok);
  if (!result.ok) return c.json({ error: result.message }, 401);
  const user = result.actor.userId;
  const limits = await userLimits(c.env, user);
  const period = limits.policy?.period ?? DEFAULT_PERIOD;
  const bounds = limits.state?.period_start
    ? { start: Date.parse(limits.state.period_start), end: Date.parse(limits.state.resets_at ?? "") }
    : periodBounds(period, Date.now());
  return c.json({
    user,
    source: limits.source,
    policy: limits.policy,
    state: limits.state,
    usage: {
      period,
      period_start: new Date(bounds.start).toISOString(),
      period_end: new Date(bounds.end).toISOString(),
      ...(await recordedUsage(c.env.DB, user, bounds.start, bounds.end)),
    },
    rejected: limits.rejected,
  });
});
