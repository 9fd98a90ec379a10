/**
 * Bulky text off D1: tool arguments, thoughts and overflow parts longer than CONTENT_OFFLOAD_BYTES
 * go to R2 (the CONTENT binding), and their D1 row keeps an empty text and a pointer
 * (`content_ref`). One R2 object per written batch holds all of the batch's long texts back to
 * back, so a busy gateway pays one R2 write per queue batch, not one per record; the pointer is
 * `<key>#<byte offset>+<byte length>`, read back with a ranged GET.
 *
 * Redelivery writes a second object, but the D1 insert keeps the first row (and its pointer), so
 * what the row points at never changes; the unreferenced copy goes with retention. Keys start with
 * `content/<UTC day>/`, so retention deletes whole days in key order (see deleteOldContent).
 * Prompts stay in D1: they are short (bench/scale.mjs measures them) and the lists preview them.
 */
import { ConfigError, type Env } from "../config";
import { log } from "../log";
import type { RecordMessage } from "./records";

export interface ContentStore {
  bucket: R2Bucket;
  /** Texts longer than this many UTF-8 bytes go to R2. */
  offloadBytes: number;
}

/** Off unless configured: existing deployments keep every text in D1 until they opt in. */
const DEFAULT_OFFLOAD_BYTES = 0;
const PREFIX = "content/";

/** The content store for this deployment, or undefined when CONTENT is unbound or offload is 0. */
export function contentStore(
  env: Pick<Env, "CONTENT_OFFLOAD_BYTES"> & { CONTENT?: R2Bucket },
): ContentStore | undefined {
  const raw = env.CONTENT_OFFLOAD_BYTES;
  let offloadBytes = DEFAULT_OFFLOAD_BYTES;
  if (raw !== undefined && raw !== "") {
    offloadBytes = Number(raw);
    if (!Number.isInteger(offloadBytes) || offloadBytes < 0) {
      throw new ConfigError(
        "CONTENT_OFFLOAD_BYTES",
        "must be a whole number of bytes (0 keeps all text in D1)",
      );
    }
  }
  if (!env.CONTENT || offloadBytes === 0) return undefined;
  return { bucket: env.CONTENT, offloadBytes };
}

type Offloadable = Extract<RecordMessage, { kind: "tool_usage" | "model_thought" | "record_part" }>;

function textOf(record: RecordMessage): { field: "input" | "content"; text: string } | null {
  if (record.kind === "tool_usage") return { field: "input", text: record.input };
  if (record.kind === "model_thought" || record.kind === "record_part")
    return { field: "content", text: record.content };
  return null;
}

/** Returns the records with their long texts moved to one R2 object (others unchanged). */
export async function offloadTexts(
  store: ContentStore,
  records: readonly RecordMessage[],
  now = Date.now(),
): Promise<RecordMessage[]> {
  const encoder = new TextEncoder();
  const chunks: Uint8Array[] = [];
  const moved = new Map<number, { field: "input" | "content"; offset: number; length: number }>();
  let offset = 0;
  records.forEach((record, index) => {
    const found = textOf(record);
    // At most 3 UTF-8 bytes per UTF-16 unit: a text this short cannot exceed the limit.
    if (!found || found.text.length * 3 <= store.offloadBytes) return;
    const bytes = encoder.encode(found.text);
    if (bytes.length <= store.offloadBytes) return;
    chunks.push(bytes);
    moved.set(index, { field: found.field, offset, length: bytes.length });
    offset += bytes.length;
  });
  if (moved.size === 0) return [...records];
  const key = `${PREFIX}${new Date(now).toISOString().slice(0, 10)}/${crypto.randomUUID()}`;
  const body = new Uint8Array(offset);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.length;
  }
  await store.bucket.put(key, body, { httpMetadata: { contentType: "text/plain; charset=utf-8" } });
  return records.map((record, index) => {
    const place = moved.get(index);
    if (!place) return record;
    return {
      ...(record as Offloadable),
      [place.field]: "",
      contentRef: `${key}#${place.offset}+${place.length}`,
    } as RecordMessage;
  });
}

/** Reads back the texts of rows whose `content_ref` is set into `field` (and drops content_ref). */
export async function resolveTexts(
  bucket: R2Bucket | undefined,
  rows: Record<string, unknown>[],
  field: string,
): Promise<void> {
  await Promise.all(
    rows.map(async (row) => {
      const ref = row.content_ref;
      delete row.content_ref;
      if (typeof ref !== "string" || ref === "") return;
      const match = /^(.+)#(\d+)\+(\d+)$/.exec(ref);
      const object =
        match && bucket
          ? await bucket.get(match[1]!, { range: { offset: Number(match[2]), length: Number(match[3]) } })
          : null;
      if (!object) {
        // Past content retention, or the binding was removed: say so rather than show "".
        row[field] = null;
        row[`${field}_unavailable`] = true;
        return;
      }
      row[field] = await object.text();
    }),
  );
}

/**
 * Deletes content objects of days before `cutoff` (keys sort by day, so the oldest come first),
 * at most `maxBatches` × 1000 per run; the next run continues.
 */
export async function deleteOldContent(bucket: R2Bucket, cutoff: number, maxBatches = 50): Promise<number> {
  const cutoffDay = new Date(cutoff).toISOString().slice(0, 10);
  let deleted = 0;
  for (let batch = 0; batch < maxBatches; batch++) {
    const listed = await bucket.list({ prefix: PREFIX, limit: 1000 });
    const old = listed.objects
      .map((o) => o.key)
      .filter((key) => key.slice(PREFIX.length, PREFIX.length + 10) < cutoffDay);
    if (old.length > 0) await bucket.delete(old);
    deleted += old.length;
    if (old.length < listed.objects.length || !listed.truncated) break;
  }
  if (deleted > 0) log.info("content_retention", { deleted, cutoffDay });
  return deleted;
}
