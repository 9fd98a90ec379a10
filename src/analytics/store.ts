/** The consumer's statement for cache_fingerprint records: insert once, never update (idempotent). */
import type { BatchItem } from "drizzle-orm/batch";
import type { DrizzleD1Database } from "drizzle-orm/d1";
import { cacheFingerprints } from "../db/schema";
import type { CacheFingerprintRecord } from "./record";

/** 13 columns: 7 rows per statement keeps within D1's 100 bound parameters. */
const ROWS_PER_STATEMENT = 7;

// biome-ignore lint/suspicious/noExplicitAny: any schema; only this table is used
export function fingerprintStatements(db: DrizzleD1Database<any>, records: CacheFingerprintRecord[]) {
  const statements: BatchItem<"sqlite">[] = [];
  const rows = records.map(({ kind: _, id, ...rest }) => ({ interceptionId: id, ...rest }));
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
    statements.push(
      db
        .insert(cacheFingerprints)
        .values(rows.slice(i, i + ROWS_PER_STATEMENT))
        .onConflictDoNothing(),
    );
  }
  return statements;
}
