/**
 * The bridge's one call into prompt-cache analytics: fingerprint the request body and add the
 * record to the interception's end batch. The hashing is the interception's deferred request work
 * (Interception.deferRequestWork), which runs once the answer is on its way and always before the
 * end batch is taken; a body that cannot be read is simply not fingerprinted.
 */
import type { Interception } from "../bridge/interception";
import { log } from "../log";
import { fingerprintRequest } from "./fingerprint";
import type { CacheFingerprintRecord } from "./record";

export function observeCachePrefix(interception: Interception, text: string) {
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
      interception.attachRecord(record);
    } catch (error) {
      log.error("cache_fingerprint_lost", {
        interception: info.id,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  });
}
