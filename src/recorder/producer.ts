/**
 * Sends records to the RECORDS queue without making a request wait: callers hand the returned
 * promise to ctx.waitUntil. Records are packed several to a message (RecordPack: an interception's
 * end is usually one message, where Queues bill per message). Queue limits shape the sending: at
 * most 100 messages and 256 KB per sendBatch, 128 KB per message. A record too big for one message
 * is written straight to D1 (stored whole, never truncated); a batch the queue refuses falls back to D1 as well, so a record
 * is only lost if both the queue and D1 are down.
 */
import { log } from "../log";
import { writeMetric } from "../metrics/write";
import { contentStore } from "./content";
import type { RecordMessage, RecordPack } from "./records";
import { writeRecords } from "./store";

const MAX_MESSAGE_BYTES = 120 * 1024; // under the 128 KB message limit, leaving room for envelope
const MAX_BATCH_BYTES = 240 * 1024; // under the 256 KB sendBatch limit
const MAX_BATCH_MESSAGES = 100;
/** `{"kind":"records","records":[]}` around the packed records. */
const PACK_ENVELOPE_BYTES = 32;

export interface RecordSink {
  RECORDS: Queue<unknown>;
  DB: D1Database;
  METRICS?: AnalyticsEngineDataset;
  /** Bulky text to R2 (src/recorder/content.ts) on the direct-to-D1 paths too. */
  CONTENT?: R2Bucket;
  CONTENT_OFFLOAD_BYTES?: string;
}

export interface SendOutcome {
  queued: number;
  /** Records written directly to D1 because they were too big for a queue message. */
  directOversized: number;
  /** Records written directly to D1 because the queue refused them. */
  directFallback: number;
}

/**
 * D1 caps a row at 2 MB. A text longer than this many UTF-16 units (at most 3 bytes each in UTF-8)
 * keeps its first part in its own row; the rest follows as record_part rows, so it is stored whole.
 */
export const MAX_TEXT_UNITS_PER_ROW = 500_000;

export async function sendRecords(sink: RecordSink, input: readonly RecordMessage[]): Promise<SendOutcome> {
  const records = splitLongTexts(input);
  const outcome: SendOutcome = { queued: 0, directOversized: 0, directFallback: 0 };
  const oversized: RecordMessage[] = [];
  // Records packed into messages of at most MAX_MESSAGE_BYTES, messages into sendBatch calls.
  const packs: { records: RecordMessage[]; bytes: number }[] = [];
  let pack: { records: RecordMessage[]; bytes: number } | null = null;
  for (const record of records) {
    const bytes = utf8Length(JSON.stringify(record)) + 1; // + the comma between records
    if (bytes > MAX_MESSAGE_BYTES) {
      oversized.push(record);
      continue;
    }
    if (!pack || pack.bytes + bytes > MAX_MESSAGE_BYTES) {
      pack = { records: [], bytes: PACK_ENVELOPE_BYTES };
      packs.push(pack);
    }
    pack.records.push(record);
    pack.bytes += bytes;
  }
  const batches: { body: RecordPack }[][] = [];
  let batch: { body: RecordPack }[] = [];
  let batchBytes = 0;
  for (const { records, bytes } of packs) {
    if (batch.length >= MAX_BATCH_MESSAGES || batchBytes + bytes > MAX_BATCH_BYTES) {
      batches.push(batch);
      batch = [];
      batchBytes = 0;
    }
    batch.push({ body: { kind: "records", records } });
    batchBytes += bytes;
  }
  if (batch.length > 0) batches.push(batch);

  const refused: RecordMessage[] = [];
  await Promise.all(
    batches.map(async (messages) => {
      const carried = messages.flatMap((m) => m.body.records);
      try {
        await sink.RECORDS.sendBatch(messages);
        outcome.queued += carried.length;
      } catch (error) {
        log.warn("queue_send_failed", { records: carried.length, error: errorMessage(error) });
        refused.push(...carried);
      }
    }),
  );

  if (oversized.length > 0) {
    await writeRecords(sink.DB, oversized, contentStore(sink));
    outcome.directOversized = oversized.length;
    writeMetric(
      sink.METRICS,
      "gateway_event",
      { event: "records_direct_write", detail: "oversized" },
      {
        count: oversized.length,
      },
    );
  }
  if (refused.length > 0) {
    await writeRecords(sink.DB, refused, contentStore(sink));
    outcome.directFallback = refused.length;
    log.warn("records_written_directly", { records: refused.length });
    writeMetric(
      sink.METRICS,
      "gateway_event",
      { event: "records_direct_write", detail: "queue_refused" },
      {
        count: refused.length,
      },
    );
  }
  return outcome;
}

/**
 * Lone UTF-16 surrogates (a client may send `"\ud800"` in JSON) have no UTF-8 form: D1 would store
 * something other than the text, and readers disagree on what. They are replaced with U+FFFD
 * before storage, in every string field of a record.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export function wellFormed<T extends object>(record: T): T {
  let copy: Record<string, unknown> | null = null;
  for (const [name, value] of Object.entries(record)) {
    if (typeof value !== "string" || !LONE_SURROGATE.test(value)) continue;
    LONE_SURROGATE.lastIndex = 0;
    copy ??= { ...(record as Record<string, unknown>) };
    copy[name] = value.replace(LONE_SURROGATE, "\uFFFD");
  }
  return (copy ?? record) as T;
}

/** Moves the part of a prompt, tool input or thought beyond one row's worth into record_part records. */
export function splitLongTexts(input: readonly RecordMessage[]): RecordMessage[] {
  const out: RecordMessage[] = [];
  for (const record of input.map(wellFormed)) {
    const field =
      record.kind === "prompt"
        ? "prompt"
        : record.kind === "tool_usage"
          ? "input"
          : record.kind === "model_thought"
            ? "content"
            : null;
    const text = field ? (record as unknown as Record<string, string>)[field] : undefined;
    if (!field || text === undefined || text.length <= MAX_TEXT_UNITS_PER_ROW) {
      out.push(record);
      continue;
    }
    const parts = splitText(text, MAX_TEXT_UNITS_PER_ROW);
    out.push({ ...record, [field]: parts[0] } as RecordMessage);
    parts.slice(1).forEach((content, i) => {
      out.push({
        kind: "record_part",
        id: `${record.id}:${field}:${i + 1}`,
        recordId: record.id,
        field,
        seq: i + 1,
        content,
        createdAt: (record as { createdAt: number }).createdAt,
      });
    });
  }
  return out;
}

/** Cuts text into pieces of at most `size` units, never between the two halves of a surrogate pair. */
function splitText(text: string, size: number): string[] {
  const parts: string[] = [];
  for (let start = 0; start < text.length; ) {
    let end = Math.min(start + size, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
    parts.push(text.slice(start, end));
    start = end;
  }
  return parts;
}

const encoder = new TextEncoder();
function utf8Length(text: string): number {
  return encoder.encode(text).byteLength;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
