/**
 * GET /admin/v1/redactions?group_by=user|kind|user,kind&from=&to=&user=
 * How many secrets were replaced by markers before storage, per user and/or kind, and how the
 * interceptions were recorded (redacted / full / none, and how many a request header opted down).
 * Counts only: values are never stored, so they cannot be shown.
 */
import { Hono } from "hono";
import { iso, NO_END, optionalText, ParamError, parseRange } from "../admin/params";
import type { AppEnv } from "../app-env";

const GROUPINGS = ["user", "kind", "user,kind"] as const;
type Grouping = (typeof GROUPINGS)[number];

export interface RedactionRow {
  user?: string;
  kind?: string;
  redactions: number;
  /** Interceptions with at least one redaction (of this kind, when grouped by kind). */
  interceptions_with_redactions: number;
}

export interface RecordingRow {
  user: string;
  interceptions: number;
  redacted: number;
  full: number;
  none: number;
  /** Interceptions whose client lowered the mode with x-aibridge-record. */
  opted_down: number;
}

export async function queryRedactions(
  db: D1Database,
  grouping: Grouping,
  filter: { from: number; to: number; user: string | null },
): Promise<{ rows: RedactionRow[]; recording: RecordingRow[] }> {
  const where = `i.started_at >= ?1 and i.started_at < ?2 and (?3 is null or i.initiator_id = ?3)`;
  const byKind = grouping !== "user";
  const keys = [
    grouping.startsWith("user") ? "i.initiator_id as user" : null,
    byKind ? "r.key as kind" : null,
  ]
    .filter(Boolean)
    .join(", ");
  const groups = [grouping.startsWith("user") ? "user" : null, byKind ? "kind" : null]
    .filter(Boolean)
    .join(", ");
  // One row per (interception, kind) from the redactions JSON object.
  const sql = `
    select ${keys}, sum(r.value) as redactions, count(distinct i.id) as interceptions_with_redactions
    from aibridge_interceptions i, json_each(i.redactions) r
    where ${where} and i.redactions is not null
    group by ${groups} order by ${groups}`;
  const recordingSql = `
    select i.initiator_id as user, count(*) as interceptions,
      sum(i.record_content = 'redacted') as redacted, sum(i.record_content = 'full') as "full",
      sum(i.record_content = 'none') as "none", sum(i.record_content_source = 'header') as opted_down
    from aibridge_interceptions i
    where ${where} and i.record_content is not null
    group by user order by user`;
  const bind = [filter.from, filter.to, filter.user];
  const [rows, recording] = await db.batch<Record<string, unknown>>([
    db.prepare(sql).bind(...bind),
    db.prepare(recordingSql).bind(...bind),
  ]);
  return {
    rows: (rows?.results ?? []) as unknown as RedactionRow[],
    recording: (recording?.results ?? []) as unknown as RecordingRow[],
  };
}

export const adminRedactionRoutes = new Hono<AppEnv>();

adminRedactionRoutes.get("/", async (c) => {
  const grouping = (c.req.query("group_by") || "user") as Grouping;
  if (!GROUPINGS.includes(grouping)) {
    throw new ParamError(`group_by: one of ${GROUPINGS.join(", ")}.`);
  }
  const range = parseRange((name) => c.req.query(name));
  const filter = { ...range, user: optionalText("user", c.req.query("user")) };
  const { rows, recording } = await queryRedactions(c.env.DB, grouping, filter);
  return c.json({
    group_by: grouping,
    from: iso(range.from),
    to: range.to === NO_END ? null : iso(range.to),
    user: filter.user,
    rows,
    recording,
  });
});
