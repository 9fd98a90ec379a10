/**
 * Writes records to D1, into the drizzle schema's tables (statements from src/recorder/insert.ts).
 * Used by the queue consumer and by the producer's fallbacks (queue refused a batch, a record too
 * big for a queue message). Every insert is idempotent: replaying the same records leaves the
 * same rows.
 */
import { fingerprintStatements } from "../analytics/store";
import * as schema from "../db/schema";
import { type ContentStore, offloadTexts } from "./content";
import { insertStatements, ON_CONFLICT_DO_NOTHING, onConflictUpdate } from "./insert";
import type { InterceptionEnded, InterceptionInfo, InterceptionStarted, RecordMessage } from "./records";
import { rollupStatements } from "./rollups";

export async function writeRecords(
  d1: D1Database,
  records: readonly RecordMessage[],
  content?: ContentStore,
): Promise<void> {
  // Long texts go to R2 first: the rows then carry a pointer to where they already are.
  const rows = content ? await offloadTexts(content, records) : records;
  const statements = buildStatements(d1, rows);
  // One round trip for the whole batch; D1 runs a batch as one transaction.
  if (statements.length > 0) await d1.batch(statements);
}

const interceptions = schema.interceptions;
/** An end record got here first: keep its end fields, fill in what the start knows. */
const ON_START = onConflictUpdate(interceptions.id, [
  interceptions.initiatorId,
  interceptions.apiKeyId,
  interceptions.model,
  interceptions.client,
  interceptions.startedAt,
  interceptions.instance,
]);
const ON_END = onConflictUpdate(interceptions.id, [
  interceptions.endedAt,
  interceptions.status,
  interceptions.stopReason,
  interceptions.errorType,
  interceptions.errorMessage,
  interceptions.metadata,
  interceptions.upstreamInstance,
  interceptions.fallback,
  interceptions.recordContent,
  interceptions.recordContentSource,
  interceptions.redactions,
  interceptions.redactionCount,
]);
/** Only ever later: a replayed or out-of-order record never moves it back. */
const KEY_USED =
  "update aibridge_api_keys set last_used_at = ?1 where id = ?2 and coalesce(last_used_at, 0) < ?1";

function buildStatements(d1: D1Database, records: readonly RecordMessage[]): D1PreparedStatement[] {
  const byKind = groupByKind(records);
  const drop = <R extends { kind: string }>({ kind: _, ...row }: R) => row;
  return [
    ...insertStatements(d1, interceptions, byKind.interception_started.map(interceptionRow), ON_START),
    ...insertStatements(d1, interceptions, byKind.interception_ended.map(endedRow), ON_END),
    ...insertStatements(
      d1,
      schema.tokenUsages,
      byKind.token_usage.map(({ kind: _, ...row }) => ({
        ...row,
        estimated: Boolean(row.estimateMethod),
        estimateMethod: row.estimateMethod ?? null,
      })),
      ON_CONFLICT_DO_NOTHING,
    ),
    ...insertStatements(d1, schema.userPrompts, byKind.prompt.map(drop), ON_CONFLICT_DO_NOTHING),
    ...insertStatements(d1, schema.toolUsages, byKind.tool_usage.map(drop), ON_CONFLICT_DO_NOTHING),
    ...insertStatements(d1, schema.modelThoughts, byKind.model_thought.map(drop), ON_CONFLICT_DO_NOTHING),
    ...insertStatements(d1, schema.recordParts, byKind.record_part.map(drop), ON_CONFLICT_DO_NOTHING),
    ...fingerprintStatements(d1, byKind.cache_fingerprint),
    ...latestKeyUses(byKind.key_used).map((used) => d1.prepare(KEY_USED).bind(used.usedAt, used.id)),
    // Last, in the same transaction: fold the new raw rows into the usage rollups exactly once.
    ...rollupStatements(d1, records),
  ];
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
