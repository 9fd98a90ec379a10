/**
 * The bridge's one call into prompt-cache analytics: fingerprint the request body and queue the
 * record with the interception's end batch (or on its own if that batch is already taken). The
 * hashing is the interception's deferred request work (Interception.deferRequestWork): it runs
 * once the answer is on its way, never on the request's path; a body that cannot be read is
 * simply not fingerprinted.
 */
import type { Interception } from "../bridge/interception";
import { log } from "../log";
import { type RecordSink, sendRecords } from "../recorder/producer";
import { fingerprintRequest } from "./fingerprint";
import type { CacheFingerprintRecord } from "./record";

export function observeCachePrefix(sink: RecordSink, interception: Interception, text: string) {
  const info = interception.info;
  interception.deferRequestWork(() => {
    try {
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
      // Usually the end batch is still open: the record rides with it.
      if (!interception.attachRecord(record)) return sendRecords(sink, [record]).catch(lost(info.id));
    } catch (error) {
      lost(info.id)(error);
    }
  });
}

const lost = (interception: string) => (error: unknown) => {
  log.error("cache_fingerprint_lost", {
    interception,
    error: error instanceof Error ? error.message : String(error),
  });
};
