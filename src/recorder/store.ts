/**
 * Writes records to D1 with drizzle. Used by the queue consumer and by the producer's fallbacks
 * (queue refused a batch, a record too big for a queue message). Every insert is idempotent:
 * replaying the same records leaves the same rows.
 */
import { getTableColumns, sql, type Table } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { drizzle } from "drizzle-orm/d1";
import { fingerprintStatements } from "../analytics/store";
import * as schema from "../db/schema";
import { type ContentStore, offloadTexts } from "./content";
import type { InterceptionEnded, InterceptionInfo, InterceptionStarted, RecordMessage } from "./records";
import { rollupStatements } from "./rollups";

/** D1 binds at most 100 parameters per statement; multi-row inserts are cut to fit. */
const MAX_PARAMS = 100;
/** Every insert binds each column of the table, so rows per statement follow the column count. */
const INTERCEPTION_COLUMNS = Object.keys(getTableColumns(schema.interceptions)).length;

export async function writeRecords(
  d1: D1Database,
  records: readonly RecordMessage[],
  content?: ContentStore,
): Promise<void> {
  // Long texts go to R2 first: the rows then carry a pointer to where they already are.
  const rows = content ? await offloadTexts(content, records) : records;
  const statements = buildStatements(d1, rows);
  if (statements.length === 0) return;
  const db = drizzle(d1, { schema });
  const [first, ...rest] = statements;
  // One round trip for the whole batch; D1 runs a batch as one transaction.
  await db.batch([first!, ...rest]);
}

function buildStatements(d1: D1Database, records: readonly RecordMessage[]): BatchItem<"sqlite">[] {
  const db = drizzle(d1, { schema });
  const statements: BatchItem<"sqlite">[] = [];
  const byKind = groupByKind(records);

  for (const rows of chunk(byKind.interception_started.map(interceptionRow), INTERCEPTION_COLUMNS)) {
    statements.push(
      db
        .insert(schema.interceptions)
        .values(rows)
        .onConflictDoUpdate({
          target: schema.interceptions.id,
          // An end record got here first: keep its end fields, fill in what the start knows.
          set: {
            initiatorId: sql`excluded.initiator_id`,
            apiKeyId: sql`excluded.api_key_id`,
            model: sql`excluded.model`,
            client: sql`excluded.client`,
            startedAt: sql`excluded.started_at`,
            instance: sql`excluded.instance`,
          },
        }),
    );
  }
  for (const rows of chunk(byKind.interception_ended.map(endedRow), INTERCEPTION_COLUMNS)) {
    statements.push(
      db
        .insert(schema.interceptions)
        .values(rows)
        .onConflictDoUpdate({
          target: schema.interceptions.id,
          set: {
            endedAt: sql`excluded.ended_at`,
            status: sql`excluded.status`,
            stopReason: sql`excluded.stop_reason`,
            errorType: sql`excluded.error_type`,
            errorMessage: sql`excluded.error_message`,
            metadata: sql`excluded.metadata`,
            upstreamInstance: sql`excluded.upstream_instance`,
            fallback: sql`excluded.fallback`,
            recordContent: sql`excluded.record_content`,
            recordContentSource: sql`excluded.record_content_source`,
            redactions: sql`excluded.redactions`,
            redactionCount: sql`excluded.redaction_count`,
          },
        }),
    );
  }
  for (const rows of chunk(
    byKind.token_usage.map(({ kind: _, ...row }) => ({
      ...row,
      estimated: Boolean(row.estimateMethod),
      estimateMethod: row.estimateMethod ?? null,
    })),
    columnsOf(schema.tokenUsages),
  )) {
    statements.push(db.insert(schema.tokenUsages).values(rows).onConflictDoNothing());
  }
  for (const rows of chunk(
    byKind.prompt.map(({ kind: _, ...row }) => row),
    columnsOf(schema.userPrompts),
  )) {
    statements.push(db.insert(schema.userPrompts).values(rows).onConflictDoNothing());
  }
  for (const rows of chunk(
    byKind.tool_usage.map(({ kind: _, ...row }) => row),
    columnsOf(schema.toolUsages),
  )) {
    statements.push(db.insert(schema.toolUsages).values(rows).onConflictDoNothing());
  }
  for (const rows of chunk(
    byKind.model_thought.map(({ kind: _, ...row }) => row),
    columnsOf(schema.modelThoughts),
  )) {
    statements.push(db.insert(schema.modelThoughts).values(rows).onConflictDoNothing());
  }
  for (const rows of chunk(
    byKind.record_part.map(({ kind: _, ...row }) => row),
    columnsOf(schema.recordParts),
  )) {
    statements.push(db.insert(schema.recordParts).values(rows).onConflictDoNothing());
  }
  statements.push(...fingerprintStatements(db, byKind.cache_fingerprint));
  for (const used of latestKeyUses(byKind.key_used)) {
    statements.push(
      db
        .update(schema.apiKeys)
        .set({ lastUsedAt: used.usedAt })
        .where(
          sql`${schema.apiKeys.id} = ${used.id} and coalesce(${schema.apiKeys.lastUsedAt}, 0) < ${used.usedAt}`,
        ),
    );
  }
  // Last, in the same transaction: fold the new raw rows into the usage rollups exactly once.
  statements.push(...rollupStatements(db, records));
  return statements;
}

type ByKind = { [K in RecordMessage["kind"]]: Extract<RecordMessage, { kind: K }>[] };

function groupByKind(records: readonly RecordMessage[]): ByKind {
  const groups: ByKind = {
    interception_started: [],
    interception_ended: [],
    token_usage: [],
    prompt: [],
    tool_usage: [],
    model_thought: [],
    key_used: [],
    record_part: [],
    cache_fingerprint: [],
  };
  for (const record of records) (groups[record.kind] as RecordMessage[]).push(record);
  return groups;
}

function interceptionRow(
  record: InterceptionStarted | InterceptionEnded,
): typeof schema.interceptions.$inferInsert {
  const info: InterceptionInfo = record;
  return {
    id: info.id,
    initiatorId: info.initiatorId,
    apiKeyId: info.apiKeyId,
    provider: info.provider,
    providerName: info.providerName,
    instance: info.instance ?? null,
    model: info.model,
    client: info.client,
    userAgent: info.userAgent,
    clientSessionId: info.clientSessionId,
    correlatingToolCallId: info.correlatingToolCallId,
    credentialKind: info.credentialKind,
    credentialHint: info.credentialHint,
    streaming: info.streaming,
    startedAt: info.startedAt,
    status: "started",
    metadata: info.metadata,
  };
}

function endedRow(record: InterceptionEnded): typeof schema.interceptions.$inferInsert {
  return {
    ...interceptionRow(record),
    endedAt: record.endedAt,
    status: record.status,
    stopReason: record.stopReason,
    errorType: record.errorType,
    errorMessage: record.errorMessage,
    upstreamInstance: record.upstreamInstance ?? null,
    fallback: record.fallback ?? false,
    recordContent: record.recordContent ?? null,
    recordContentSource: record.recordContentSource ?? null,
    redactions: record.redactions ?? null,
    redactionCount: record.redactions ? Object.values(record.redactions).reduce((a, b) => a + b, 0) : null,
  };
}

function latestKeyUses(uses: { id: string; usedAt: number }[]): { id: string; usedAt: number }[] {
  const latest = new Map<string, number>();
  for (const use of uses) latest.set(use.id, Math.max(latest.get(use.id) ?? 0, use.usedAt));
  return [...latest].map(([id, usedAt]) => ({ id, usedAt }));
}

/**
 * Every column of a table, defaulted ones too: drizzle binds a parameter for each of them, so a
 * hand-kept count goes stale (and overflows D1's limit) as soon as a column is added.
 */
function columnsOf(table: Table): number {
  return Object.keys(getTableColumns(table)).length;
}

/** Splits rows so that rows × columns stays within D1's parameter limit. */
function chunk<T>(rows: T[], columns: number): T[][] {
  const size = Math.max(1, Math.floor(MAX_PARAMS / columns));
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}
