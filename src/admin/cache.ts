/**
 * GET /admin/v1/cache?group_by=user|client|cause|model|day&from=&to=&user=&model=
 * Prompt-cache breaks and what they cost, per group, worst first; plus the costliest breaks
 * themselves (with their session, for a drill-down). Worked out from stored fingerprints at query
 * time (src/analytics/).
 */
import { Hono } from "hono";
import { type BreakDimension, dimensionValue, turnsInRange } from "../analytics/query";
import type { AppEnv } from "../app-env";
import { iso, NO_END, optionalText, ParamError, parseLimit, parseRange } from "./params";

const DIMENSIONS: BreakDimension[] = ["user", "client", "cause", "model", "day"];

interface Group {
  turns: number;
  breaks: number;
  break_cost_micros: number;
  missed_tokens: number;
  wasted_write_tokens: number;
  input_tokens: number;
  cache_read_tokens: number;
}

export const adminCacheRoutes = new Hono<AppEnv>();

adminCacheRoutes.get("/", async (c) => {
  const groupBy = (c.req.query("group_by") || "user") as BreakDimension;
  if (!DIMENSIONS.includes(groupBy)) {
    throw new ParamError(`group_by: one of ${DIMENSIONS.join(", ")}, got "${groupBy.slice(0, 40)}".`);
  }
  const range = parseRange((name) => c.req.query(name));
  const filter = {
    ...range,
    user: optionalText("user", c.req.query("user")),
    model: optionalText("model", c.req.query("model")),
  };
  const limit = parseLimit(c.req.query("limit"), 20, 200);
  const turns = await turnsInRange(c.env.DB, c.env, filter);

  const groups = new Map<string, Group>();
  for (const item of turns) {
    // Grouped by cause, only breaks count: a turn without one has no cause.
    if (groupBy === "cause" && !item.cache.break) continue;
    const key = dimensionValue(item, groupBy);
    const group = groups.get(key) ?? {
      turns: 0,
      breaks: 0,
      break_cost_micros: 0,
      missed_tokens: 0,
      wasted_write_tokens: 0,
      input_tokens: 0,
      cache_read_tokens: 0,
    };
    const u = item.turn.usage;
    group.turns += 1;
    group.input_tokens += u.input + u.read + u.write;
    group.cache_read_tokens += u.read;
    group.wasted_write_tokens += item.cache.wasted_write_tokens;
    if (item.cache.break) {
      group.breaks += 1;
      group.break_cost_micros += item.cache.break.cost_micros ?? 0;
      group.missed_tokens += item.cache.break.missed_tokens;
    }
    groups.set(key, group);
  }
  const rows = [...groups]
    .map(([key, g]) => ({
      [groupBy]: key,
      turns: g.turns,
      breaks: g.breaks,
      break_cost_usd: g.break_cost_micros / 1e6,
      missed_tokens: g.missed_tokens,
      wasted_write_tokens: g.wasted_write_tokens,
      hit_ratio: g.input_tokens > 0 ? g.cache_read_tokens / g.input_tokens : null,
    }))
    .sort(
      (a, b) =>
        b.break_cost_usd - a.break_cost_usd ||
        b.breaks - a.breaks ||
        String(a[groupBy]).localeCompare(String(b[groupBy])),
    );

  const breaks = turns
    .filter((item) => item.cache.break)
    .sort((a, b) => (b.cache.break?.cost_micros ?? 0) - (a.cache.break?.cost_micros ?? 0))
    .slice(0, limit)
    .map(({ turn, cache }) => ({
      interception_id: turn.id,
      session_id: turn.sessionId,
      user: turn.user,
      client: turn.client,
      model: turn.model,
      started_at: iso(turn.startedAt),
      ...cache.break,
      cache: {
        read_tokens: cache.read_tokens,
        write_tokens: cache.write_tokens,
        expected_read_tokens: cache.expected_read_tokens,
      },
    }));

  return c.json({
    group_by: groupBy,
    from: iso(range.from),
    to: range.to === NO_END ? null : iso(range.to),
    user: filter.user,
    model: filter.model,
    rows,
    totals: {
      turns: rows.reduce((sum, r) => sum + r.turns, 0),
      breaks: rows.reduce((sum, r) => sum + r.breaks, 0),
      break_cost_usd: rows.reduce((sum, r) => sum + r.break_cost_usd, 0),
      wasted_write_tokens: rows.reduce((sum, r) => sum + r.wasted_write_tokens, 0),
    },
    breaks,
  });
});
