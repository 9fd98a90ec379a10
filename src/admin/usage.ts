/**
 * GET /admin/v1/usage?group_by=user|model|day|client|instance[,…]&from=&to=&user=&model=
 * Tokens by type, requests, cost and the number of unpriced usage records per group. Requests are
 * counted per interception (failed ones included); tokens and cost come from its usage records.
 */
import { Hono } from "hono";
import { type BreakDimension, withCacheBreaks } from "../analytics/query";
import type { AppEnv } from "../app-env";
import { PLAN_ROWS, planBuckets, planParams } from "../recorder/rollups";
import { iso, NO_END, optionalText, ParamError, parseRange } from "./params";

/**
 * SQL for each grouping dimension over aibridge_usage_rollups; days are UTC. Grouped by these
 * expressions, not their aliases: GROUP BY prefers a table column to an alias (r.instance).
 */
const DIMENSIONS = {
  user: "r.initiator_id",
  model: "r.model",
  client: "r.client",
  day: "strftime('%Y-%m-%d', r.bucket / 1000, 'unixepoch')",
  // The provider instance that answered (a fallback counts as itself); rows from before instances
  // existed carry only the API family, which is also the default instances' name. Rollup rows
  // kept from before the instance column have "" there: they show as the API family too.
  instance: "coalesce(nullif(r.instance, ''), r.provider)",
} as const;
type Dimension = keyof typeof DIMENSIONS;

export interface UsageNumbers {
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  cache_write_5m_tokens: number;
  cache_write_1h_tokens: number;
  reasoning_tokens: number;
  /** Sum of priced usage; null when every usage record in the group is unpriced. */
  cost_micros: number | null;
  /** Usage records whose model has no price (their cost is not in cost_micros). */
  unpriced_usages: number;
  /** Requests with at least one estimated usage record (the provider's final count never came). */
  estimated_requests: number;
  /** Usage records whose counts are estimates (aibridge_token_usages.estimated). */
  estimated_usages: number;
}

export type UsageRow = Partial<Record<Dimension, string>> &
  UsageNumbers & {
    total_tokens: number;
    cost_usd: number | null;
    /** Cache reads over all input (uncached + cache read + cache write); null without input. */
    cache_hit_ratio: number | null;
    last_seen: string | null;
  };

export function parseGroupBy(value: string | undefined): Dimension[] {
  const names = (value || "user").split(",").map((name) => name.trim());
  const valid = Object.keys(DIMENSIONS);
  for (const name of names) {
    if (!valid.includes(name)) {
      throw new ParamError(
        `group_by: one or two of ${valid.join(", ")} (comma-separated), got "${name.slice(0, 40)}".`,
      );
    }
  }
  if (names.length > 2 || new Set(names).size !== names.length) {
    throw new ParamError("group_by: at most two different dimensions, e.g. day,user.");
  }
  return names as Dimension[];
}

export interface UsageFilter {
  from: number;
  to: number;
  user: string | null;
  model: string | null;
}

/**
 * Answered from the rollups (src/recorder/rollups.ts): O(buckets × users) rows, not O(requests).
 * The range resolves to whole hours (older edges to whole days); `range` says what was answered.
 */
export async function queryUsage(
  db: D1Database,
  groupBy: Dimension[],
  filter: UsageFilter,
  now = Date.now(),
) {
  const plan = planBuckets(filter.from, filter.to, now);
  const keys = groupBy.map((d) => `${DIMENSIONS[d]} as ${d}`).join(", ");
  const sql = `
    select ${keys},
      sum(r.requests) as requests,
      sum(r.input_tokens) as input_tokens,
      sum(r.output_tokens) as output_tokens,
      sum(r.cache_read_tokens) as cache_read_tokens,
      sum(r.cache_write_tokens) as cache_write_tokens,
      sum(r.cache_write_5m_tokens) as cache_write_5m_tokens,
      sum(r.cache_write_1h_tokens) as cache_write_1h_tokens,
      sum(r.reasoning_tokens) as reasoning_tokens,
      case when sum(r.usages) > 0 and sum(r.priced_usages) = 0 then null
           else sum(r.cost_micros) end as cost_micros,
      sum(r.usages) - sum(r.priced_usages) as unpriced_usages,
      sum(r.estimated_requests) as estimated_requests,
      sum(r.estimated_usages) as estimated_usages,
      max(r.last_seen) as last_seen
    from ${PLAN_ROWS} r
    where (?7 is null or r.initiator_id = ?7)
      and (?8 is null or r.model = ?8)
    group by ${groupBy.map((d) => DIMENSIONS[d]).join(", ")}
    order by ${groupBy.map((d) => (d === "day" ? "day asc" : `${d} asc`)).join(", ")}`;
  const { results, meta } = await db
    .prepare(sql)
    .bind(...planParams(plan), filter.user, filter.model)
    .all<UsageNumbers & Record<string, string | number> & { last_seen: number }>();
  const rows = results.map(({ last_seen, ...row }) => withDerived(row as UsageNumbers, iso(last_seen)));
  // rowsRead: what D1 bills for this answer (the scale tests and bench/scale.mjs watch it).
  return { rows, totals: totalsOf(rows), range: { from: plan.from, to: plan.to }, rowsRead: meta.rows_read };
}

function withDerived<T extends UsageNumbers>(row: T, lastSeen: string | null): T & UsageRow {
  const input = row.input_tokens + row.cache_read_tokens + row.cache_write_tokens;
  return {
    ...row,
    total_tokens: input + row.output_tokens,
    cost_usd: row.cost_micros === null ? null : row.cost_micros / 1e6,
    cache_hit_ratio: input > 0 ? row.cache_read_tokens / input : null,
    last_seen: lastSeen,
  };
}

function totalsOf(rows: UsageRow[]): UsageRow {
  const sum = (pick: (row: UsageRow) => number) => rows.reduce((total, row) => total + pick(row), 0);
  const priced =
    rows.some((row) => row.cost_micros !== null) || rows.every((row) => row.unpriced_usages === 0);
  const lastSeen = rows.reduce<string | null>(
    (latest, row) => (row.last_seen && (!latest || row.last_seen > latest) ? row.last_seen : latest),
    null,
  );
  return withDerived(
    {
      requests: sum((r) => r.requests),
      input_tokens: sum((r) => r.input_tokens),
      output_tokens: sum((r) => r.output_tokens),
      cache_read_tokens: sum((r) => r.cache_read_tokens),
      cache_write_tokens: sum((r) => r.cache_write_tokens),
      cache_write_5m_tokens: sum((r) => r.cache_write_5m_tokens),
      cache_write_1h_tokens: sum((r) => r.cache_write_1h_tokens),
      reasoning_tokens: sum((r) => r.reasoning_tokens),
      cost_micros: priced ? sum((r) => r.cost_micros ?? 0) : null,
      unpriced_usages: sum((r) => r.unpriced_usages),
      estimated_requests: sum((r) => r.estimated_requests),
      estimated_usages: sum((r) => r.estimated_usages),
    },
    lastSeen,
  );
}

export const adminUsageRoutes = new Hono<AppEnv>();

adminUsageRoutes.get("/", async (c) => {
  const groupBy = parseGroupBy(c.req.query("group_by"));
  const range = parseRange((name) => c.req.query(name));
  const filter: UsageFilter = {
    ...range,
    user: optionalText("user", c.req.query("user")),
    model: optionalText("model", c.req.query("model")),
  };
  const usage = await queryUsage(c.env.DB, groupBy, filter);
  const answered = usage.range;
  // Prompt-cache breaks per group come from src/analytics (worked out from fingerprints at query
  // time, over the same range the usage answered). The cache analysis does not see provider
  // instances: grouped by instance, rows carry no break counts.
  const { rows, totals } = groupBy.includes("instance")
    ? usage
    : await withCacheBreaks(
        c.env.DB,
        c.env,
        groupBy as BreakDimension[],
        { ...filter, from: answered.from, to: answered.to },
        usage,
      );
  return c.json({
    group_by: groupBy,
    // The range answered: whole hours (see planBuckets), which may be wider than the one asked.
    from: iso(answered.from),
    to: range.to === NO_END ? null : iso(answered.to),
    user: filter.user,
    model: filter.model,
    rows,
    totals,
    // What D1 read for this answer (it bills per row read): stays O(days × users) with rollups.
    rows_read: usage.rowsRead,
  });
});
