/**
 * The queue consumer: writes a batch of records to D1 in one round trip. If the batch write fails
 * (a poisoned record, D1 briefly down), each message is tried alone so one bad record cannot hold
 * the others back; failures are retried with exponential backoff and, after the queue's
 * max_retries, land in the dead-letter queue. Inserts are idempotent, so redelivery never
 * double-counts.
 */
import { log } from "../log";
import type { ContentStore } from "./content";
import { type RecordMessage, type RecordPack, recordsOf } from "./records";
import { writeRecords } from "./store";

export interface ConsumerOptions {
  /** First retry delay; doubles per attempt (capped at 5 minutes). */
  retryBaseSeconds: number;
  /** Where long texts go (R2), if configured. */
  content?: ContentStore;
}

export async function consumeRecords(
  batch: MessageBatch<unknown>,
  db: D1Database,
  options: ConsumerOptions = { retryBaseSeconds: 2 },
): Promise<void> {
  const messages = batch.messages as readonly Message<RecordMessage | RecordPack>[];
  try {
    await writeRecords(
      db,
      messages.flatMap((m) => recordsOf(m.body)),
      options.content,
    );
    batch.ackAll();
    return;
  } catch (error) {
    log.warn("records_batch_write_failed", { messages: messages.length, error: describe(error) });
  }
  await Promise.all(
    messages.map(async (message) => {
      try {
        await writeMessage(db, recordsOf(message.body), options.content);
        message.ack();
      } catch (error) {
        const delaySeconds = Math.min(300, options.retryBaseSeconds * 2 ** (message.attempts - 1));
        log.error("record_write_failed", {
          kind: message.body?.kind,
          attempts: message.attempts,
          retryInSeconds: delaySeconds,
          error: describe(error),
        });
        message.retry({ delaySeconds });
      }
    }),
  );
}

/**
 * A message's records in one transaction; if that fails, each record alone, so that one bad
 * record of a pack does not hold back the others (then it still throws: the message is retried,
 * and the records already written are rewritten harmlessly, every insert being idempotent).
 */
async function writeMessage(db: D1Database, records: RecordMessage[], content?: ContentStore): Promise<void> {
  try {
    await writeRecords(db, records, content);
    return;
  } catch (error) {
    if (records.length === 1) throw error;
  }
  const failed = (
    await Promise.allSettled(records.map((record) => writeRecords(db, [record], content)))
  ).find((result) => result.status === "rejected");
  if (failed) throw failed.reason;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The dead-letter queue's consumer: records that failed every retry are stored whole in
 * aibridge_dead_letters (keyed by queue message id, so redelivery is harmless) for inspection and
 * replay. If even that fails, the DLQ's own retries apply.
 */
export async function consumeDeadLetters(batch: MessageBatch<unknown>, db: D1Database): Promise<void> {
  const now = Date.now();
  const statements = batch.messages.map((message) =>
    db
      .prepare(
        "insert into aibridge_dead_letters (id, kind, body, attempts, received_at) values (?, ?, ?, ?, ?) on conflict do nothing",
      )
      .bind(
        message.id,
        (message.body as { kind?: string } | null)?.kind ?? null,
        JSON.stringify(message.body),
        message.attempts,
        now,
      ),
  );
  if (statements.length > 0) await db.batch(statements);
  log.error("records_dead_lettered", { messages: batch.messages.length });
  batch.ackAll();
}
