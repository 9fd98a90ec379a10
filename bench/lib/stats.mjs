/**
 * Paired statistics for the benchmark's targets. Every iteration (latency) or block (CPU) visits
 * every path back to back, so the ratio of two paths within one iteration cancels what the
 * machine was doing at that moment; the median of those ratios, with a bootstrap 95% interval,
 * says whether a target is met, missed, or not distinguishable from it on this machine.
 */
import { median } from "./client.mjs";

/** The 95% interval of the median of `values`, by bootstrap resampling. */
export function bootstrapMedian(values, rounds = 2000) {
  if (values.length === 0) return [Number.NaN, Number.NaN];
  const medians = [];
  for (let r = 0; r < rounds; r++) {
    medians.push(median(Array.from(values, () => values[Math.floor(Math.random() * values.length)])));
  }
  medians.sort((a, b) => a - b);
  return [medians[Math.floor(rounds * 0.025)], medians[Math.floor(rounds * 0.975)]];
}

/** The median of the per-iteration ratios a[i] / b[i], with its 95% interval and the pair count. */
export function pairedRatio(a, b) {
  const ratios = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const r = a[i] / b[i];
    if (Number.isFinite(r) && b[i] > 0) ratios.push(r);
  }
  return pairedSummary(ratios);
}

/** The median of the per-iteration differences a[i] − b[i], with its 95% interval and the pair count. */
export function pairedDifference(a, b) {
  const differences = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) differences.push(a[i] - b[i]);
  return pairedSummary(differences);
}

/** Per-pair values as the paired tables report them: median, bootstrap 95% interval, pair count. */
function pairedSummary(values) {
  const [lo, hi] = bootstrapMedian(values);
  return { median: values.length ? median(values) : Number.NaN, lo, hi, pairs: values.length };
}

/** Met (the whole interval within the target), missed (all of it above), or not distinguishable. */
export function verdict(target, { lo, hi }) {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return "—";
  if (hi <= target) return "✅ met";
  if (lo > target) return "❌ missed";
  return "≈ not distinguishable from the target";
}
