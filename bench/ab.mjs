import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { createAgent, median, sendTo } from "./lib/client.mjs";
import { measureLatency } from "./lib/latency.mjs";
import {
  createGatewayKey,
  gatewayVars,
  requestShape,
  startPassthrough,
  startUpstreamProcess,
} from "./lib/setup.mjs";
import { bootstrapMedian } from "./lib/stats.mjs";
import { PROVIDER_KEY } from "./lib/upstream.mjs";
import { cpuMs, devProcesses, PROJECT_ROOT, startWranglerDev } from "./lib/wrangler.mjs";

const { values: opts } = parseArgs({
  options: {
    variant: { type: "string", multiple: true, default: [] },
    blocks: { type: "string", default: "8" },
    "per-block": { type: "string", default: "20" },
    shape: { type: "string", default: "chat" },
    settle: { type: "string", default: "1300" },
    // cpu: workerd CPU per request in blocks (the default); latency: blocking time and streaming
    // TTFB, every iteration visiting every path in a rotating order, compared as paired differences.
    measure: { type: "string", default: "cpu" },
    iterations: { type: "string", default: "300" },
    // latency: an idle pause after every request, so that work a path defers past its answer (its
    // recording) never overlaps another path's measured request on this machine's two cores.
    gap: { type: "string", default: "0" },
  },
});

const shape = requestShape(opts.shape);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const state = await mkdtemp(join(tmpdir(), "aibridge-ab-"));
  const upstream = await startUpstreamProcess();
  const upstreamUrl = upstream.url;
  const devs = [];
  try {
    const vars = gatewayVars(upstreamUrl);
    const variants = [
      ["this", PROJECT_ROOT, undefined],
      ...opts.variant
        .map((v) => /^([^=]+)=([^:]+)(?::(.+))?$/.exec(v))
        .map((m) => {
          if (!m) throw new Error("--variant name=/path/to/checkout[:entry.js]");
          return [m[1], resolve(m[2]), m[3] && join(resolve(m[2]), m[3])];
        }),
    ];
    const common = {
      "content-type": "application/json",
      "anthropic-version": "2023-06-01",
      "user-agent": "claude-cli/2.0.0 (external, cli)",
      ...shape.headers,
    };
    const passthrough = await startPassthrough("passthrough", upstreamUrl, state);
    devs.push(passthrough);
    const paths = [
      {
        name: "jsrelay",
        dev: passthrough,
        url: `${passthrough.url}/anthropic/v1/messages`,
        headers: { ...common, "x-api-key": PROVIDER_KEY, "x-bench-relay": "js" },
      },
    ];
    for (const [name, root, script] of variants) {
      const persistTo = join(state, name);
      // Each checkout migrates its own local D1 (their schemas may differ) and mints its own key.
      const key = await createGatewayKey(persistTo, root);
      const dev = await startWranglerDev({
        name,
        config: join(root, "wrangler.toml"),
        script,
        prebuild: true,
        vars,
        persistTo,
      });
      devs.push(dev);
      paths.push({
        name,
        dev,
        url: `${dev.url}/anthropic/v1/messages`,
        headers: { ...common, "x-api-key": key },
      });
    }
    for (const p of paths) p.agent = createAgent(4);
    if (opts.measure === "latency") {
      // The native pass-through gets a dev server of its own (startPassthrough says why).
      const nativeDev = await startPassthrough("native", upstreamUrl, state);
      devs.push(nativeDev);
      const native = {
        ...paths[0],
        name: "native",
        dev: nativeDev,
        url: `${nativeDev.url}/anthropic/v1/messages`,
        headers: { ...paths[0].headers, "x-bench-relay": "off" },
      };
      native.agent = createAgent(4);
      await runLatency([native, ...paths], Number(opts.iterations), Number(opts.gap));
      return;
    }
    const processes = new Map(paths.map((p) => [p.dev, devProcesses(p.dev.pid).workerd]));
    const send = (p) => sendTo(p, shape.body);
    for (const p of paths) for (let i = 0; i < 10; i++) await send(p);
    await sleep(Number(opts.settle));
    const idleAt = new Map(
      [...processes].map(([dev, pids]) => [dev, { cpu: cpuMs(pids), at: performance.now() }]),
    );
    await sleep(3000);
    const idle = new Map(
      [...processes].map(([dev, pids]) => {
        const a = idleAt.get(dev);
        return [dev, (cpuMs(pids) - a.cpu) / (performance.now() - a.at)];
      }),
    );
    const totals = Object.fromEntries(paths.map((p) => [p.name, { cpu: 0, requests: 0, blocks: [] }]));
    const perBlock = Number(opts["per-block"]);
    for (let block = 0; block < Number(opts.blocks); block++) {
      for (let k = 0; k < paths.length; k++) {
        const p = paths[(block + k) % paths.length];
        const pids = processes.get(p.dev);
        const a = { cpu: cpuMs(pids), at: performance.now() };
        for (let i = 0; i < perBlock; i++) await send(p);
        await sleep(Number(opts.settle));
        const used = cpuMs(pids) - a.cpu - idle.get(p.dev) * (performance.now() - a.at);
        totals[p.name].cpu += used;
        totals[p.name].requests += perBlock;
        totals[p.name].blocks.push(used / perBlock);
      }
    }
    const relay = totals.jsrelay.cpu / totals.jsrelay.requests;
    console.log(`${opts.shape}: workerd CPU ms per request over ${opts.blocks} blocks × ${perBlock}`);
    for (const [name, t] of Object.entries(totals)) {
      const perRequest = t.cpu / t.requests;
      const blocks = t.blocks.map((b) => b.toFixed(1)).join(" ");
      console.log(
        `  ${name.padEnd(12)} ${perRequest.toFixed(2).padStart(8)}  ${(perRequest / relay).toFixed(2)}× JS relay   [${blocks}]`,
      );
    }
  } finally {
    for (const dev of devs) await dev.stop();
    upstream.stop();
    await rm(state, { recursive: true, force: true });
  }
}

/**
 * Blocking time and streaming TTFB of every path (bench/lib/latency.mjs), each split at the
 * upstream. Besides each path's p50, the median of the per-iteration differences against the JS
 * relay (TTFB and its split) and the native pass-through (blocking and its split), with a
 * bootstrap 95% interval: pairing cancels what the machine was doing at that moment, which is
 * most of the spread.
 */
async function runLatency(paths, iterations, gapMs) {
  const samples = await measureLatency(paths, { iterations, gapMs });
  const report = (metric, base) => {
    console.log(`${metric} over ${iterations} iterations, against ${base} (paired differences, ms)`);
    const b = samples[base][metric];
    for (const p of paths) {
      const own = samples[p.name][metric];
      const diffs = own.map((v, i) => v - b[i]);
      const [lo, hi] = bootstrapMedian(diffs);
      console.log(
        `  ${p.name.padEnd(12)} p50 ${median(own).toFixed(2).padStart(7)}  ${(median(own) / median(b)).toFixed(2)}×` +
          `   paired Δ ${median(diffs).toFixed(2).padStart(6)} [${lo.toFixed(2)}, ${hi.toFixed(2)}]`,
      );
    }
  };
  // Each metric against its target's base; TTFB and its halves against the JS relay.
  const metrics = [
    ["ttfb", "jsrelay"],
    ["ttfbBeforeUpstream", "jsrelay"],
    ["ttfbAfterUpstream", "jsrelay"],
    ["blocking", "native"],
    ["beforeUpstream", "native"],
    ["afterUpstream", "native"],
  ];
  for (const [metric, base] of metrics) report(metric, base);
  // The checkouts against this one: what a change moved, paired the same way.
  if (paths.length > 3) for (const [metric] of metrics) report(metric, "this");
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
