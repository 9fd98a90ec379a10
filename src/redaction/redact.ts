/**
 * The one call between the record path and storage: every record an interception produces passes
 * through `prepareRecords` before it is queued (or written straight to D1), inside waitUntil, so
 * the response never waits on the scan. It applies the recording mode: `full` passes records
 * through, `none` drops every text, `redacted` replaces each secret with its marker.
 */
import type { RecordMessage } from "../recorder/records";
import { marker } from "./marker";
import type { RecordMode } from "./mode";
import { scanText } from "./scan";

/**
 * UTF-16 units scanned per interception, across all its texts. Workers' clocks stand still while
 * code runs, so the bound is on work, not time: at the cost measured by `npm run bench`
 * (docs/redaction.md) this is well under 100 ms of CPU. What is left when it runs out is not
 * stored (see `UNSCANNED_KIND`).
 */
export const SCAN_BUDGET_UNITS = 4 * 1024 * 1024;

/** Text the budget did not cover is replaced, whole, by one marker of this kind: never stored unscanned. */
export const UNSCANNED_KIND = "unscanned";

export interface RedactionSettings {
  mode: RecordMode;
  /** The HMAC key for markers (see key.ts). */
  key: string;
}

/** Per interception: what is left of the scan budget, and how many secrets of each kind were hidden. */
export interface RedactionState {
  budget: { units: number };
  counts: Record<string, number>;
  /** Markers already computed (a secret repeated across a conversation is hashed once). */
  markers: Map<string, string>;
}

export function newRedactionState(): RedactionState {
  return { budget: { units: SCAN_BUDGET_UNITS }, counts: {}, markers: new Map() };
}

export async function prepareRecords(
  records: readonly RecordMessage[],
  settings: RedactionSettings,
  state: RedactionState,
): Promise<RecordMessage[]> {
  if (settings.mode === "full") return [...records];
  if (settings.mode === "none") return records.flatMap(withoutText);
  const redact = (text: string) => redactText(text, settings.key, state);
  const out: RecordMessage[] = [];
  for (const record of records) out.push(await redactRecord(record, redact));
  return out;
}

/** `none`: prompts and thoughts are not kept at all; tool calls keep their name, not their input. */
function withoutText(record: RecordMessage): RecordMessage[] {
  switch (record.kind) {
    case "prompt":
    case "model_thought":
    case "record_part":
      return [];
    case "tool_usage":
      return [{ ...record, input: "", invocationError: record.invocationError ? "[not recorded]" : null }];
    case "interception_started":
      return [{ ...record, metadata: null }];
    case "interception_ended":
      return [{ ...record, metadata: null, errorMessage: null }];
    default:
      return [record];
  }
}

type Redact = (text: string) => Promise<string>;

async function redactRecord(record: RecordMessage, redact: Redact): Promise<RecordMessage> {
  switch (record.kind) {
    case "prompt":
      return { ...record, prompt: await redact(record.prompt) };
    case "model_thought":
      return { ...record, content: await redact(record.content) };
    case "record_part":
      return { ...record, content: await redact(record.content) };
    case "tool_usage":
      return {
        ...record,
        input: await redact(record.input),
        invocationError: record.invocationError === null ? null : await redact(record.invocationError),
      };
    case "interception_started":
    case "interception_ended": {
      const out = {
        ...record,
        userAgent: record.userAgent === null ? null : await redact(record.userAgent),
        metadata:
          record.metadata === null
            ? null
            : ((await redactJson(record.metadata, redact)) as Record<string, unknown>),
      };
      if (out.kind === "interception_ended" && out.errorMessage !== null) {
        out.errorMessage = await redact(out.errorMessage);
      }
      return out;
    }
    default:
      return record;
  }
}

/** Every string inside a JSON value (keys included), redacted. */
async function redactJson(value: unknown, redact: Redact): Promise<unknown> {
  if (typeof value === "string") return redact(value);
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const item of value) out.push(await redactJson(item, redact));
    return out;
  }
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[await redact(k)] = await redactJson(v, redact);
    return out;
  }
  return value;
}

async function cachedMarker(key: string, kind: string, value: string, state: RedactionState) {
  const id = `${kind}\u0000${value}`;
  let found = state.markers.get(id);
  if (found === undefined) {
    found = await marker(key, kind, value);
    state.markers.set(id, found);
  }
  return found;
}

/** One text with each secret replaced by its marker, and the unscanned rest (if any) by one marker. */
export async function redactText(text: string, key: string, state: RedactionState): Promise<string> {
  if (text.length === 0) return text;
  const { findings, scannedTo } = await scanText(text, state.budget);
  if (findings.length === 0 && scannedTo === text.length) return text;
  let out = "";
  let at = 0;
  for (const f of findings) {
    if (f.start >= scannedTo) break;
    const end = Math.min(f.end, scannedTo);
    out += text.slice(at, f.start) + (await cachedMarker(key, f.kind, text.slice(f.start, end), state));
    at = end;
    state.counts[f.kind] = (state.counts[f.kind] ?? 0) + 1;
  }
  out += text.slice(at, scannedTo);
  if (scannedTo < text.length) {
    out += await marker(key, UNSCANNED_KIND, text.slice(scannedTo));
    state.counts[UNSCANNED_KIND] = (state.counts[UNSCANNED_KIND] ?? 0) + 1;
  }
  return out;
}
