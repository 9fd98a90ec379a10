/**
 * The bridge's one call into prompt-cache analytics: fingerprint the request body and queue the
 * record with the interception's end batch (or on its own if the interception already ended),
 * after the response is on its way. The hashing runs in waitUntil behind a zero timer, so
 * the handler has already sent the upstream request (and usually relayed the first bytes) before
 * the body is hashed; a body that cannot be read is simply not fingerprinted.
 */
import type { Interception, WaitUntil } from "../bridge/interception";
import { log } from "../log";
import { nextTask } from "../next-task";
import { type RecordSink, sendRecords } from "../recorder/producer";
import { fingerprintRequest } from "./fingerprint";
import type { CacheFingerprintRecord } from "./record";

export function observeCachePrefix(
  ctx: WaitUntil,
  sink: RecordSink,
  interception: Interception,
  text: string,
) {
  const info = interception.info;
  ctx.waitUntil(
    nextTask()
      .then(() => {
        const fingerprint = fingerprintRequest(info.providerName, text);
        if (!fingerprint) return;
        const record: CacheFingerprintRecord = {
          kind: "cache_fingerprint",
          id: info.id,
          sessionId: info.clientSessionId,
          initiatorId: info.initiatorId,
          client: info.client,
          model: info.model,
          api: info.providerName,
          startedAt: info.startedAt,
          ...fingerprint,
        };
        // Usually the request is still going: the record rides with its end batch.
        if (!interception.attachRecord(record)) return sendRecords(sink, [record]);
      })
      .catch((error) => {
        log.error("cache_fingerprint_lost", {
          interception: info.id,
          error: error instanceof Error ? error.message : String(error),
        });
      }),
  );
}
