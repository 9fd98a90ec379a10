/**
 * Retention: the daily cron deletes records by age. Raw content (prompts, tool arguments,
 * thoughts, their overflow parts, dead letters) is bulky and sensitive: kept CONTENT_RETENTION_DAYS.
 * Usage (interceptions, token-usage rows, cache fingerprints) is kept USAGE_RETENTION_DAYS, day
 * rollups (what usage answers read) ROLLUP_RETENTION_DAYS (default: the same), hour rollups only
 * while usage answers read them (HOURLY_ROLLUP_DAYS, plus a day). Deletes run in bounded batches (a rowid subquery with
 * LIMIT: D1 builds SQLite without DELETE … LIMIT) so one run never holds the database for long;
 * whatever a run leaves behind, the next run continues.
 */
import { log } from "./log";
import { DAY_MS, hourlySince } from "./recorder/rollups";

/** Tables of raw content and the column that dates their rows. */
export const CONTENT_TABLES = [
  ["aibridge_user_prompts", "created_at"],
  ["aibridge_tool_usages", "created_at"],
  ["aibridge_model_thoughts", "created_at"],
  ["aibridge_record_parts", "created_at"],
  ["aibridge_dead_letters", "received_at"],
] as const;

/** Tables of usage and the column that dates their rows. */
export const USAGE_TABLES = [
  ["aibridge_token_usages", "created_at"],
  ["aibridge_interceptions", "started_at"],
  // Prefix hashes, no text: kept with the usage their cache-break analysis explains.
  ["aibridge_cache_fingerprints", "started_at"],
] as const;

/** Every table retention prunes (users and API keys are not records). */
export const RECORD_TABLES = [
  ...USAGE_TABLES,
  ...CONTENT_TABLES,
  ["aibridge_usage_rollups", "bucket"],
] as const;

export interface Retention {
  contentDays: number;
  usageDays: number;
  /** Day rollups; default usageDays. */
  rollupDays?: number;
}

export interface RetentionOptions {
  batchSize?: number;
  /** Upper bound on batches per table per run. */
  maxBatches?: number;
}

export interface RetentionResult {
  contentCutoff: number;
  usageCutoff: number;
  deleted: Record<string, number>;
  /** True when a table hit maxBatches: older rows remain for the next run. */
  incomplete: boolean;
}

export async function deleteOldRecords(
  db: D1Database,
  retention: Retention,
  now = Date.now(),
  { batchSize = 1000, maxBatches = 50 }: RetentionOptions = {},
): Promise<RetentionResult> {
  const contentCutoff = now - retention.contentDays * DAY_MS;
  const usageCutoff = now - retention.usageDays * DAY_MS;
  const rollupCutoff = now - (retention.rollupDays ?? retention.usageDays) * DAY_MS;
  const prunes: [string, string, number][] = [
    ...CONTENT_TABLES.map(([table, column]): [string, string, number] => [table, column, contentCutoff]),
    ...USAGE_TABLES.map(([table, column]): [string, string, number] => [table, column, usageCutoff]),
    // A day row covers its whole day: it goes once all of that day is older than the cutoff.
    ["aibridge_usage_rollups", "span = 'day' and bucket", rollupCutoff - DAY_MS + 1],
    ["aibridge_usage_rollups", "span = 'hour' and bucket", hourlySince(now) - DAY_MS],
  ];
  const deleted: Record<string, number> = {};
  let incomplete = false;
  for (const [table, condition, cutoff] of prunes) {
    const statement = db.prepare(
      `delete from ${table} where rowid in (select rowid from ${table} where ${condition} < ? limit ?)`,
    );
    deleted[table] ??= 0;
    for (let batch = 0; ; batch++) {
      if (batch === maxBatches) {
        incomplete = true;
        break;
      }
      const { meta } = await statement.bind(cutoff, batchSize).run();
      deleted[table] += meta.changes;
      if (meta.changes < batchSize) break;
    }
  }
  log.info("retention", { ...retention, contentCutoff, usageCutoff, deleted, incomplete });
  return { contentCutoff, usageCutoff, deleted, incomplete };
}
