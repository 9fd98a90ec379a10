/** Budget periods: calendar UTC day, ISO week (Monday 00:00 UTC) or month. */

export type PeriodKind = "day" | "week" | "month";

export const PERIOD_KINDS: readonly PeriodKind[] = ["day", "week", "month"];

/** A budget without a period counts per calendar month (docs/limits.md). */
export const DEFAULT_PERIOD: PeriodKind = "month";

/** [start, end) of the period that contains `now`, in epoch milliseconds. */
export function periodBounds(kind: PeriodKind, now: number): { start: number; end: number } {
  const d = new Date(now);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const day = d.getUTCDate();
  if (kind === "day") return { start: Date.UTC(y, m, day), end: Date.UTC(y, m, day + 1) };
  if (kind === "month") return { start: Date.UTC(y, m, 1), end: Date.UTC(y, m + 1, 1) };
  // ISO weeks start on Monday: getUTCDay() is 0 for Sunday.
  const sinceMonday = (d.getUTCDay() + 6) % 7;
  return { start: Date.UTC(y, m, day - sinceMonday), end: Date.UTC(y, m, day - sinceMonday + 7) };
}
