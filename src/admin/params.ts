/** Query-parameter parsing for the admin API: every bad value is a 400 that says what to send. */

export class ParamError extends Error {}

const DAY_MS = 86_400_000;
/** Far enough in the future to mean "no upper bound" in an integer comparison. */
export const NO_END = 8_640_000_000_000_000;

/**
 * A point in time: `7d` / `24h` (that long before now), a UTC date `2026-05-01`, an ISO date-time,
 * or epoch milliseconds. A bare date given as an end (`to`) means the end of that day, so
 * from=2026-05-01&to=2026-05-01 is the whole day.
 */
export function parseTime(name: string, value: string, now: number, asEnd = false): number {
  const time = parseTimeUnchecked(name, value, now, asEnd);
  // Dates outside years 1970-9999 cannot be shown back (toISOString throws): a 400, not a 500.
  if (!Number.isFinite(time) || time < 0 || time > LATEST_MS) {
    throw new ParamError(`${name}: "${value.slice(0, 40)}" is out of range (1970 to 9999).`);
  }
  return time;
}

const LATEST_MS = Date.UTC(10000, 0, 1);

function parseTimeUnchecked(name: string, value: string, now: number, asEnd: boolean): number {
  const relative = /^(\d+)([dh])$/.exec(value);
  if (relative) return now - Number(relative[1]) * (relative[2] === "d" ? DAY_MS : 3_600_000);
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const start = Date.parse(`${value}T00:00:00Z`);
    if (!Number.isNaN(start)) return asEnd ? start + DAY_MS : start;
  } else if (/^\d{10,16}$/.test(value)) {
    return Number(value);
  } else if (/^\d{4}-\d{2}-\d{2}T/.test(value)) {
    const time = Date.parse(value);
    if (!Number.isNaN(time)) return time;
  }
  throw new ParamError(
    `${name}: expected 7d / 24h, a date (2026-05-01), an ISO date-time or epoch milliseconds, got "${value.slice(0, 40)}".`,
  );
}

export interface Range {
  from: number;
  to: number;
}

/** from (default: 30 days ago) inclusive, to (default: no end) exclusive. */
export function parseRange(query: (name: string) => string | undefined, now = Date.now()): Range {
  const fromText = query("from");
  const toText = query("to");
  const from = fromText ? parseTime("from", fromText, now) : now - 30 * DAY_MS;
  const to = toText ? parseTime("to", toText, now, true) : NO_END;
  if (to <= from) throw new ParamError("to must be later than from.");
  return { from, to };
}

/** An optional free-text filter (user id, model): trimmed, bounded, empty means absent. */
export function optionalText(name: string, value: string | undefined): string | null {
  if (value === undefined || value.trim() === "") return null;
  if (value.length > 320) throw new ParamError(`${name}: at most 320 characters.`);
  return value.trim();
}

export function parseLimit(value: string | undefined, fallback: number, max: number): number {
  if (value === undefined || value === "") return fallback;
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1 || limit > max) {
    throw new ParamError(`limit: an integer from 1 to ${max}.`);
  }
  return limit;
}

export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
