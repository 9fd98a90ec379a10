/**
 * Retention: the daily cron deletes records older than RETENTION_DAYS. Deletes run in bounded
 * batches (a rowid subquery with LIMIT: D1 builds SQLite without DELETE … LIMIT) so one run never
 * holds the database for long; whatever a run leaves behind, the next run continues.
 */
import { log } from "./log";

/** Record tables and the column that dates their rows. Users and API keys are not records. */
export const RECORD_TABLES = [
  ["aibridge_token_usages", "created_at"],
  ["aibridge_user_prompts", "created_at"],
  ["aibridge_tool_usages", "created_at"],
  ["aibridge_model_thoughts", "created_at"],
  ["aibridge_interceptions", "started_at"],
  ["aibridge_dead_letters", "received_at"],
  ["aibridge_record_parts", "created_at"],
  ["aibridge_cache_fingerprints", "started_at"],
] as const;

export interface RetentionOptions {
  batchSize?: number;
  /** Upper bound on batches per table per run. */
  maxBatches?: number;
}

export interface RetentionResult {
  cutoff: number;
  deleted: Record<string, number>;
  /** True when a table hit maxBatches: older rows remain for the next run. */
  incomplete: boolean;
}

export async function deleteOldRecords(
  db: D1Database,
  retentionDays: number,
  now = Date.now(),
  { batchSize = 1000, maxBatches = 50 }: RetentionOptions = {},
): Promise<RetentionResult> {
  const cutoff = now - retentionDays * 86_400_000;
  const deleted: Record<string, number> = {};
  let incomplete = false;
  for (const [table, column] of RECORD_TABLES) {
    const statement = db.prepare(
      `delete from ${table} where rowid in (select rowid from ${table} where ${column} < ? limit ?)`,
    );
    deleted[table] = 0;
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
  log.info("retention", { retentionDays, cutoff, deleted, incomplete });
  return { cutoff, deleted, incomplete };
}
