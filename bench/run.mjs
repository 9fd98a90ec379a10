/**
 * `npm run bench`: what the gateway adds, measured against a direct call and against a minimal
 * pass-through Worker in the same runtime (the runtime's own floor).
 *
 * One run starts a fake Anthropic upstream (bench/lib/upstream.mjs, its own process), the
 * pass-through Worker (bench/passthrough-worker) and the gateway under `wrangler dev` (local state
 * in a temp dir, a real gateway key), then measures the three paths to the same upstream
 * interleaved: every iteration visits all three, in a rotating order, after a warm-up. All traffic
 * stays on 127.0.0.1 and every phase is bounded in requests and time.
 *
 *   node bench/run.mjs                 full run, prints the table, writes bench/RESULTS.md
 *   node bench/run.mjs --smoke         a handful of iterations and tiny streams (< 60 s), no RESULTS.md
 *   --json <file>                      also write the figures as JSON
 *   --no-write                         do not touch bench/RESULTS.md
 *   --attribution                      also measure the gateway with recording off, and the pass-through
 *                                      Worker relaying through a JavaScript stream (5 paths)
 *
 * The admission round trip (per-user limits, docs/limits.md) is measured on the same gateway in the
 * same run: blocking requests from a user with a policy (budget, RPM and TPM all checked by the
 * user's Durable Object) interleaved with requests from a user without one.
 */
import { execFileSync, fork } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createAgent, expectOk, percentile, post, slowReader, throughput } from "./lib/client.mjs";
import { PROVIDER_KEY } from "./lib/upstream.mjs";
import {
  OFFLINE_ENV,
  PROJECT_ROOT,
  rssBytes,
  startWranglerDev,
  workerdPids,
  wranglerRun,
} from "./lib/wrangler.mjs";
import { runMicro } from "./micro.mjs";

const argv = process.argv.slice(2);
const SMOKE = argv.includes("--smoke");
const JSON_OUT = argv.includes("--json") ? argv[argv.indexOf("--json") + 1] : null;
const WRITE_RESULTS = !SMOKE && !argv.includes("--no-write");
/** Adds the gateway with recording off (bench/variants) and a JS-stream pass-through, to see where time goes. */
const ATTRIBUTION = argv.includes("--attribution");

const CONFIG = SMOKE
  ? {
      warmup: 3,
      iterations: 8,
      longEvents: 200,
      longIterations: 3,
      throughputMs: 600,
      throughputRounds: 1,
      maxRequests: 400,
      bigBytes: 4 * 1024 * 1024,
      slowReadBytesPerSecond: 16 * 1024 * 1024,
    }
  : {
      warmup: 30,
      iterations: 200,
      longEvents: 4000,
      longIterations: 5,
      throughputMs: 2000,
      throughputRounds: 3,
      maxRequests: 20_000,
      bigBytes: 100 * 1024 * 1024,
      slowReadBytesPerSecond: 20 * 1024 * 1024,
    };

const log = (...args) => console.error(`[bench ${(performance.now() / 1000).toFixed(1)}s]`, ...args);

// ---------------------------------------------------------------------------------------------
// Setup

async function startUpstreamProcess() {
  const child = fork(join(import.meta.dirname, "lib/upstream.mjs"), [], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const { url } = await new Promise((resolve, reject) => {
    child.once("message", resolve);
    child.once("exit", (code) => reject(new Error(`upstream exited with ${code}`)));
  });
  const upstream = { url, pid: child.pid, bigWritten: 0, stop: () => child.kill("SIGTERM") };
  child.on("message", (message) => {
    if (typeof message?.bigWritten === "number") upstream.bigWritten = message.bigWritten;
  });
  return upstream;
}

async function createGatewayKey(persistTo) {
  await mkdir(persistTo, { recursive: true });
  await wranglerRun(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo]);
  const out = execFileSync(
    process.execPath,
    [
      join(PROJECT_ROOT, "scripts/keys.mjs"),
      "create",
      "--user",
      "bench@example.com",
      "--persist-to",
      persistTo,
    ],
    {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...OFFLINE_ENV },
    },
  );
  const key = out.toString().trim().split("\n").pop();
  if (!key?.startsWith("aib_")) throw new Error(`no key in keys.mjs output:\n${out}`);
  return key;
}

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

const BLOCKING_BODY = JSON.stringify({
  model: "claude-sonnet-4-5-20250929",
  max_tokens: 1024,
  system: [{ type: "text", text: "You are a helpful assistant.", cache_control: { type: "ephemeral" } }],
  messages: [{ role: "user", content: "Say hello to the benchmark, in one short sentence please." }],
  metadata: { user_id: "user_bench_session_00000000-0000-4000-8000-000000000000" },
});
const STREAM_BODY = JSON.stringify({ ...JSON.parse(BLOCKING_BODY), stream: true });

function pathsFor(upstream, passthrough, gateway, gatewayKey, norec) {
  const common = {
    "content-type": "application/json",
    "anthropic-version": "2023-06-01",
    "user-agent": "claude-cli/2.0.0 (external, cli)",
  };
  const agentPerPath = () => createAgent(64);
  return [
    { name: "direct", url: `${upstream.url}/v1/messages`, headers: { ...common, "x-api-key": PROVIDER_KEY } },
    {
      name: "passthrough",
      url: `${passthrough.url}/anthropic/v1/messages`,
      headers: { ...common, "x-api-key": PROVIDER_KEY },
      dev: passthrough,
    },
    {
      name: "gateway",
      url: `${gateway.url}/anthropic/v1/messages`,
      headers: { ...common, "x-api-key": gatewayKey },
      dev: gateway,
    },
    ...(norec
      ? [
          {
            name: "norec",
            url: `${norec.url}/anthropic/v1/messages`,
            headers: { ...common, "x-api-key": gatewayKey },
            dev: norec,
          },
          {
            // The pass-through Worker relaying through a pull-based JavaScript stream (the shape of
            // src/bridge/relay.ts, no parsing): the cost of relaying in JavaScript at all.
            name: "jsrelay",
            url: `${passthrough.url}/anthropic/v1/messages`,
            headers: { ...common, "x-api-key": PROVIDER_KEY, "x-bench-relay": "js" },
            dev: passthrough,
          },
        ]
      : []),
  ].map((path) => ({ ...path, agent: agentPerPath() }));
}

/** Every iteration visits all paths; the order rotates so no path is always first or last. */
function rotated(paths, i) {
  return paths.map((_, k) => paths[(i + k) % paths.length]);
}

const send = (path, body, extra = {}) =>
  post(path.url, { agent: path.agent, headers: { ...path.headers, ...extra }, body }).then((r) =>
    expectOk(path.name, r),
  );

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
  const samples = Object.fromEntries(
    paths.map((p) => [p.name, { blocking: [], ttfb: [], long: [], timing: [] }]),
  );
  const total = CONFIG.warmup + CONFIG.iterations;
  for (let i = 0; i < total; i++) {
    const warm = i < CONFIG.warmup;
    for (const path of rotated(paths, i)) {
      const result = await send(path, BLOCKING_BODY);
      if (!warm) samples[path.name].blocking.push(result.totalMs);
      if (!warm && result.serverTiming) samples[path.name].timing.push(result.serverTiming);
    }
    for (const path of rotated(paths, i + 1)) {
      const result = await send(path, STREAM_BODY, { "x-bench-events": "20" });
      if (!warm) samples[path.name].ttfb.push(result.ttfbMs);
    }
    if ((i + 1) % 50 === 0) log(`latency ${i + 1}/${total}`);
  }
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
    if (!path.dev) {
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

// ---------------------------------------------------------------------------------------------
// Report

const mb = (bytes) => (bytes / 1024 / 1024).toFixed(1);
const ms = (value) => (Number.isFinite(value) ? value.toFixed(2) : "—");
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : Number.NaN);

function summarize(latency, tput, memory) {
  const rows = [];
  const stat = (kind, p) =>
    Object.fromEntries(Object.entries(latency.samples).map(([n, s]) => [n, percentile(s[kind], p)]));
  const add = (metric, unit, values, lowerIsBetter, target) =>
    rows.push({
      metric,
      unit,
      values,
      ratio: ratio(values.gateway, values.passthrough),
      lowerIsBetter,
      target,
    });
  add("Blocking latency p50", "ms", stat("blocking", 50), true, 1.1);
  add("Blocking latency p99", "ms", stat("blocking", 99), true);
  add("Streaming TTFB p50", "ms", stat("ttfb", 50), true, 1.1);
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
  const mem = (field) =>
    Object.fromEntries(
      Object.entries(memory).map(([n, m]) => {
        if (!m) return [n, Number.NaN];
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
  const extra = rows.some((row) => "norec" in row.values);
  const lines = [
    `| metric | direct | pass-through Worker | gateway | gateway ÷ pass-through | target |${
      extra ? " attribution: gateway, recording off | attribution: pass-through, JS stream relay |" : ""
    }`,
    `|---|---:|---:|---:|---:|---|${extra ? "---:|---:|" : ""}`,
  ];
  for (const row of rows) {
    const f = (v) => (row.unit === "req/s" ? (Number.isFinite(v) ? v.toFixed(0) : "—") : ms(v));
    const met = row.target ? (row.ratio <= row.target ? `≤ ${row.target}× ✅` : `≤ ${row.target}× ❌`) : "";
    lines.push(
      `| ${row.metric} (${row.unit}) | ${f(row.values.direct)} | ${f(row.values.passthrough)} | ${f(row.values.gateway)} | ${
        Number.isFinite(row.ratio) ? `${row.ratio.toFixed(2)}×` : "—"
      } | ${met} |${extra ? ` ${f(row.values.norec)} | ${f(row.values.jsrelay)} |` : ""}`,
    );
  }
  return lines.join("\n");
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
    `- ${CONFIG.iterations} interleaved iterations per path after ${CONFIG.warmup} warm-up; ${CONFIG.longIterations} long streams per path; throughput ${CONFIG.throughputRounds} × ${CONFIG.throughputMs / 1000} s per path and concurrency.`,
    `- Gateway Server-Timing medians (blocking): ${timing || "n/a"}.`,
    "",
    formatRows(report.rows),
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
    log(`upstream ${upstream.url}; starting wrangler dev ×2`);
    // The pass-through Worker starts while the gateway's local D1 gets its migrations and a key.
    const [passthrough, [gateways, gatewayKey]] = await Promise.all([
      startWranglerDev({
        name: "passthrough",
        config: join(PROJECT_ROOT, "bench/passthrough-worker/wrangler.toml"),
        vars: { UPSTREAM_URL: upstream.url },
        persistTo: join(state, "passthrough"),
      }).then((dev) => {
        stops.push(dev.stop);
        return dev;
      }),
      createGatewayKey(join(state, "gateway")).then(async (key) => {
        limitedKey = await createLimitedKey(join(state, "gateway"));
        const vars = {
          ANTHROPIC_BASE_URL: upstream.url,
          OPENAI_BASE_URL: `${upstream.url}/v1`,
          ANTHROPIC_API_KEY: PROVIDER_KEY,
          OPENAI_API_KEY: "sk-openai-bench-unused",
          ADMIN_TOKEN: randomBytes(24).toString("hex"),
          MCP_SERVERS: "[]",
        };
        if (ATTRIBUTION) await cp(join(state, "gateway"), join(state, "norec"), { recursive: true });
        const config = join(PROJECT_ROOT, "wrangler.toml");
        const devs = await Promise.all([
          startWranglerDev({
            name: "gateway",
            config,
            prebuild: true,
            vars,
            persistTo: join(state, "gateway"),
          }),
          ATTRIBUTION
            ? startWranglerDev({
                name: "norec",
                config,
                script: join(PROJECT_ROOT, "bench/variants/gateway-no-recording.js"),
                prebuild: true,
                vars,
                persistTo: join(state, "norec"),
              })
            : null,
        ]);
        for (const dev of devs) if (dev) stops.push(dev.stop);
        return [devs, key];
      }),
    ]);
    const [gateway, norec] = gateways;
    const paths = pathsFor(upstream, passthrough, gateway, gatewayKey, norec);
    log(`passthrough ${passthrough.url}, gateway ${gateway.url}`);

    const withOutputOnFailure = (phase) =>
      phase.catch((error) => {
        // Which Worker failed, and what wrangler printed, is what one needs to look into it.
        for (const dev of [passthrough, gateway, norec].filter(Boolean)) {
          console.error(`--- wrangler dev (${dev.name}) output tail ---\n${dev.output().slice(-4000)}`);
        }
        throw error;
      });
    await checkPaths(paths);
    const latency = await withOutputOnFailure(latencyPhase(paths));
    const gatewayPath = paths.find((p) => p.name === "gateway");
    const admission = await withOutputOnFailure(admissionPhase(gatewayPath, limitedKey));
    log(`admission round trip: +${ms(admission.addedP50)} ms at p50`);
    const tput = await withOutputOnFailure(throughputPhase(paths));
    const memory = await withOutputOnFailure(memoryPhase(paths, upstream));
    for (const path of paths) path.agent.destroy();
    await stopAll();

    log("micro-benchmarks");
    const micro = await runMicro({ smoke: SMOKE });
    const rows = summarize(latency, tput, memory);
    const report = {
      mode: SMOKE ? "smoke" : "full",
      command: SMOKE
        ? "node bench/run.mjs --smoke"
        : `npm run bench${ATTRIBUTION ? " -- --attribution" : ""}`,
      date: new Date().toISOString(),
      seconds: (performance.now() - started) / 1000,
      load: { start: loadStart, end: loadavg()[0] },
      machine: machine(),
      config: CONFIG,
      rows,
      throughput: tput,
      memory: Object.fromEntries(
        Object.entries(memory).map(([n, m]) => [n, m && { ...m, trace: undefined }]),
      ),
      gatewayServerTiming: serverTimingMedians(latency.samples.gateway.timing),
      admission,
      micro,
    };
    console.log(`\n${formatRows(rows)}\n\n${formatAdmission(admission)}\n\n${formatMicro(micro)}\n`);
    console.log("gateway ÷ pass-through Worker:");
    for (const row of rows) {
      if (Number.isFinite(row.ratio)) console.log(`  ${row.metric}: ${row.ratio.toFixed(2)}×`);
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
