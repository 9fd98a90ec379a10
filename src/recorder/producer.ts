/**
 * Sends records to the RECORDS queue without making a request wait: callers hand the returned
 * promise to ctx.waitUntil. Queue limits shape the sending: at most 100 messages and 256 KB per
 * sendBatch, 128 KB per message. A record too big for one message is written straight to D1
 * (stored whole, never truncated); a batch the queue refuses falls back to D1 as well, so a record
 * is only lost if both the queue and D1 are down.
 */
import { log } from "../log";
import { writeMetric } from "../metrics/write";
import type { RecordMessage } from "./records";
import { writeRecords } from "./store";

const MAX_MESSAGE_BYTES = 120 * 1024; // under the 128 KB message limit, leaving room for envelope
const MAX_BATCH_BYTES = 240 * 1024; // under the 256 KB sendBatch limit
const MAX_BATCH_MESSAGES = 100;

export interface RecordSink {
  RECORDS: Queue<unknown>;
  DB: D1Database;
  METRICS?: AnalyticsEngineDataset;
}

export interface SendOutcome {
  queued: number;
  /** Records written directly to D1 because they were too big for a queue message. */
  directOversized: number;
  /** Records written directly to D1 because the queue refused them. */
  directFallback: number;
}

export async function sendRecords(sink: RecordSink, records: readonly RecordMessage[]): Promise<SendOutcome> {
  const outcome: SendOutcome = { queued: 0, directOversized: 0, directFallback: 0 };
  const oversized: RecordMessage[] = [];
  const batches: { body: RecordMessage }[][] = [];
  let current: { body: RecordMessage }[] = [];
  let currentBytes = 0;

  for (const record of records) {
    const bytes = utf8Length(JSON.stringify(record));
    if (bytes > MAX_MESSAGE_BYTES) {
      oversized.push(record);
      continue;
    }
    if (current.length >= MAX_BATCH_MESSAGES || currentBytes + bytes > MAX_BATCH_BYTES) {
      batches.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push({ body: record });
    currentBytes += bytes;
  }
  if (current.length > 0) batches.push(current);

  const refused: RecordMessage[] = [];
  await Promise.all(
    batches.map(async (batch) => {
      try {
        await sink.RECORDS.sendBatch(batch);
        outcome.queued += batch.length;
      } catch (error) {
        log.warn("queue_send_failed", { records: batch.length, error: errorMessage(error) });
        refused.push(...batch.map((m) => m.body));
      }
    }),
  );

  if (oversized.length > 0) {
    await writeRecords(sink.DB, oversized);
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
    await writeRecords(sink.DB, refused);
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

const encoder = new TextEncoder();
function utf8Length(text: string): number {
  return encoder.encode(text).byteLength;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
