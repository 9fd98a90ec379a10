/** The consumer's statement for cache_fingerprint records: insert once, never update (idempotent). */
import { cacheFingerprints } from "../db/schema";
import { insertStatements, ON_CONFLICT_DO_NOTHING } from "../recorder/insert";
import type { CacheFingerprintRecord } from "./record";

export function fingerprintStatements(
  d1: D1Database,
  records: CacheFingerprintRecord[],
): D1PreparedStatement[] {
  const rows = records.map(({ kind: _, id, ...rest }) => ({ interceptionId: id, ...rest }));
  return insertStatements(d1, cacheFingerprints, rows, ON_CONFLICT_DO_NOTHING);
}
