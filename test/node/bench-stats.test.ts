/**
 * The benchmark's paired statistics (bench/lib/stats.mjs): the verdict a target gets depends on
 * the interval of the per-iteration ratios, not on one ratio of medians.
 */
import { describe, expect, it } from "vitest";
// @ts-expect-error: plain JavaScript module without types
import { pairedRatio, verdict } from "../../bench/lib/stats.mjs";

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
