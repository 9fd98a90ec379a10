/** How numbers, money and times are shown. */

export function fmtInt(n: number | null | undefined): string {
  return Number(n ?? 0).toLocaleString("en-US");
}

/** Micro-dollars as USD; null means "not priced", never zero. */
export function fmtUsd(micros: number | null | undefined): string {
  if (micros === null || micros === undefined) return "unknown";
  // Rounded on integers: (0.00325).toFixed(4) would show 0.0032.
  if (Math.abs(micros) >= 1e6) return `$${(Math.round(micros / 1e4) / 100).toFixed(2)}`;
  return `$${(Math.round(micros / 100) / 1e4).toFixed(4)}`;
}

export function fmtPct(ratio: number | null | undefined): string {
  return ratio === null || ratio === undefined ? "–" : `${(ratio * 100).toFixed(1)}%`;
}

/** An ISO timestamp as "YYYY-MM-DD HH:MM UTC". */
export function fmtTime(isoText: string | null | undefined): string {
  return isoText ? `${isoText.replace("T", " ").slice(0, 16)} UTC` : "–";
}

/** Short token counts for chart axes: 1.2k, 3.4M. */
export function fmtShort(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return String(Math.round(v));
}
