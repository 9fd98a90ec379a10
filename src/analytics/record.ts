/** The cache_fingerprint record: one per bridged request, carried by the RECORDS queue. */
import type { PrefixFingerprint } from "./fingerprint";

export interface CacheFingerprintRecord extends PrefixFingerprint {
  kind: "cache_fingerprint";
  /** The interception id (one fingerprint per interception: redelivery is harmless). */
  id: string;
  sessionId: string | null;
  initiatorId: string;
  client: string;
  model: string;
  api: string;
  startedAt: number;
}
