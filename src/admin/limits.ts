/**
 * /admin/v1/limits: per-user budgets, rate limits and model policy (docs/limits.md).
 *   GET    /              every policy with its user's live state and rejected counts
 *   GET    /:user         one user's effective policy (own or "*") and state
 *   PUT    /:user         set a policy (body = the policy JSON; user "*" = the default)
 *   DELETE /:user         remove it
 */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { parsePolicy } from "../limits/policy";
import { allLimits, deletePolicy, savePolicy, userLimits } from "../limits/store";

export const adminLimitRoutes = new Hono<AppEnv>();

const MAX_USER = 320;

function userParam(raw: string): string | null {
  const user = raw.trim();
  return user && user.length <= MAX_USER ? user : null;
}

adminLimitRoutes.get("/", async (c) => c.json(await allLimits(c.env)));

adminLimitRoutes.get("/:user", async (c) => {
  const user = userParam(c.req.param("user"));
  if (!user) return c.json({ error: "user: a non-empty id of at most 320 characters." }, 400);
  const limits = await userLimits(c.env, user);
  if (!limits.policy)
    return c.json({ error: `No policy applies to ${user} (and there is no "*" default).` }, 404);
  return c.json(limits);
});

adminLimitRoutes.put("/:user", async (c) => {
  const user = userParam(c.req.param("user"));
  if (!user) return c.json({ error: "user: a non-empty id of at most 320 characters." }, 400);
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    return c.json({ error: 'Send the policy as JSON, e.g. {"budget_usd": 50, "period": "month"}.' }, 400);
  }
  const parsed = parsePolicy(body);
  if (!parsed.ok) return c.json({ error: parsed.message }, 400);
  await savePolicy(c.env, user, parsed.policy);
  return c.json(await userLimits(c.env, user));
});

adminLimitRoutes.delete("/:user", async (c) => {
  const user = userParam(c.req.param("user"));
  if (!user) return c.json({ error: "user: a non-empty id of at most 320 characters." }, 400);
  if (!(await deletePolicy(c.env, user))) return c.json({ error: `${user} has no policy of its own.` }, 404);
  return c.json({ user, deleted: true });
});
