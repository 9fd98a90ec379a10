/**
 * The benchmark's paired statistics (bench/lib/stats.mjs): the verdict a target gets depends on
 * the interval of the per-iteration ratios, not on one ratio of medians.
 */
import { describe, expect, it } from "vitest";
// @ts-expect-error: plain JavaScript module without types
import { pairedDifference, pairedRatio, verdict } from "../../bench/lib/stats.mjs";

describe("paired ratios", () => {
  it("pairs iteration by iteration: a shared per-iteration swing cancels out", () => {
    // Both paths swing from 5 to 50 ms with the machine; the gateway is always 1.2× the base.
    const base = Array.from({ length: 40 }, (_, i) => 5 + (i % 10) * 5);
    const gateway = base.map((v) => v * 1.2);
    const r = pairedRatio(gateway, base);
    expect(r.pairs).toBe(40);
    expect(r.median).toBeCloseTo(1.2, 10);
    expect(r.lo).toBeCloseTo(1.2, 10);
    expect(r.hi).toBeCloseTo(1.2, 10);
    expect(verdict(1.1, r)).toBe("❌ missed");
    expect(verdict(1.25, r)).toBe("✅ met");
  });

  it("paired differences: a shared swing cancels out, leaving what one mode adds", () => {
    // Rounds swing from 1 to 10 ms; the gateway always costs 0.1 ms more than the mode without a step.
    const without = Array.from({ length: 20 }, (_, i) => 1 + (i % 10));
    const gateway = without.map((v) => v + 0.1);
    const d = pairedDifference(gateway, without);
    expect(d.pairs).toBe(20);
    expect(d.median).toBeCloseTo(0.1, 10);
    expect(d.lo).toBeCloseTo(0.1, 10);
    expect(d.hi).toBeCloseTo(0.1, 10);
  });

  it("a spread that straddles the target is reported as not distinguishable", () => {
    const base = Array.from({ length: 40 }, () => 10);
    const gateway = base.map((v, i) => v * (i % 2 === 0 ? 0.9 : 1.3));
    const r = pairedRatio(gateway, base);
    expect(r.lo).toBeLessThan(1.1);
    expect(r.hi).toBeGreaterThan(1.1);
    expect(verdict(1.1, r)).toBe("≈ not distinguishable from the target");
  });

  it("drops pairs whose base is not positive (a CPU block that read 0 ticks)", () => {
    const r = pairedRatio([10, 12, 11], [0, 10, -1]);
    expect(r.pairs).toBe(1);
    expect(r.median).toBeCloseTo(1.2, 10);
    expect(verdict(1.1, pairedRatio([], []))).toBe("—");
  });
});
