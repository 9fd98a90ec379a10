/**
 * Keeps `npm run bench` working: runs the benchmark in smoke mode (a handful of iterations, tiny
 * streams, the real fake upstream, pass-through Worker and gateway under `wrangler dev`) and checks
 * that every row came out with sane numbers. It asserts no performance target: benchmarks are not
 * tests, and this machine is shared.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, test } from "vitest";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "../..");

interface Row {
  metric: string;
  unit: string;
  values: Record<"direct" | "passthrough" | "jsrelay" | "jsrelayq" | "norec" | "gateway", number | null>;
  ratio: number | null;
  ratioJs: number | null;
  ratioQueue: number | null;
}

interface Rate {
  cpu: number;
  wall: number;
}

interface Time {
  cpuMs: number;
  wallMs: number;
}

/** A paired difference (bench/lib/stats.mjs pairedDifference). */
interface Difference {
  median: number;
  lo: number;
  hi: number;
  pairs: number;
}

interface Paired {
  metric: string;
  against: string;
  target?: number;
  median: number;
  lo: number;
  hi: number;
  pairs: number;
}

interface Report {
  mode: string;
  rows: Row[];
  paired: Paired[];
  /** Blocking time and streaming TTFB split at the upstream's stamps, per path (bench/lib/latency.mjs). */
  upstreamSplit: {
    name: keyof Row["values"];
    before: number;
    after: number;
    beforeVsNative: Difference;
    afterVsNative: Difference;
    ttfbBefore: number;
    ttfbAfter: number;
    ttfbBeforeVsRelay: Difference;
    ttfbAfterVsRelay: Difference;
  }[];
  cpu: Record<"chat" | "turn", { perRequest: Record<string, { workerdMs: number; wranglerMs: number }> }>;
  inProcess: Record<
    "chat" | "turn",
    Record<"native" | "jsrelay" | "norec" | "gateway" | "unredacted" | "nofingerprint", number>
  >;
  isolate: Record<"chat" | "turn", Record<"jsrelay" | "gateway", number>>;
  /** Blocking latency of a user with a policy (Durable Object admission) vs one without. */
  admission: {
    without: { p50: number; p99: number };
    withPolicy: { p50: number; p99: number };
    addedP50: number;
  };
  micro: {
    sse: Record<
      | "extract16k"
      | "extractPerEvent"
      | "extractTextOnly16k"
      | "decoder16k"
      | "decoderPerEvent"
      | "textDecoder16k",
      Rate
    >;
    injection: { bodyBytes: number; inject: Time; parse: Time; fingerprint: Time };
  };
}

let dir = "";
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("bench smoke run produces every row with sane numbers", { timeout: 420_000 }, async () => {
  dir = await mkdtemp(join(tmpdir(), "bench-smoke-"));
  const out = join(dir, "smoke.json");
  const { stdout } = await run(process.execPath, ["bench/run.mjs", "--smoke", "--json", out], {
    cwd: ROOT,
    timeout: 410_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  expect(stdout).toContain("gateway ÷ pass-through Worker (native; JS relay):");
  const report = JSON.parse(await readFile(out, "utf8")) as Report;
  expect(report.mode).toBe("smoke");

  const row = (prefix: string) => {
    const found = report.rows.find((r) => r.metric.startsWith(prefix));
    expect(found, `row "${prefix}"`).toBeDefined();
    return found as Row;
  };
  const positive = (value: number | null | undefined) => {
    expect(typeof value).toBe("number");
    expect(Number.isFinite(value)).toBe(true);
    expect(value as number).toBeGreaterThan(0);
  };

  for (const prefix of [
    "Blocking latency",
    "Streaming TTFB",
    "Long stream full time",
    "Throughput, concurrency",
  ]) {
    const rows = report.rows.filter((r) => r.metric.startsWith(prefix));
    expect(rows.length, prefix).toBeGreaterThan(0);
    for (const r of rows) {
      for (const path of ["direct", "passthrough", "jsrelay", "jsrelayq", "norec", "gateway"] as const)
        positive(r.values[path]);
      positive(r.ratio);
      positive(r.ratioJs);
      positive(r.ratioQueue);
    }
  }
  for (const kind of ["Blocking latency", "Streaming TTFB"]) {
    const p50 = row(`${kind} p50`);
    const p99 = row(`${kind} p99`);
    for (const path of ["direct", "passthrough", "gateway"] as const) {
      expect(p99.values[path] as number).toBeGreaterThanOrEqual(p50.values[path] as number);
      // Loopback requests: well under a minute, even on a loaded machine.
      expect(p50.values[path] as number).toBeLessThan(60_000);
    }
  }
  expect(report.rows.filter((r) => r.metric.startsWith("Throughput, concurrency"))).toHaveLength(2);

  // The latency targets again as paired ratios: one pair per iteration, the median inside its interval.
  const latencyPairs = report.paired.filter((p) => !p.metric.startsWith("workerd CPU"));
  expect(latencyPairs.map((p) => [p.metric, p.against])).toEqual([
    ["Blocking latency", "native"],
    ["Blocking latency", "JS relay"],
    ["Blocking latency of the JS relay itself (not the gateway)", "native"],
    ["Streaming TTFB", "JS relay"],
  ]);
  for (const p of latencyPairs) {
    expect(p.pairs).toBe(8);
    positive(p.lo);
    expect(p.lo).toBeLessThanOrEqual(p.median);
    expect(p.median).toBeLessThanOrEqual(p.hi);
  }
  expect(stdout).toContain("÷ path, paired: median of per-iteration or per-block ratios");

  // Every blocking request split at the upstream's stamps: both halves positive, and together less
  // than the whole (the upstream's own time is the rest); the native pass-through's paired
  // difference with itself is zero.
  expect(report.upstreamSplit.map((r) => r.name)).toEqual([
    "direct",
    "passthrough",
    "jsrelay",
    "jsrelayq",
    "norec",
    "gateway",
  ]);
  for (const r of report.upstreamSplit) {
    positive(r.before);
    positive(r.after);
    const p99 = report.rows.find((row) => row.metric === "Blocking latency p99")?.values[r.name];
    expect(r.before + r.after).toBeLessThan(p99 as number);
    expect(r.beforeVsNative.pairs).toBe(8);
    expect(r.afterVsNative.pairs).toBe(8);
    // A stream's TTFB, split the same way: its halves end at the first byte, so they sum to less
    // than the slowest TTFB.
    positive(r.ttfbBefore);
    positive(r.ttfbAfter);
    const ttfbP99 = report.rows.find((row) => row.metric === "Streaming TTFB p99")?.values[r.name];
    expect(r.ttfbBefore + r.ttfbAfter).toBeLessThan(ttfbP99 as number);
    expect(r.ttfbBeforeVsRelay.pairs).toBe(8);
  }
  const native = report.upstreamSplit.find((r) => r.name === "passthrough");
  expect(native?.beforeVsNative.median).toBe(0);
  const relay = report.upstreamSplit.find((r) => r.name === "jsrelay");
  expect(relay?.ttfbAfterVsRelay.median).toBe(0);
  expect(stdout).toContain("blocking latency split at the upstream");
  expect(stdout).toContain("streaming TTFB split at the upstream");

  // CPU per request, read from /proc for every path served by a Worker (none for the direct call).
  // A smoke run's few requests against 10 ms ticks can round either way: finite, not positive.
  const cpuRows = report.rows.filter((r) => r.metric.startsWith("CPU per request, workerd"));
  expect(cpuRows).toHaveLength(2);
  for (const r of cpuRows) {
    expect(r.values.direct).toBeNull();
    for (const path of ["passthrough", "jsrelay", "jsrelayq", "norec", "gateway"] as const) {
      expect(Number.isFinite(r.values[path]), `${r.metric} ${path}`).toBe(true);
      // A small request costs milliseconds, not seconds, of CPU.
      expect(Math.abs(r.values[path] as number)).toBeLessThan(5_000);
    }
  }
  for (const mode of ["norec", "norec_log", "norec_queue", "norec_metrics", "gateway"]) {
    expect(Number.isFinite(report.cpu.chat.perRequest[mode]?.workerdMs), mode).toBe(true);
  }
  // In-process (bench/request-cpu.mjs): process.cpuUsage is fine-grained, so every figure is > 0.
  for (const scenario of ["chat", "turn"] as const) {
    for (const mode of ["native", "jsrelay", "norec", "gateway", "unredacted", "nofingerprint"] as const)
      positive(report.inProcess[scenario][mode]);
    // The Worker isolates' own CPU (V8 profiler through the dev servers' inspectors).
    for (const path of ["jsrelay", "gateway"] as const) positive(report.isolate[scenario][path]);
  }

  // Memory: sampled for the two Workers (workerd processes); the direct path has none.
  for (const prefix of ["workerd RSS before", "workerd RSS peak"]) {
    const r = row(prefix);
    expect(r.values.direct).toBeNull();
    positive(r.values.passthrough);
    positive(r.values.gateway);
    // A workerd process tree is tens to hundreds of MB, never tens of GB.
    expect(r.values.gateway as number).toBeLessThan(8192);
  }

  for (const side of [report.admission.without, report.admission.withPolicy]) {
    positive(side.p50);
    expect(side.p99).toBeGreaterThanOrEqual(side.p50);
  }
  expect(Number.isFinite(report.admission.addedP50)).toBe(true);
  expect(stdout).toContain("admission round trip (difference of the medians)");

  const { sse, injection } = report.micro;
  for (const key of [
    "extract16k",
    "extractPerEvent",
    "extractTextOnly16k",
    "decoder16k",
    "decoderPerEvent",
    "textDecoder16k",
  ] as const) {
    const rate = sse[key];
    positive(rate.cpu);
    positive(rate.wall);
  }
  expect(injection.bodyBytes).toBeGreaterThan(0);
  for (const time of [injection.inject, injection.parse, injection.fingerprint]) {
    positive(time.cpuMs);
    positive(time.wallMs);
  }
});
