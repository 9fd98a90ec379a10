/**
 * What D1 recorded for one user in [from, to), by the time each usage row was recorded
 * (`created_at`): the rule the limiter's period spend follows (a request that runs over a period's
 * end counts in the period its usage lands in). Read mostly from the day rollups, which date a
 * usage row by its interception's start instead, corrected exactly at the edges from raw rows:
 *
 *   recorded in [from, to)
 *     = day rollups of the user from `from` on              (usage of requests started ≥ from)
 *     + usage recorded in [from, to) of requests started in [from − STRADDLE_MS, from)
 *     − usage recorded at or after `to` of requests started ≥ from
 *
 * That holds because a usage row is never recorded before its request started (same clock: the
 * request's isolate, or for a background response the later poll) and never more than STRADDLE_MS
 * after it. Periods start at 00:00 UTC (period.ts), so `from` is a rollup day's start; any other
 * `from` is answered from the raw rows alone. The rollups are written in the same D1 transaction
 * as the raw rows (src/recorder/rollups.ts), so they never lag a recorded row the raw query would
 * see: a usage row whose interception has not arrived yet is in neither.
 *
 * Rows read: the user's day rollup rows of the period (days × models × clients × instances) plus
 * their requests of the STRADDLE_MS before it, instead of every one of their requests.
 */
import { DAY_MS } from "../recorder/rollups";

/**
 * The longest a usage row can be recorded after its request started: an OpenAI background
 * response is recorded when it is first seen finished, by the follow-up polls (24 hours) or by the
 * client's own retrieval while its marker lives (7 days, src/background/follow.ts); a day of margin.
 */
export const STRADDLE_MS = 8 * DAY_MS;

export interface RecordedUsage {
  /** Requests with at least one usage row recorded in the range. */
  requests: number;
  input: number;
  output: number;
  cache_read: number;
  cache_write: number;
  cost_micros: number;
  /** Usage rows of models without a price. */
  unpriced: number;
}

const RAW_SUMS = `coalesce(sum(t.input_tokens), 0) as input, coalesce(sum(t.output_tokens), 0) as output,
  coalesce(sum(t.cache_read_input_tokens), 0) as cache_read,
  coalesce(sum(t.cache_write_input_tokens), 0) as cache_write,
  coalesce(sum(t.cost_micros), 0) as cost_micros,
  coalesce(sum(case when t.cost_micros is null then 1 else 0 end), 0) as unpriced`;

type Row = Partial<Record<keyof RecordedUsage, number>>;

export async function recordedUsage(
  db: D1Database,
  user: string,
  from: number,
  to: number,
): Promise<RecordedUsage> {
  if (from % DAY_MS !== 0) return rawRecordedUsage(db, user, from, to);
  const [rolled, straddling, late] = await db.batch<Row>([
    db
      .prepare(
        `select coalesce(sum(usage_requests), 0) as requests,
           coalesce(sum(input_tokens), 0) as input, coalesce(sum(output_tokens), 0) as output,
           coalesce(sum(cache_read_tokens), 0) as cache_read,
           coalesce(sum(cache_write_tokens), 0) as cache_write,
           coalesce(sum(cost_micros), 0) as cost_micros,
           coalesce(sum(usages - priced_usages), 0) as unpriced
         from aibridge_usage_rollups where initiator_id = ?1 and span = 'day' and bucket >= ?2`,
      )
      .bind(user, from),
    // Requests started before the period whose usage was recorded in it.
    db
      .prepare(
        `select count(distinct i.id) as requests, ${RAW_SUMS}
         from aibridge_interceptions i cross join aibridge_token_usages t
         where i.initiator_id = ?1 and i.started_at >= ?2 and i.started_at < ?3
           and t.interception_id = i.id and t.created_at >= ?3 and t.created_at < ?4`,
      )
      .bind(user, from - STRADDLE_MS, from, to),
    // Usage of the period's requests recorded at or after `to` (none when `to` is the period's
    // end); a request counts out only if none of its usage was recorded before `to`.
    db
      .prepare(
        `select count(distinct case when not exists (
             select 1 from aibridge_token_usages e where e.interception_id = i.id and e.created_at < ?3
           ) then i.id end) as requests, ${RAW_SUMS}
         from aibridge_token_usages t cross join aibridge_interceptions i
         where t.created_at >= ?3 and i.id = t.interception_id and i.initiator_id = ?1 and i.started_at >= ?2`,
      )
      .bind(user, from, to),
  ]);
  const total = (key: keyof RecordedUsage) =>
    num(rolled?.results[0]?.[key]) + num(straddling?.results[0]?.[key]) - num(late?.results[0]?.[key]);
  return {
    requests: total("requests"),
    input: total("input"),
    output: total("output"),
    cache_read: total("cache_read"),
    cache_write: total("cache_write"),
    cost_micros: total("cost_micros"),
    unpriced: total("unpriced"),
  };
}

/** The raw rows alone, for a range that does not start at a rollup day (bounded by STRADDLE_MS). */
async function rawRecordedUsage(db: D1Database, user: string, from: number, to: number) {
  const row = await db
    .prepare(
      `select count(distinct i.id) as requests, ${RAW_SUMS}
       from aibridge_interceptions i cross join aibridge_token_usages t
       where i.initiator_id = ?1 and i.started_at >= ?2 and i.started_at < ?4
         and t.interception_id = i.id and t.created_at >= ?3 and t.created_at < ?4`,
    )
    .bind(user, from - STRADDLE_MS, from, to)
    .first<Row>();
  return {
    requests: num(row?.requests),
    input: num(row?.input),
    output: num(row?.output),
    cache_read: num(row?.cache_read),
    cache_write: num(row?.cache_write),
    cost_micros: num(row?.cost_micros),
    unpriced: num(row?.unpriced),
  };
}

function num(value: number | null | undefined): number {
  return value ?? 0;
}
