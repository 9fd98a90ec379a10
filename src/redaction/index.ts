/**
 * The redaction module's face to the bridge: one RecordingGuard per interception. Every batch of
 * records goes through `prepare` (inside waitUntil) before it is sent; batches are prepared in
 * order, so the end record can carry the counts of everything before it.
 */
import { log } from "../log";
import { writeMetric } from "../metrics/write";
import { nextTask } from "../next-task";
import type { RecordMessage } from "../recorder/records";
import { type RecordMode, type RecordModeSource, resolveRecordMode } from "./mode";
import { policyRecordContent } from "./policy-seam";
import { newRedactionState, prepareRecords } from "./redact";

export { RECORD_HEADER, type RecordMode, resolveRecordMode } from "./mode";

/** What the handler knows when the request opens. */
export interface RecordingRequest {
  /** RECORD_CONTENT. */
  configured: RecordMode;
  /** The request's x-aibridge-record header (may only lower the mode). */
  header: string | null;
  /** HMAC key for markers. */
  key: string;
}

interface Labels {
  provider: string;
  model: string;
  client: string;
  initiator: string;
}

export class RecordingGuard {
  private chain: Promise<unknown> = Promise.resolve();
  private resolved: Promise<{ mode: RecordMode; source: RecordModeSource }> | null = null;
  private readonly state = newRedactionState();

  constructor(
    private readonly env: { METRICS?: AnalyticsEngineDataset },
    private readonly request: RecordingRequest,
    private readonly userId: string,
  ) {}

  /** The records as they may be stored. Rejects rather than ever returning unredacted text. */
  prepare(records: readonly RecordMessage[], labels: Labels): Promise<RecordMessage[]> {
    const job = this.chain.then(() => this.run(records, labels));
    this.chain = job.catch(() => undefined);
    return job;
  }

  private mode() {
    this.resolved ??= policyRecordContent(this.env, this.userId)
      .catch((error) => {
        log.warn("record_policy_unavailable", { error: error instanceof Error ? error.name : "unknown" });
        return undefined;
      })
      .then((policy) =>
        resolveRecordMode({ configured: this.request.configured, policy, header: this.request.header }),
      );
    return this.resolved;
  }

  private async run(records: readonly RecordMessage[], labels: Labels): Promise<RecordMessage[]> {
    // The bridge calls this just before it returns the response (or closes the stream). Promise
    // callbacks would all run before the runtime gets that response; a timer runs after it. So the
    // scan starts on a later turn of the event loop, off the response's path.
    await nextTask();
    const { mode, source } = await this.mode();
    const safe = await prepareRecords(records, { mode, key: this.request.key }, this.state);
    return safe.map((record) => {
      if (record.kind !== "interception_ended") return record;
      const counts = this.state.counts;
      for (const [kind, count] of Object.entries(counts)) {
        const { provider, model, client, initiator } = labels;
        writeMetric(this.env.METRICS, "redaction", { provider, model, kind, initiator, client }, { count });
      }
      return {
        ...record,
        recordContent: mode,
        recordContentSource: source,
        redactions: Object.keys(counts).length > 0 ? { ...counts } : null,
      };
    });
  }
}
