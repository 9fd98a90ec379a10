/**
 * Usage rollups (aibridge_usage_rollups): kept up to date by the queue consumer in the same D1
 * batch as the raw rows it writes, and rebuilt from the raw rows on demand. rollup-sql.mjs holds
 * the SQL and explains why every record counts exactly once under at-least-once, unordered delivery.
 */
import type { RecordMessage } from "./records";
import {
  type BucketPlan,
  DAY_MS,
  foldByIdsSql,
  HOUR_MS,
  HOURLY_ROLLUP_DAYS,
  hourlySince,
  PLAN_ROWS,
  planBuckets,
  planParams,
  rebuildSql,
} from "./rollup-sql.mjs";

export {
  type BucketPlan,
  DAY_MS,
  HOUR_MS,
  HOURLY_ROLLUP_DAYS,
  hourlySince,
  PLAN_ROWS,
  planBuckets,
  planParams,
};

/** The interceptions a batch of records touches: their pending rows are folded in. */
export function touchedInterceptions(records: readonly RecordMessage[]): string[] {
  const ids = new Set<string>();
  for (const record of records) {
    if (record.kind === "interception_started" || record.kind === "interception_ended") ids.add(record.id);
    else if (record.kind === "token_usage") ids.add(record.interceptionId);
  }
  return [...ids];
}

/**
 * Statements to append to the consumer's batch, after the raw inserts (same transaction). Empty
 * when the batch holds no interception or usage record.
 */
export function rollupStatements(
  d1: D1Database,
  records: readonly RecordMessage[],
  now = Date.now(),
): D1PreparedStatement[] {
  const ids = touchedInterceptions(records);
  if (ids.length === 0) return [];
  const idsJson = JSON.stringify(ids);
  return foldByIdsSql(hourlySince(now)).map((text) => d1.prepare(text).bind(idsJson));
}

export interface RebuildResult {
  days: number;
  rollupRows: number;
}

/**
 * Recomputes the rollups of the UTC days overlapping [from, to) from the raw rows, one day per
 * batch (one transaction each, so the consumer keeps writing meanwhile and never double-counts).
 */
export async function rebuildRollups(
  db: D1Database,
  from: number,
  to: number,
  now = Date.now(),
): Promise<RebuildResult> {
  const first = Math.floor(from / DAY_MS) * DAY_MS;
  const last = Math.min(Math.ceil(to / DAY_MS) * DAY_MS, Math.ceil(now / DAY_MS) * DAY_MS);
  let days = 0;
  for (let day = first; day < last; day += DAY_MS) {
    await db.batch(rebuildSql(day, day + DAY_MS, hourlySince(now)).map((sql) => db.prepare(sql)));
    days++;
  }
  const count = await db
    .prepare("select count(*) as n from aibridge_usage_rollups where bucket >= ? and bucket < ?")
    .bind(first, last)
    .first<{ n: number }>();
  return { days, rollupRows: count?.n ?? 0 };
}
