/**
 * `npm run bench`: what the gateway adds, measured against a direct call and against minimal
 * pass-through Workers in the same runtime (the runtime's own floors).
 *
 * One run starts a fake Anthropic upstream (bench/lib/upstream.mjs, its own process), the
 * pass-through Worker (bench/passthrough-worker: native, or relaying through a JavaScript stream
 * with `x-bench-relay: js`), the gateway, and the gateway with recording off (bench/variants)
 * under `wrangler dev` (local state in a temp dir, a real gateway key), then measures the paths to
 * the same upstream interleaved: every iteration visits all of them, in a rotating order, after a
 * warm-up. CPU per request is read from /proc (the workerd processes under each `wrangler dev`).
 * All traffic stays on 127.0.0.1 and every phase is bounded in requests and time.
 *
 *   node bench/run.mjs                 full run, prints the table, writes bench/RESULTS.md
 *   node bench/run.mjs --smoke         a handful of iterations and tiny streams, no RESULTS.md
 *   --json <file>                      also write the figures as JSON
 *   --no-write                         do not touch bench/RESULTS.md
 *   --cpu-only                         only the CPU-per-request phase (prints it; no RESULTS.md)
 *
 * The admission round trip (per-user limits, docs/limits.md) is measured on the same gateway in the
 * same run: blocking requests from a user with a policy (budget, RPM and TPM all checked by the
 * user's Durable Object) interleaved with requests from a user without one.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import {
  createAgent,
  expectOk,
  percentile,
  post,
  sendTo as send,
  sendResending,
  slowReader,
  throughput,
} from "./lib/client.mjs";
import { measureLatency, rotated } from "./lib/latency.mjs";
import {
  BLOCKING_BODY,
  createGatewayKey,
  gatewayVars,
  requestShape,
  STREAM_BODY,
  startPassthrough,
  startUpstreamProcess,
  TURN_BODY,
} from "./lib/setup.mjs";
import { pairedDifference, pairedRatio, verdict } from "./lib/stats.mjs";
import { PROVIDER_KEY } from "./lib/upstream.mjs";
import {
  cpuMs,
  devProcesses,
  PROJECT_ROOT,
  rssBytes,
  startWranglerDev,
  workerdPids,
} from "./lib/wrangler.mjs";
import { runMicro } from "./micro.mjs";
import { isolateCpu } from "./profile-workerd.mjs";
import { runRequestCpu } from "./request-cpu.mjs";

const argv = process.argv.slice(2);
// `npm run bench -- --scale`: the D1 scale measurements (bench/scale.mjs, docs/scale.md) instead.
if (argv.includes("--scale")) {
  await import("./scale.mjs");
  process.exit(0);
}
const SMOKE = argv.includes("--smoke");
const JSON_OUT = argv.includes("--json") ? argv[argv.indexOf("--json") + 1] : null;
const CPU_ONLY = argv.includes("--cpu-only");
const WRITE_RESULTS = !SMOKE && !CPU_ONLY && !argv.includes("--no-write");

const CONFIG = SMOKE
  ? {
      warmup: 3,
      iterations: 8,
      gapMs: 5,
      longEvents: 200,
      longIterations: 3,
      throughputMs: 600,
      throughputRounds: 1,
      maxRequests: 400,
      bigBytes: 4 * 1024 * 1024,
      slowReadBytesPerSecond: 16 * 1024 * 1024,
      cpuBlocks: 2,
      cpuChatPerBlock: 3,
      cpuTurnPerBlock: 1,
      cpuTurnEvents: 100,
      cpuSettleMs: 1200,
    }
  : {
      warmup: 30,
      // With the idle gap below, 400–500 paired iterations give intervals of ±0.1 ms (ab.mjs).
      iterations: 400,
      // An idle pause after every latency request: a path's deferred work (the gateway's recording,
      // a queue consumer) then never runs during another path's measured request. Back to back on
      // two shared cores it did, and a change that only moved recording 2 ms later read as 0.4 ms
      // faster (RESULTS.md, item 18).
      gapMs: 15,
      longEvents: 2000,
      longIterations: 3,
      throughputMs: 2000,
      throughputRounds: 2,
      maxRequests: 20_000,
      bigBytes: 100 * 1024 * 1024,
      slowReadBytesPerSecond: 20 * 1024 * 1024,
      // Two quiet runs of 6 × 20 chats gave 1.10× and 1.21× the JS relay: as far apart as the
      // target's margin. The paired ratios' interval narrows with the number of blocks (10 blocks
      // gave ±0.1–0.2× around the chat and turn ratios); the phase takes ~7 minutes.
      cpuBlocks: 16,
      cpuChatPerBlock: 20,
      cpuTurnPerBlock: 2,
      cpuTurnEvents: 1000,
      // After each block, time for deferred work to land (the records queue batches for up to 1 s,
      // then its consumer writes D1 in the same workerd); the idle rate is subtracted.
      cpuSettleMs: 1300,
    };

const log = (...args) => console.error(`[bench ${(performance.now() / 1000).toFixed(1)}s]`, ...args);

// ---------------------------------------------------------------------------------------------
// Setup

/** A second user whose policy makes every request go through the limits Durable Object. */
async function createLimitedKey(persistTo) {
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_HIDE_BANNER: "true" };
  const run = (script, args) =>
    execFileSync(process.execPath, [join(PROJECT_ROOT, script), ...args, "--persist-to", persistTo], {
      cwd: PROJECT_ROOT,
      env,
    }).toString();
  const user = "bench-limits@example.com";
  const budget = ["--budget-usd", "1000000", "--rpm", "1000000000", "--tpm", "1000000000000"];
  run("scripts/limits.mjs", ["set", "--user", user, ...budget]);
  const key = run("scripts/keys.mjs", ["create", "--user", user]).trim().split("\n").pop();
  if (!key?.startsWith("aib_")) throw new Error("no key in keys.mjs output");
  return key;
}

function pathsFor(upstream, [passthrough, jsrelay, jsrelayq], gateway, gatewayKey, norec) {
  const common = {
    "content-type": "application/json",
    "anthropic-version": "2023-06-01",
    "user-agent": "claude-cli/2.0.0 (external, cli)",
  };
  const agentPerPath = () => createAgent(64);
  const provider = { ...common, "x-api-key": PROVIDER_KEY };
  const gatewayHeaders = { ...common, "x-api-key": gatewayKey };
  return [
    { name: "direct", url: `${upstream.url}/v1/messages`, headers: provider },
    {
      name: "passthrough",
      url: `${passthrough.url}/anthropic/v1/messages`,
      headers: provider,
      dev: passthrough,
    },
    {
      // The pass-through Worker relaying through a pull-based JavaScript stream (the shape of
      // src/bridge/relay.ts, no parsing): the floor for any relay that must see the bytes.
      name: "jsrelay",
      url: `${jsrelay.url}/anthropic/v1/messages`,
      headers: { ...provider, "x-bench-relay": "js" },
      dev: jsrelay,
    },
    {
      // The JS relay sending one queue message per request, its consumer writing it to D1: the floor,
      // in this runtime, for any Worker that records its requests through a Queue (the local queue
      // broker and D1 run in the same workerd, on the same cores, as the requests).
      name: "jsrelayq",
      url: `${jsrelayq.url}/anthropic/v1/messages`,
      headers: { ...provider, "x-bench-relay": "js", "x-bench-queue": "1" },
      dev: jsrelayq,
    },
    {
      name: "norec",
      url: `${norec.url}/anthropic/v1/messages`,
      headers: { ...gatewayHeaders, "x-bench-recording": "off" },
      dev: norec,
    },
    { name: "gateway", url: `${gateway.url}/anthropic/v1/messages`, headers: gatewayHeaders, dev: gateway },
  ].map((path) => ({ ...path, agent: agentPerPath() }));
}

/** Attribution paths for the CPU phase: the gateway with only part of its recording on. */
function attributionPaths(paths) {
  const norecPath = paths.find((p) => p.name === "norec");
  return ["log", "queue", "metrics"].map((mode) => ({
    ...norecPath,
    name: `norec_${mode}`,
    headers: { ...norecPath.headers, "x-bench-recording": mode },
    agent: createAgent(64),
  }));
}

// ---------------------------------------------------------------------------------------------
// Phases

async function checkPaths(paths) {
  // The same upstream answer, byte for byte, through every path (the gateway relays bytes untouched).
  const bodies = [];
  for (const path of paths) {
    const chunks = [];
    const result = await post(path.url, {
      agent: path.agent,
      headers: { ...path.headers, "x-bench-events": "50" },
      body: STREAM_BODY,
      collect: chunks,
    });
    expectOk(path.name, result);
    bodies.push(createHash("sha256").update(Buffer.concat(chunks)).digest("hex"));
  }
  if (new Set(bodies).size !== 1) throw new Error("the paths relayed different stream bytes");
}

async function latencyPhase(paths) {
  const samples = await measureLatency(paths, {
    iterations: CONFIG.iterations,
    warmup: CONFIG.warmup,
    gapMs: CONFIG.gapMs,
    onIteration: (done, total) => {
      if (done % 50 === 0) log(`latency ${done}/${total}`);
    },
  });
  for (const s of Object.values(samples)) s.long = [];
  const longTotal = 1 + CONFIG.longIterations;
  let longBytes = 0;
  for (let i = 0; i < longTotal; i++) {
    for (const path of rotated(paths, i)) {
      const result = await send(path, STREAM_BODY, { "x-bench-events": String(CONFIG.longEvents) }).catch(
        (error) => {
          throw new Error(`long stream through ${path.name}: ${error.message}`);
        },
      );
      if (i >= longTotal - CONFIG.longIterations) samples[path.name].long.push(result.totalMs);
      longBytes = result.bytes;
    }
    log(`long stream ${i + 1}/${longTotal}`);
  }
  return { samples, longBytes };
}

/** The same blocking request from a user with a policy and one without, interleaved. */
async function admissionPhase(gatewayPath, limitedKey) {
  const limited = {
    ...gatewayPath,
    name: "limits",
    headers: { ...gatewayPath.headers, "x-api-key": limitedKey },
  };
  const samples = { without: [], withPolicy: [] };
  const total = CONFIG.warmup + CONFIG.iterations;
  for (let i = 0; i < total; i++) {
    const order = i % 2 === 0 ? [gatewayPath, limited] : [limited, gatewayPath];
    for (const path of order) {
      const result = await send(path, BLOCKING_BODY);
      if (i >= CONFIG.warmup) samples[path === limited ? "withPolicy" : "without"].push(result.totalMs);
      await sleep(CONFIG.gapMs);
    }
  }
  const stat = (values) => ({ p50: percentile(values, 50), p99: percentile(values, 99) });
  const without = stat(samples.without);
  const withPolicy = stat(samples.withPolicy);
  return { without, withPolicy, addedP50: withPolicy.p50 - without.p50 };
}

function formatAdmission(a) {
  return [
    "| admission (per-user limits), blocking latency | p50 (ms) | p99 (ms) |",
    "|---|---:|---:|",
    `| gateway, user without a policy (no Durable Object) | ${ms(a.without.p50)} | ${ms(a.without.p99)} |`,
    `| gateway, user with a policy (reserve + reconcile on the user's Durable Object) | ${ms(a.withPolicy.p50)} | ${ms(a.withPolicy.p99)} |`,
    `| admission round trip (difference of the medians) | ${ms(a.addedP50)} | |`,
  ].join("\n");
}

async function throughputPhase(paths) {
  const out = {};
  for (const concurrency of [16, 64]) {
    const totals = Object.fromEntries(
      paths.map((p) => [p.name, { completed: 0, failed: 0, reasons: {}, seconds: 0 }]),
    );
    // A short warm-up at this concurrency opens the connections on every path.
    for (const path of paths) {
      await throughput(() => send(path, BLOCKING_BODY), {
        concurrency,
        durationMs: 300,
        maxRequests: concurrency * 4,
      });
    }
    for (let round = 0; round < CONFIG.throughputRounds; round++) {
      for (const path of rotated(paths, round)) {
        const result = await throughput(() => send(path, BLOCKING_BODY), {
          concurrency,
          durationMs: CONFIG.throughputMs,
          maxRequests: CONFIG.maxRequests,
        });
        totals[path.name].completed += result.completed;
        totals[path.name].failed += result.failed;
        for (const [reason, n] of Object.entries(result.reasons)) {
          totals[path.name].reasons[reason] = (totals[path.name].reasons[reason] ?? 0) + n;
        }
        totals[path.name].seconds += result.seconds;
      }
    }
    out[concurrency] = Object.fromEntries(
      Object.entries(totals).map(([name, t]) => [name, { rps: t.completed / t.seconds, ...t }]),
    );
    log(`throughput c${concurrency}: ${JSON.stringify(out[concurrency])}`);
  }
  return out;
}

/** Relays one big stream to a client reading at a fixed slow rate, sampling workerd RSS from /proc. */
async function memoryPhase(paths, upstream) {
  const out = {};
  for (const path of paths) {
    // The recording-off variant adds nothing to the no-buffering question: the relay is the same.
    if (!path.dev || path.name === "norec" || path.name === "jsrelayq") {
      out[path.name] = null;
      continue;
    }
    upstream.bigWritten = 0;
    let received = 0;
    let maxLead = 0;
    const reader = slowReader(CONFIG.slowReadBytesPerSecond);
    const pids = workerdPids(path.dev.pid);
    if (pids.length === 0) throw new Error(`no workerd process under ${path.name}'s wrangler dev`);
    const baselineSamples = [];
    for (let i = 0; i < 5; i++) {
      baselineSamples.push(rssBytes(pids));
      await new Promise((r) => setTimeout(r, 50));
    }
    const baseline = Math.max(...baselineSamples);
    let peak = baseline;
    const trace = [];
    const sampler = setInterval(() => {
      const rss = rssBytes(pids);
      peak = Math.max(peak, rss);
      // What the upstream has written but the client has not read yet: sockets plus anything the
      // Worker holds. A relay that buffers lets this grow towards the whole stream.
      maxLead = Math.max(maxLead, upstream.bigWritten - received);
      trace.push(rss);
    }, 50);
    const result = await post(path.url, {
      agent: path.agent,
      headers: { ...path.headers, "x-bench-bytes": String(CONFIG.bigBytes) },
      body: STREAM_BODY,
      onData: (n, total) => {
        received = total;
        return reader(n, total);
      },
      timeoutMs: 300_000,
    });
    clearInterval(sampler);
    expectOk(path.name, result);
    if (result.bytes < CONFIG.bigBytes)
      throw new Error(`${path.name}: big stream cut at ${result.bytes} bytes`);
    out[path.name] = {
      baseline,
      peak,
      growth: peak - baseline,
      maxLead,
      bytes: result.bytes,
      seconds: result.totalMs / 1000,
      pids: pids.length,
      trace,
    };
    log(
      `memory ${path.name}: ${mb(baseline)} → ${mb(peak)} MB over ${(result.totalMs / 1000).toFixed(1)} s, upstream ahead by ≤ ${mb(maxLead)} MB`,
    );
  }
  return out;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * CPU per request, read from outside: the CPU time (/proc, user + system) of the workerd processes
 * under each path's `wrangler dev`, over blocks of sequential requests, interleaved in a rotating
 * order. Each block waits `cpuSettleMs` afterwards so that deferred work (waitUntil, the records
 * queue's consumer writing D1) is counted with the requests that caused it; the dev server's idle
 * CPU rate, measured beforehand, is subtracted. wrangler's own Node process is counted apart (it
 * receives the Worker's log lines; on Cloudflare that is not the Worker's CPU).
 */
async function cpuPhase(paths, attribution) {
  const served = paths.filter((p) => p.dev);
  const scenarios = [
    {
      key: "chat",
      label: "small streamed chat (20 text deltas)",
      ...requestShape("chat"),
      perBlock: CONFIG.cpuChatPerBlock,
      paths: [...served, ...attribution],
    },
    {
      key: "turn",
      label: `Claude Code turn (${(TURN_BODY.length / 1024).toFixed(0)} KB request, ${CONFIG.cpuTurnEvents} SSE events)`,
      ...requestShape("turn", CONFIG.cpuTurnEvents),
      perBlock: CONFIG.cpuTurnPerBlock,
      paths: served,
    },
  ];
  const processes = new Map();
  for (const path of [...served, ...attribution]) {
    if (!processes.has(path.dev)) processes.set(path.dev, devProcesses(path.dev.pid));
  }
  const read = (dev) => {
    const pr = processes.get(dev);
    return { workerd: cpuMs(pr.workerd), wrangler: cpuMs(pr.wrangler), at: performance.now() };
  };
  const out = {};
  for (const scenario of scenarios) {
    // A resent request's CPU stays in the block; the count says one more request.
    let extra = 0;
    const send1 = (path) =>
      sendResending(path, scenario.body, scenario.headers, () => {
        extra++;
      });
    for (const path of scenario.paths) for (let i = 0; i < 2; i++) await send1(path);
    await sleep(CONFIG.cpuSettleMs);
    // Idle rates (ms of CPU per ms of wall time) of each dev server, all measured at once.
    const before = new Map([...processes.keys()].map((dev) => [dev, read(dev)]));
    await sleep(SMOKE ? 500 : 3000);
    const idle = new Map(
      [...processes.keys()].map((dev) => {
        const a = before.get(dev);
        const b = read(dev);
        const wall = b.at - a.at;
        return [dev, { workerd: (b.workerd - a.workerd) / wall, wrangler: (b.wrangler - a.wrangler) / wall }];
      }),
    );
    const totals = Object.fromEntries(
      scenario.paths.map((p) => [p.name, { workerd: 0, wrangler: 0, requests: 0 }]),
    );
    // Each block's workerd CPU per request, by path: block i of every path ran back to back.
    const blocks = Object.fromEntries(scenario.paths.map((p) => [p.name, []]));
    for (let block = 0; block < CONFIG.cpuBlocks; block++) {
      for (const path of rotated(scenario.paths, block)) {
        const a = read(path.dev);
        extra = 0;
        for (let i = 0; i < scenario.perBlock; i++) await send1(path);
        await sleep(CONFIG.cpuSettleMs);
        const b = read(path.dev);
        const wall = b.at - a.at;
        const rate = idle.get(path.dev);
        const workerd = b.workerd - a.workerd - rate.workerd * wall;
        const requests = scenario.perBlock + extra;
        totals[path.name].workerd += workerd;
        blocks[path.name].push(workerd / requests);
        totals[path.name].wrangler += b.wrangler - a.wrangler - rate.wrangler * wall;
        totals[path.name].requests += requests;
      }
    }
    out[scenario.key] = {
      label: scenario.label,
      requestsPerPath: CONFIG.cpuBlocks * scenario.perBlock,
      idle: Object.fromEntries([...idle].map(([dev, rate]) => [dev.name, rate])),
      blocks,
      perRequest: Object.fromEntries(
        Object.entries(totals).map(([name, t]) => [
          name,
          { workerdMs: t.workerd / t.requests, wranglerMs: t.wrangler / t.requests },
        ]),
      ),
    };
    log(`cpu ${scenario.key}: ${JSON.stringify(out[scenario.key].perRequest)}`);
  }
  return out;
}

/**
 * CPU of the Worker's own isolate per request: V8's sampling profiler on each dev server's
 * inspector (bench/profile-workerd.mjs), busy samples only. Cloudflare bills a Worker's CPU time;
 * this leaves out what the workerd process does for the local simulation (the queue broker, D1's
 * SQLite, a log line's trip to wrangler) and the HTTP stack, which the
 * CPU phase above counts. The gateway's queue consumer runs in its isolate and is counted.
 */
async function isolatePhase(paths) {
  const wanted = ["jsrelay", "gateway"];
  const scenarios = [
    { key: "chat", ...requestShape("chat"), requests: SMOKE ? 10 : 300 },
    { key: "turn", ...requestShape("turn", CONFIG.cpuTurnEvents), requests: SMOKE ? 2 : 20 },
  ];
  const out = {};
  for (const scenario of scenarios) {
    out[scenario.key] = {};
    for (const path of paths.filter((p) => wanted.includes(p.name))) {
      // A resent request's busy time stays in the profile: one in hundreds, a fraction of a percent.
      const one = () => sendResending(path, scenario.body, scenario.headers);
      for (let i = 0; i < 5; i++) await one();
      const profiled = isolateCpu(path.dev.inspectorPort, one, {
        requests: scenario.requests,
        settleMs: CONFIG.cpuSettleMs,
        intervalUs: 100,
      });
      let timer;
      const timeout = new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`isolate profile of ${path.name} took over 3 minutes`)),
          180_000,
        );
      });
      const { msPerRequest } = await Promise.race([profiled, timeout]).finally(() => clearTimeout(timer));
      out[scenario.key][path.name] = msPerRequest;
    }
    log(`isolate cpu ${scenario.key}: ${JSON.stringify(out[scenario.key])}`);
  }
  return out;
}

function formatIsolate(isolate) {
  const row = (label, r) =>
    `| ${label} | ${ms(r.jsrelay)} | ${ms(r.gateway)} | ${ms(r.gateway - r.jsrelay)} | ${ratio(r.gateway, r.jsrelay).toFixed(2)}× |`;
  return [
    "| Worker isolate CPU per request (V8 profiler, busy time; what Cloudflare bills as CPU) | JS-relay pass-through (ms) | gateway (ms) | gateway − JS relay (ms) | gateway ÷ JS relay |",
    "|---|---:|---:|---:|---:|",
    row("small streamed chat (20 text deltas)", isolate.chat),
    row(
      `Claude Code turn (${(TURN_BODY.length / 1024).toFixed(0)} KB request, ${CONFIG.cpuTurnEvents} SSE events)`,
      isolate.turn,
    ),
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// Report

const mb = (bytes) => (bytes / 1024 / 1024).toFixed(1);
const ms = (value) => (Number.isFinite(value) ? value.toFixed(2) : "—");
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : Number.NaN);

/** Paths as the report's columns, in order. */
const COLUMNS = [
  ["direct", "direct"],
  ["passthrough", "native pass-through"],
  ["jsrelay", "JS-relay pass-through"],
  ["jsrelayq", "JS relay + one queue message per request"],
  ["norec", "gateway, recording off"],
  ["gateway", "gateway"],
];

function summarize(latency, tput, memory, cpu) {
  const rows = [];
  const stat = (kind, p) =>
    Object.fromEntries(Object.entries(latency.samples).map(([n, s]) => [n, percentile(s[kind], p)]));
  /** `target`: the most the gateway may take, as a multiple of the path named by `against`. */
  const add = (metric, unit, values, lowerIsBetter, target, against = "passthrough") =>
    rows.push({
      metric,
      unit,
      values,
      ratio: ratio(values.gateway, values.passthrough),
      ratioJs: ratio(values.gateway, values.jsrelay),
      ratioQueue: ratio(values.gateway, values.jsrelayq),
      lowerIsBetter,
      target,
      against,
    });
  add("Blocking latency p50", "ms", stat("blocking", 50), true, 1.1, "passthrough");
  add("Blocking latency p99", "ms", stat("blocking", 99), true);
  add("Streaming TTFB p50", "ms", stat("ttfb", 50), true, 1.05, "jsrelay");
  add("Streaming TTFB p99", "ms", stat("ttfb", 99), true);
  add(
    `Long stream full time p50 (${CONFIG.longEvents} events, ${(latency.longBytes / 1e6).toFixed(2)} MB)`,
    "ms",
    stat("long", 50),
    true,
  );
  for (const c of [16, 64]) {
    add(
      `Throughput, concurrency ${c}`,
      "req/s",
      Object.fromEntries(Object.entries(tput[c]).map(([n, t]) => [n, t.rps])),
      false,
    );
  }
  const cpuRow = (key, field) =>
    Object.fromEntries(COLUMNS.map(([n]) => [n, cpu[key].perRequest[n]?.[field] ?? null]));
  add(
    `CPU per request, workerd: ${cpu.chat.label}`,
    "ms",
    cpuRow("chat", "workerdMs"),
    true,
    1.15,
    "jsrelay",
  );
  add(
    `CPU per request, workerd: ${cpu.turn.label}`,
    "ms",
    cpuRow("turn", "workerdMs"),
    true,
    1.05,
    "jsrelay",
  );
  add(
    `CPU per request, wrangler's Node process (log lines): ${cpu.chat.label}`,
    "ms",
    cpuRow("chat", "wranglerMs"),
    true,
  );
  add(
    `CPU per request, wrangler's Node process (log lines): ${cpu.turn.label}`,
    "ms",
    cpuRow("turn", "wranglerMs"),
    true,
  );
  const mem = (field) =>
    Object.fromEntries(
      Object.entries(memory).map(([n, m]) => {
        if (!m) return [n, null];
        return [n, field === "rate" ? m.bytes / 1024 / 1024 / m.seconds : m[field] / 1024 / 1024];
      }),
    );
  add(`workerd RSS before the ${mb(CONFIG.bigBytes)} MB stream`, "MB", mem("baseline"), true);
  add(
    `workerd RSS peak while relaying it (client reads ${mb(CONFIG.slowReadBytesPerSecond)} MB/s)`,
    "MB",
    mem("peak"),
    true,
  );
  add("workerd RSS growth (peak − before)", "MB", mem("growth"), true);
  add(
    "Most the upstream was ahead of the client (socket buffers + anything held)",
    "MB",
    mem("maxLead"),
    true,
  );
  add("Relay rate of the big stream", "MB/s", mem("rate"), false);
  return rows;
}

/**
 * The targets again, each as the median of paired ratios (per latency iteration, per CPU block)
 * with a bootstrap 95% interval, so that a miss is told apart from this machine's noise; beside
 * them, the same comparisons against the other floors, for reading.
 */
function pairedTargets(latency, cpu) {
  const s = latency.samples;
  const blocks = (key) => cpu[key].blocks;
  const chat = cpu.chat.label;
  const turn = cpu.turn.label;
  return [
    ["Blocking latency", "native", s.gateway.blocking, s.passthrough.blocking, 1.1],
    ["Blocking latency", "JS relay", s.gateway.blocking, s.jsrelay.blocking],
    [
      "Blocking latency of the JS relay itself (not the gateway)",
      "native",
      s.jsrelay.blocking,
      s.passthrough.blocking,
    ],
    ["Streaming TTFB", "JS relay", s.gateway.ttfb, s.jsrelay.ttfb, 1.05],
    [`workerd CPU, ${chat}`, "JS relay", blocks("chat").gateway, blocks("chat").jsrelay, 1.15],
    [`workerd CPU, ${chat}`, "JS relay + queue message", blocks("chat").gateway, blocks("chat").jsrelayq],
    [`workerd CPU, ${chat}, recording off`, "JS relay", blocks("chat").norec, blocks("chat").jsrelay],
    [`workerd CPU, ${turn}`, "JS relay", blocks("turn").gateway, blocks("turn").jsrelay, 1.05],
    [`workerd CPU, ${turn}, recording off`, "JS relay", blocks("turn").norec, blocks("turn").jsrelay],
  ].map(([metric, against, a, b, target]) => ({ metric, against, target, ...pairedRatio(a ?? [], b ?? []) }));
}

function formatPaired(rows) {
  const x = (v) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : "—");
  return [
    "| gateway (unless the row says otherwise) ÷ path, paired: median of per-iteration or per-block ratios | against | ratio [95% interval] | pairs | target |",
    "|---|---|---:|---:|---|",
    ...rows.map(
      (r) =>
        `| ${r.metric} | ${r.against} | ${x(r.median)} [${x(r.lo)}, ${x(r.hi)}] | ${r.pairs} | ${r.target ? `≤ ${r.target}×: ${verdict(r.target, r)}` : ""} |`,
    ),
  ].join("\n");
}

/**
 * Where each path's blocking time goes, split at the upstream's stamps (bench/lib/latency.mjs):
 * before the upstream had the request, and after it answered; each as a p50 and as the median
 * paired difference against the native pass-through. The same for streaming TTFB (the second half
 * ending at the first body byte), against the JS relay: the TTFB target's base.
 */
function upstreamSplit(latency) {
  const s = latency.samples;
  return COLUMNS.filter(([n]) => s[n]).map(([name, label]) => ({
    name,
    label,
    before: percentile(s[name].beforeUpstream, 50),
    after: percentile(s[name].afterUpstream, 50),
    beforeVsNative: pairedDifference(s[name].beforeUpstream, s.passthrough.beforeUpstream),
    afterVsNative: pairedDifference(s[name].afterUpstream, s.passthrough.afterUpstream),
    ttfbBefore: percentile(s[name].ttfbBeforeUpstream, 50),
    ttfbAfter: percentile(s[name].ttfbAfterUpstream, 50),
    ttfbBeforeVsRelay: pairedDifference(s[name].ttfbBeforeUpstream, s.jsrelay.ttfbBeforeUpstream),
    ttfbAfterVsRelay: pairedDifference(s[name].ttfbAfterUpstream, s.jsrelay.ttfbAfterUpstream),
  }));
}

function formatUpstreamSplit(rows) {
  const d = (r) => `${r.median.toFixed(2)} [${r.lo.toFixed(2)}, ${r.hi.toFixed(2)}]`;
  return [
    "| blocking latency split at the upstream (ms) | before: send → upstream has the request, p50 | before − native, paired [95%] | after: upstream answers → last byte, p50 | after − native, paired [95%] |",
    "|---|---:|---:|---:|---:|",
    ...rows.map(
      (r) =>
        `| ${r.label} | ${r.before.toFixed(2)} | ${d(r.beforeVsNative)} | ${r.after.toFixed(2)} | ${d(r.afterVsNative)} |`,
    ),
    "",
    "| streaming TTFB split at the upstream (ms) | before: send → upstream has the request, p50 | before − JS relay, paired [95%] | after: upstream answers → first body byte, p50 | after − JS relay, paired [95%] |",
    "|---|---:|---:|---:|---:|",
    ...rows.map(
      (r) =>
        `| ${r.label} | ${r.ttfbBefore.toFixed(2)} | ${d(r.ttfbBeforeVsRelay)} | ${r.ttfbAfter.toFixed(2)} | ${d(r.ttfbAfterVsRelay)} |`,
    ),
  ].join("\n");
}

/** What recording's parts cost, from the attribution paths of the CPU phase (small chat). */
function formatAttribution(cpu) {
  const p = cpu.chat.perRequest;
  const f = (name, field = "workerdMs") => (p[name] ? p[name][field].toFixed(2) : "—");
  return [
    `| gateway variant (${cpu.chat.label}, ${cpu.chat.requestsPerPath} requests each) | workerd CPU per request (ms) | wrangler Node CPU per request (ms) |`,
    "|---|---:|---:|",
    `| recording off (no queue, no metrics, no log line) | ${f("norec")} | ${f("norec", "wranglerMs")} |`,
    `| a log line per request only (LOG_INTERCEPTIONS=all; the default logs only interceptions that did not complete) | ${f("norec_log")} | ${f("norec_log", "wranglerMs")} |`,
    `| records queue only (one send per request; the consumer writes D1 in the same workerd) | ${f("norec_queue")} | ${f("norec_queue", "wranglerMs")} |`,
    `| Analytics Engine datapoints only | ${f("norec_metrics")} | ${f("norec_metrics", "wranglerMs")} |`,
    `| recording on (the gateway) | ${f("gateway")} | ${f("gateway", "wranglerMs")} |`,
    `| JS-relay pass-through | ${f("jsrelay")} | ${f("jsrelay", "wranglerMs")} |`,
    `| JS relay + one queue message per request, its consumer writing it to D1 (the floor for recording through a Queue here) | ${f("jsrelayq")} | ${f("jsrelayq", "wranglerMs")} |`,
  ].join("\n");
}

function serverTimingMedians(samples) {
  const phases = {};
  for (const header of samples) {
    for (const part of header.split(",")) {
      const match = /^\s*([\w-]+);dur=([\d.]+)/.exec(part);
      if (!match) continue;
      phases[match[1]] = [...(phases[match[1]] ?? []), Number(match[2])];
    }
  }
  return Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, percentile(v, 50)]));
}

function formatRows(rows) {
  const lines = [
    `| metric | ${COLUMNS.map(([, label]) => label).join(" | ")} | gateway ÷ native | gateway ÷ JS relay | gateway ÷ JS relay + queue message | target |`,
    `|---|${COLUMNS.map(() => "---:").join("|")}|---:|---:|---:|---|`,
  ];
  const x = (v) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : "—");
  for (const row of rows) {
    const f = (v) =>
      typeof v !== "number" || !Number.isFinite(v) ? "—" : row.unit === "req/s" ? v.toFixed(0) : ms(v);
    const measured = row.against === "jsrelay" ? row.ratioJs : row.ratio;
    const met = row.target
      ? `≤ ${row.target}× ${row.against === "jsrelay" ? "JS relay" : "native"} ${measured <= row.target ? "✅" : "❌"}`
      : "";
    lines.push(
      `| ${row.metric} (${row.unit}) | ${COLUMNS.map(([n]) => f(row.values[n])).join(" | ")} | ${x(row.ratio)} | ${x(row.ratioJs)} | ${x(row.ratioQueue)} | ${met} |`,
    );
  }
  return lines.join("\n");
}

/**
 * bench/request-cpu.mjs: the same shapes in one Node process, CPU per request, with what the
 * secret scan (redaction) and the prompt-cache fingerprint add: the gateway's figure minus the
 * mode without it, round by round (the rounds interleave the modes), median and 95% interval.
 */
function formatInProcess(result) {
  const f = (v) => (typeof v === "number" ? v.toFixed(3) : "—");
  const added = (rounds, without) => {
    const d = pairedDifference(rounds.gateway, rounds[without]);
    return `${f(d.median)} [${f(d.lo)}, ${f(d.hi)}]`;
  };
  const row = (label, key) => {
    const r = result[key];
    const rounds = result.rounds[key];
    return `| ${label} | ${f(r.native)} | ${f(r.jsrelay)} | ${f(r.norec)} | ${f(r.gateway)} | ${f(r.gateway - r.jsrelay)} | ${added(rounds, "unredacted")} | ${added(rounds, "nofingerprint")} |`;
  };
  return [
    "| in-process CPU per request (Node, src/ bundled, fake upstream and bindings; ms) | native pass-through | JS-relay pass-through | gateway, recording off | gateway | gateway − JS relay | redaction: gateway − content recorded unredacted, paired [95%] | cache fingerprint: gateway − without it, paired [95%] |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    row("small streamed chat (20 text deltas)", "chat"),
    row("Claude Code turn (87 KB request, 1,000 SSE events)", "turn"),
  ].join("\n");
}

function formatMicro(micro) {
  const { sse, injection, redaction } = micro;
  const rate = (v) => `${v.cpu.toFixed(0)} MB/s (wall ${v.wall.toFixed(0)})`;
  const time = (v) => `${v.cpuMs.toFixed(2)} ms (wall ${v.wallMs.toFixed(2)})`;
  const pass = (ok) => (ok ? "✅" : "❌");
  return [
    "| micro-benchmark (Node, src/ bundled with esbuild; per CPU second, wall-clock in brackets) | result | target |",
    "|---|---:|---|",
    `| SSE decoder + Anthropic usage extractor, 16 KiB reads (${(sse.streamBytes / 1e6).toFixed(2)} MB, ${sse.events} events) | ${rate(sse.extract16k)} | ≥ 200 MB/s ${pass(sse.extract16k.cpu >= 200)} |`,
    `| SSE decoder + extractor, one event per read | ${rate(sse.extractPerEvent)} | |`,
    `| SSE decoder + extractor, text-only stream (no thinking, no tool input), 16 KiB reads | ${rate(sse.extractTextOnly16k)} | |`,
    `| SSE decoder alone (TextDecoder + eventsource-parser), 16 KiB reads | ${rate(sse.decoder16k)} | |`,
    `| SSE decoder alone, one event per read | ${rate(sse.decoderPerEvent)} | |`,
    `| TextDecoder alone, 16 KiB reads | ${rate(sse.textDecoder16k)} | |`,
    `| Tool injection, ${(injection.bodyBytes / 1024).toFixed(0)} KB body + ${injection.injectedTools} tools (the JSON text splice) | ${time(injection.inject)} | ≤ 2 ms ${pass(injection.inject.cpuMs <= 2)} |`,
    `| Body parse every bridged request pays (readJsonBody, same body) | ${time(injection.parse)} | |`,
    `| Prompt-cache fingerprint of the same body (in waitUntil, off the response path) | ${time(injection.fingerprint)} | |`,
    `| Secret scan + redaction per MB of recorded text, ordinary code (in waitUntil) | ${time(redaction.ordinary)} | ≤ 50 ms ${pass(redaction.ordinary.cpuMs <= 50)} |`,
    `| Secret scan + redaction per MB, dense with secrets (~17 per 6 KB) | ${time(redaction.dense)} | |`,
  ].join("\n");
}

function machine() {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? "unknown CPU";
  const cores = (cpuinfo.match(/^processor\s*:/gm) ?? []).length;
  const memKb = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? 0);
  const wrangler = JSON.parse(
    readFileSync(join(PROJECT_ROOT, "node_modules/wrangler/package.json"), "utf8"),
  ).version;
  return { cpu: model, cores, memoryGiB: (memKb / 1024 / 1024).toFixed(1), node: process.version, wrangler };
}

const START = "<!-- bench:results:start -->";
const END = "<!-- bench:results:end -->";

async function writeResults(report) {
  const file = join(PROJECT_ROOT, "bench/RESULTS.md");
  const m = report.machine;
  const timing = Object.entries(report.gatewayServerTiming)
    .map(([k, v]) => `${k} ${v.toFixed(2)} ms`)
    .join(", ");
  const generated = [
    START,
    `Generated by \`${report.command}\` on ${report.date}.`,
    "",
    `- Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB RAM; Node ${m.node}; wrangler ${m.wrangler} (local workerd).`,
    `- Load average (1 min) at start ${report.load.start.toFixed(2)}, at end ${report.load.end.toFixed(2)}; run took ${report.seconds.toFixed(0)} s.`,
    `- ${CONFIG.iterations} interleaved iterations per path after ${CONFIG.warmup} warm-up, ${CONFIG.gapMs} ms idle after every latency request; ${CONFIG.longIterations} long streams per path; throughput ${CONFIG.throughputRounds} × ${CONFIG.throughputMs / 1000} s per path and concurrency; CPU per request over ${CONFIG.cpuBlocks} interleaved blocks per path (${CONFIG.cpuChatPerBlock} small chats or ${CONFIG.cpuTurnPerBlock} Claude Code turns each, then ${CONFIG.cpuSettleMs / 1000} s for deferred work, idle CPU subtracted).`,
    `- Gateway Server-Timing medians (blocking): ${timing || "n/a"}.`,
    "",
    formatRows(report.rows),
    "",
    formatPaired(report.paired),
    "",
    formatUpstreamSplit(report.upstreamSplit),
    "",
    formatAttribution(report.cpu),
    "",
    formatIsolate(report.isolate),
    "",
    formatInProcess(report.inProcess),
    "",
    formatAdmission(report.admission),
    "",
    formatMicro(report.micro),
    END,
  ].join("\n");
  let text = existsSync(file) ? readFileSync(file, "utf8") : `# Benchmark results\n\n${START}\n${END}\n`;
  if (!text.includes(START) || !text.includes(END)) text = `${text.trimEnd()}\n\n${START}\n${END}\n`;
  text = text.slice(0, text.indexOf(START)) + generated + text.slice(text.indexOf(END) + END.length);
  await writeFile(file, text);
  log(`wrote ${file}`);
}

// ---------------------------------------------------------------------------------------------

/** Stops for everything started so far (also run on Ctrl-C: wrangler dev must not outlive the run). */
const stops = [];
async function stopAll() {
  for (const stop of stops.splice(0).reverse()) await Promise.resolve(stop()).catch(() => {});
}
let shutdown = null;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    log(`${signal}: stopping`);
    shutdown = stopAll().then(() => process.exit(130));
  });
}

/**
 * Promise.all that lets every start settle before it throws the first failure. With Promise.all, a
 * dev server still starting when another failed registered its stop after the run had stopped
 * everything: its workerd processes outlived the bench, spinning (two at ~35% CPU each for 10
 * minutes, on 2026-12-01).
 */
async function allStarted(starts) {
  const results = await Promise.allSettled(starts);
  const failed = results.find((result) => result.status === "rejected");
  if (failed) throw failed.reason;
  return results.map((result) => result.value);
}

async function main() {
  const started = performance.now();
  const loadStart = loadavg()[0];
  log(
    `${SMOKE ? "smoke" : "full"} run; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  const state = await mkdtemp(join(tmpdir(), "aibridge-bench-"));
  let limitedKey = "";
  try {
    const upstream = await startUpstreamProcess();
    stops.push(upstream.stop);
    log(`upstream ${upstream.url}; starting wrangler dev ×5`);
    /** Registers a started dev server's stop, so the run stops it however it ends. */
    const stoppable = (dev) => {
      stops.push(dev.stop);
      return dev;
    };
    // The pass-through Worker, once per path that uses it (startPassthrough says why; measured with
    // `node bench/ab.mjs --measure latency`: ~0.5–0.9 ms of blocking time for the same relay code).
    // They start while the gateway's local D1 gets its migrations and a key.
    const passthroughsStarted = allStarted(
      ["passthrough", "jsrelay", "jsrelayq"].map((name) =>
        startPassthrough(name, upstream.url, state).then(stoppable),
      ),
    );
    const [passthroughs, [gateways, gatewayKey]] = await allStarted([
      passthroughsStarted,
      createGatewayKey(join(state, "gateway")).then(async (key) => {
        limitedKey = await createLimitedKey(join(state, "gateway"));
        const vars = gatewayVars(upstream.url);
        await cp(join(state, "gateway"), join(state, "norec"), { recursive: true });
        const config = join(PROJECT_ROOT, "wrangler.toml");
        const devs = await allStarted([
          startWranglerDev({
            name: "gateway",
            config,
            prebuild: true,
            vars,
            persistTo: join(state, "gateway"),
          }).then(stoppable),
          startWranglerDev({
            name: "norec",
            config,
            script: join(PROJECT_ROOT, "bench/variants/gateway-no-recording.js"),
            prebuild: true,
            vars,
            persistTo: join(state, "norec"),
          }).then(stoppable),
        ]);
        return [devs, key];
      }),
    ]);
    const [gateway, norec] = gateways;
    const paths = pathsFor(upstream, passthroughs, gateway, gatewayKey, norec);
    log(`passthrough ${passthroughs[0].url}, gateway ${gateway.url}`);

    const withOutputOnFailure = (phase) =>
      phase.catch((error) => {
        // Which Worker failed, and what wrangler printed, is what one needs to look into it.
        for (const dev of [...passthroughs, gateway, norec]) {
          console.error(`--- wrangler dev (${dev.name}) output tail ---\n${dev.output().slice(-4000)}`);
        }
        throw error;
      });
    await checkPaths(paths);
    // First, while the dev servers are fresh: a profiler attached to a workerd that has served the
    // whole run (RSS in the GBs) did not return within 10 minutes once.
    const isolate = CPU_ONLY ? null : await withOutputOnFailure(isolatePhase(paths));
    if (CPU_ONLY) {
      const attribution = attributionPaths(paths);
      const cpu = await withOutputOnFailure(cpuPhase(paths, attribution));
      for (const scenario of Object.values(cpu)) {
        const r = scenario.perRequest;
        console.log(
          `${scenario.label}: workerd CPU ms/request ${Object.entries(r)
            .map(([n, v]) => `${n} ${v.workerdMs.toFixed(2)}`)
            .join(", ")}; gateway ÷ JS relay ${(r.gateway.workerdMs / r.jsrelay.workerdMs).toFixed(2)}×`,
        );
      }
      console.log(`\n${formatAttribution(cpu)}`);
      return;
    }
    const latency = await withOutputOnFailure(latencyPhase(paths));
    const gatewayPath = paths.find((p) => p.name === "gateway");
    const admission = await withOutputOnFailure(admissionPhase(gatewayPath, limitedKey));
    log(`admission round trip: +${ms(admission.addedP50)} ms at p50`);
    const tput = await withOutputOnFailure(throughputPhase(paths));
    const attribution = attributionPaths(paths);
    const cpu = await withOutputOnFailure(cpuPhase(paths, attribution));
    const memory = await withOutputOnFailure(memoryPhase(paths, upstream));
    for (const path of [...paths, ...attribution]) path.agent.destroy();
    await stopAll();

    log("micro-benchmarks");
    const micro = await runMicro({ smoke: SMOKE });
    log("in-process CPU per request");
    const inProcess = await runRequestCpu({ smoke: SMOKE });
    const rows = summarize(latency, tput, memory, cpu);
    const paired = pairedTargets(latency, cpu);
    const split = upstreamSplit(latency);
    const report = {
      mode: SMOKE ? "smoke" : "full",
      command: SMOKE ? "node bench/run.mjs --smoke" : "npm run bench",
      date: new Date().toISOString(),
      seconds: (performance.now() - started) / 1000,
      load: { start: loadStart, end: loadavg()[0] },
      machine: machine(),
      config: CONFIG,
      rows,
      paired,
      upstreamSplit: split,
      throughput: tput,
      cpu,
      isolate,
      inProcess,
      memory: Object.fromEntries(
        Object.entries(memory).map(([n, m]) => [n, m && { ...m, trace: undefined }]),
      ),
      gatewayServerTiming: serverTimingMedians(latency.samples.gateway.timing),
      admission,
      micro,
    };
    console.log(
      `\n${formatRows(rows)}\n\n${formatPaired(paired)}\n\n${formatUpstreamSplit(split)}\n\n${formatAttribution(cpu)}\n\n${formatIsolate(isolate)}\n\n${formatInProcess(inProcess)}\n\n${formatAdmission(admission)}\n\n${formatMicro(micro)}\n`,
    );
    console.log("gateway ÷ pass-through Worker (native; JS relay):");
    for (const row of rows) {
      if (Number.isFinite(row.ratio) || Number.isFinite(row.ratioJs))
        console.log(`  ${row.metric}: ${row.ratio.toFixed(2)}×; ${row.ratioJs.toFixed(2)}×`);
    }
    if (JSON_OUT) await writeFile(JSON_OUT, JSON.stringify(report, null, 2));
    if (WRITE_RESULTS) await writeResults(report);
    log(`done in ${report.seconds.toFixed(0)} s`);
  } finally {
    await stopAll();
    await shutdown;
    await rm(state, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
