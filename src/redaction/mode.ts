/**
 * How much of a request's content is recorded. `full` keeps texts as sent, `redacted` (the default)
 * replaces secrets with markers, `none` keeps metadata and token usage only. The deployment sets a
 * mode, a user's policy may set another, and a request may only lower it with `x-aibridge-record`.
 */

export const RECORD_MODES = ["none", "redacted", "full"] as const;
export type RecordMode = (typeof RECORD_MODES)[number];
export type RecordModeSource = "config" | "policy" | "header";

export const RECORD_HEADER = "x-aibridge-record";

export function isRecordMode(value: unknown): value is RecordMode {
  return typeof value === "string" && (RECORD_MODES as readonly string[]).includes(value);
}

const rank = (mode: RecordMode) => RECORD_MODES.indexOf(mode);

/**
 * The mode for one request. The user's policy replaces the configured mode (either way: an admin
 * may record one user in full); the request header only ever lowers it, and an unknown or higher
 * header value is ignored.
 */
export function resolveRecordMode(input: {
  configured: RecordMode;
  policy?: string | null;
  header?: string | null;
}): { mode: RecordMode; source: RecordModeSource } {
  let mode = input.configured;
  let source: RecordModeSource = "config";
  if (isRecordMode(input.policy)) {
    mode = input.policy;
    source = "policy";
  }
  const asked = input.header?.trim().toLowerCase();
  if (isRecordMode(asked) && rank(asked) < rank(mode)) {
    mode = asked;
    source = "header";
  }
  return { mode, source };
}
