/**
 * Reading fingerprints and usage from D1 for the analysis (analyze.ts), and the answers the admin
 * API serves: a session's turns, per-group break counts for /admin/v1/usage, and the breaks
 * report of /admin/v1/cache.
 */
import { type Env, getConfig } from "../config";
import { findPrice, type PriceOverrides } from "../pricing";
import { type AnalyzedTurn, analyzeTurns, MAX_REFERENCE_GAP_MS, type TurnInput } from "./analyze";

const TURN_COLUMNS = `f.interception_id as id, f.session_id, f.initiator_id, f.client, f.model, f.api, f.started_at,
  f.layout, f.breakpoints, f.anchors, f.segments, f.default_ttl_seconds,
  t.input_tokens, t.cache_read_input_tokens, t.cache_write_input_tokens,
  coalesce(json_extract(t.extra_token_types, '$.cache_write_1h'), 0) as cache_write_1h`;

/**
 * The turn's usage is its first usage record: the one answering the fingerprinted request (later
 * ones belong to the gateway's MCP tool loop). Turns without usage (failed requests) are left out.
 */
const TURNS_FROM = `from aibridge_cache_fingerprints f
  join aibridge_token_usages t on t.id = (
    select id from aibridge_token_usages where interception_id = f.interception_id order by created_at, id limit 1)`;

interface TurnRow {
  id: string;
  session_id: string | null;
  initiator_id: string;
  client: string;
  model: string;
  api: string;
  started_at: number;
  layout: string;
  breakpoints: string;
  anchors: string;
  segments: number;
  default_ttl_seconds: number;
  input_tokens: number;
  cache_read_input_tokens: number;
  cache_write_input_tokens: number;
  cache_write_1h: number;
}

function toTurn(row: TurnRow): TurnInput {
  return {
    id: row.id,
    sessionId: row.session_id,
    user: row.initiator_id,
    client: row.client,
    model: row.model,
    api: row.api,
    startedAt: row.started_at,
    layout: row.layout,
    breakpoints: JSON.parse(row.breakpoints) as [number, number][],
    anchors: row.anchors,
    segments: row.segments,
    defaultTtlSeconds: row.default_ttl_seconds,
    usage: {
      input: row.input_tokens,
      read: row.cache_read_input_tokens,
      write: row.cache_write_input_tokens,
      write1h: row.cache_write_1h,
    },
  };
}

async function analyze(db: D1Database, env: Env, rows: TurnRow[]) {
  let overrides: PriceOverrides = {};
  try {
    overrides = getConfig(env).pricingOverrides;
  } catch {}
  const loadChains = async (ids: string[]) => {
    const { results } = await db
      .prepare(
        "select interception_id, chain from aibridge_cache_fingerprints where interception_id in (select value from json_each(?1))",
      )
      .bind(JSON.stringify(ids))
      .all<{ interception_id: string; chain: string }>();
    return new Map(results.map((r) => [r.interception_id, r.chain]));
  };
  return analyzeTurns(rows.map(toTurn), loadChains, (model) => findPrice(model, overrides));
}

/** Every fingerprinted turn of one client session, analyzed (keyed by interception id). */
export async function sessionCache(db: D1Database, env: Env, sessionId: string) {
  const { results } = await db
    .prepare(`select ${TURN_COLUMNS} ${TURNS_FROM} where f.session_id = ?1 order by f.started_at limit 5000`)
    .bind(sessionId)
    .all<TurnRow>();
  return analyze(db, env, results);
}

export interface TurnFilter {
  from: number;
  to: number;
  user?: string | null;
  model?: string | null;
}

/** The session a turn is analyzed in (as analyze.ts's sessionKey, in SQL). */
const SESSION_KEY = `case when f.session_id is null then 'u:' || f.initiator_id || char(0) || f.model
  else 's:' || f.session_id end`;

/**
 * The analyzed turns that started in [from, to). Their sessions are read back to a day before
 * `from`, so a turn's reference is found whichever side of `from` it lies on.
 *
 * `onlyPossibleBreaks` skips, in SQL, every session where no turn in the range read less than the
 * most any earlier turn cached minus 128 tokens: such a session cannot hold a break (the expected
 * read is what one earlier turn cached, and a break misses more than 128 tokens), so break counts
 * need not read the clean sessions, which are most of them.
 */
export async function turnsInRange(
  db: D1Database,
  env: Env,
  filter: TurnFilter,
  { onlyPossibleBreaks = false } = {},
): Promise<AnalyzedTurn[]> {
  const sessions = onlyPossibleBreaks
    ? `select distinct skey from (
         select skey, started_at, cache_read,
           max(cached) over (partition by skey order by started_at, id rows between unbounded preceding and 1 preceding) as best
         from turns)
       where started_at >= ?1 and best - cache_read > 128`
    : "select distinct skey from turns where started_at >= ?1";
  const { results } = await db
    .prepare(
      `with turns as (
         select f.interception_id as id, f.started_at, ${SESSION_KEY} as skey, t.cache_read_input_tokens as cache_read,
           case when f.api = 'messages' then t.cache_read_input_tokens + t.cache_write_input_tokens
                else t.input_tokens + t.cache_read_input_tokens end as cached
         ${TURNS_FROM}
         where f.started_at >= ?3 and f.started_at < ?2)
       select ${TURN_COLUMNS} ${TURNS_FROM}
       where f.interception_id in (select id from turns where skey in (${sessions}))`,
    )
    .bind(filter.from, filter.to, filter.from - MAX_REFERENCE_GAP_MS)
    .all<TurnRow>();
  const analyzed = await analyze(db, env, results);
  return [...analyzed.values()].filter(
    ({ turn }) =>
      turn.startedAt >= filter.from &&
      turn.startedAt < filter.to &&
      (!filter.user || turn.user === filter.user) &&
      (!filter.model || turn.model === filter.model),
  );
}

export type BreakDimension = "user" | "model" | "client" | "day" | "cause";

export function dimensionValue(item: AnalyzedTurn, dimension: BreakDimension): string {
  switch (dimension) {
    case "user":
      return item.turn.user;
    case "model":
      return item.turn.model;
    case "client":
      return item.turn.client;
    case "day":
      return new Date(item.turn.startedAt).toISOString().slice(0, 10);
    case "cause":
      return item.cache.break?.cause ?? "none";
  }
}

export interface BreakTotals {
  cache_breaks: number;
  cache_break_cost_micros: number;
}

/**
 * Break counts and cost per group, for /admin/v1/usage to join into its rows: the key is the
 * group's dimension values joined with "\u0000", in the order given.
 */
export async function cacheBreaksByGroup(
  db: D1Database,
  env: Env,
  dimensions: BreakDimension[],
  filter: TurnFilter,
): Promise<Map<string, BreakTotals>> {
  const groups = new Map<string, BreakTotals>();
  for (const item of await turnsInRange(db, env, filter, { onlyPossibleBreaks: true })) {
    const brk = item.cache.break;
    if (!brk) continue;
    const key = dimensions.map((d) => dimensionValue(item, d)).join("\u0000");
    const group = groups.get(key) ?? { cache_breaks: 0, cache_break_cost_micros: 0 };
    group.cache_breaks += 1;
    group.cache_break_cost_micros += brk.cost_micros ?? 0;
    groups.set(key, group);
  }
  return groups;
}

/** A session's cache in one line: hit ratio over all its input, breaks and what they cost, wasted writes. */
export function summarizeSessionCache(items: AnalyzedTurn[]) {
  let input = 0;
  let read = 0;
  let breaks = 0;
  let costMicros = 0;
  let wasted = 0;
  for (const { turn, cache } of items) {
    input += turn.usage.input + turn.usage.read + turn.usage.write;
    read += turn.usage.read;
    wasted += cache.wasted_write_tokens;
    if (cache.break) {
      breaks += 1;
      costMicros += cache.break.cost_micros ?? 0;
    }
  }
  return {
    hit_ratio: input > 0 ? read / input : null,
    breaks,
    break_cost_usd: costMicros / 1e6,
    wasted_write_tokens: wasted,
  };
}

/**
 * Adds `cache_breaks` and `cache_break_cost_usd` to usage rows grouped by `dimensions` (and to
 * their totals): the one thing /admin/v1/usage asks of the cache analysis.
 */
export async function withCacheBreaks<R extends Partial<Record<BreakDimension, string>>, T>(
  db: D1Database,
  env: Env,
  dimensions: BreakDimension[],
  filter: TurnFilter,
  usage: { rows: R[]; totals: T },
) {
  const groups = await cacheBreaksByGroup(db, env, dimensions, filter);
  const numbers = (group: BreakTotals | undefined) => ({
    cache_breaks: group?.cache_breaks ?? 0,
    cache_break_cost_usd: (group?.cache_break_cost_micros ?? 0) / 1e6,
  });
  const all = [...groups.values()];
  return {
    rows: usage.rows.map((row) => ({
      ...row,
      ...numbers(groups.get(dimensions.map((d) => String(row[d] ?? "")).join("\u0000"))),
    })),
    totals: {
      ...usage.totals,
      ...numbers({
        cache_breaks: all.reduce((sum, g) => sum + g.cache_breaks, 0),
        cache_break_cost_micros: all.reduce((sum, g) => sum + g.cache_break_cost_micros, 0),
      }),
    },
  };
}
