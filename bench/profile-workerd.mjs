import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { createAgent, sendResending } from "./lib/client.mjs";
import { createGatewayKey, gatewayVars, requestShape, startUpstreamProcess } from "./lib/setup.mjs";
import { PROVIDER_KEY } from "./lib/upstream.mjs";
import { PROJECT_ROOT, startWranglerDev } from "./lib/wrangler.mjs";

/** A minimal Chrome DevTools protocol session over the inspector's WebSocket. */
export async function inspect(port) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const target = targets.find((t) => t.webSocketDebuggerUrl) ?? targets[0];
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  let next = 1;
  const waiting = new Map();
  ws.on("message", (data) => {
    const message = JSON.parse(data.toString());
    const done = waiting.get(message.id);
    if (!done) return;
    waiting.delete(message.id);
    if (message.error) done.reject(new Error(JSON.stringify(message.error)));
    else done.resolve(message.result);
  });
  return {
    call: (method, params = {}) =>
      new Promise((resolve, reject) => {
        const id = next++;
        waiting.set(id, { resolve, reject });
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

/** The heaviest functions of a profile, by self time and by inclusive time. */
export function summarize(profile, top = 30) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const counts = new Map();
  for (const s of profile.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  const name = (n) =>
    `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.split("/").pop()}:${n.callFrame.lineNumber + 1}`;
  const self = new Map();
  const inclusive = new Map();
  let busy = 0;
  for (const [id, c] of counts) {
    const node = byId.get(id);
    if (node.callFrame.functionName === "(idle)") continue;
    busy += c;
    self.set(name(node), (self.get(name(node)) ?? 0) + c);
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const k = name(byId.get(cur));
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + c);
    }
  }
  const rows = (m) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]) => `${((100 * v) / busy).toFixed(1).padStart(5)}%  ${k}`)
      .join("\n");
  return { busy, text: `SELF (% of busy samples)\n${rows(self)}\n\nINCLUSIVE\n${rows(inclusive)}` };
}

function cliOptions() {
  const { values: opts } = parseArgs({
    options: {
      requests: { type: "string", default: "300" },
      shape: { type: "string", default: "chat" },
      out: { type: "string", default: join(PROJECT_ROOT, "bench/out/workerd.cpuprofile") },
      interval: { type: "string", default: "50" },
      worker: { type: "string", default: "gateway" },
    },
  });

  const shape = requestShape(opts.shape);
  return { opts, shape };
}

async function main() {
  const { opts, shape } = cliOptions();
  const state = await mkdtemp(join(tmpdir(), "aibridge-profile-"));
  const upstream = await startUpstreamProcess();
  const upstreamUrl = upstream.url;
  let dev;
  try {
    const persistTo = join(state, "gateway");
    await mkdir(persistTo, { recursive: true });
    if (opts.worker === "relay") {
      dev = await startWranglerDev({
        name: "relay",
        config: join(PROJECT_ROOT, "bench/passthrough-worker/wrangler.toml"),
        vars: { UPSTREAM_URL: upstreamUrl },
        persistTo,
      });
      return await profileRequests(dev, { "x-api-key": PROVIDER_KEY, "x-bench-relay": "js" }, opts, shape);
    }
    const key = await createGatewayKey(persistTo);
    dev = await startWranglerDev({
      name: "gateway",
      config: join(PROJECT_ROOT, "wrangler.toml"),
      prebuild: true,
      persistTo,
      vars: gatewayVars(upstreamUrl),
    });
    return await profileRequests(dev, { "x-api-key": key }, opts, shape);
  } finally {
    await dev?.stop();
    upstream.stop();
    await rm(state, { recursive: true, force: true });
  }
}

/**
 * Busy time of a Worker's isolate per request: the V8 sampling profiler on its inspector while
 * `send()` runs `requests` times sequentially, plus `settleMs` for deferred work. Returns
 * { msPerRequest, profile, summary }.
 */
export async function isolateCpu(inspectorPort, send, { requests, settleMs = 1500, intervalUs = 50 }) {
  const session = await inspect(inspectorPort);
  try {
    await session.call("Profiler.enable");
    await session.call("Profiler.setSamplingInterval", { interval: intervalUs });
    await session.call("Profiler.start");
    for (let i = 0; i < requests; i++) await send();
    await new Promise((r) => setTimeout(r, settleMs));
    const { profile } = await session.call("Profiler.stop");
    await session.call("Profiler.disable");
    const summary = summarize(profile);
    return { msPerRequest: (summary.busy * intervalUs) / 1000 / requests, profile, summary };
  } finally {
    session.close();
  }
}

/** Warms the Worker up, then samples its isolate while it answers `--requests` sequential requests. */
async function profileRequests(dev, credentials, opts, shape) {
  const path = {
    name: opts.worker,
    url: `${dev.url}/anthropic/v1/messages`,
    agent: createAgent(4),
    headers: {
      "content-type": "application/json",
      "anthropic-version": "2023-06-01",
      "user-agent": "claude-cli/2.0.0 (external, cli)",
      ...credentials,
      ...shape.headers,
    },
  };
  let resent = 0;
  // A resent request's busy time stays in the profile (its first attempt's too).
  const send = () => sendResending(path, shape.body, {}, () => resent++);
  // Turns warm up briefly, as run.mjs's isolate phase does: after ~40 of them (40,000 streamed
  // events reported to wrangler's own inspector session) a new inspector connection never opened.
  const warmup = opts.shape === "turn" ? 5 : 40;
  for (let i = 0; i < warmup; i++) await send();
  const n = Number(opts.requests);
  // settleMs: deferred work (waitUntil, the queue consumer) is counted too.
  const { msPerRequest, profile, summary } = await isolateCpu(dev.inspectorPort, send, {
    requests: n,
    settleMs: 1500,
    intervalUs: Number(opts.interval),
  });
  path.agent.destroy();
  await mkdir(join(opts.out, ".."), { recursive: true });
  await writeFile(opts.out, JSON.stringify(profile));
  console.log(
    `${opts.worker}: ${n} ${opts.shape} requests; busy ${(msPerRequest * n).toFixed(0)} ms sampled (${msPerRequest.toFixed(2)} ms per request) in the Worker's isolate${resent > 0 ? ` (${resent} resent after wrangler dev's "restarted mid-request")` : ""}; profile: ${opts.out}\n`,
  );
  console.log(summary.text);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(
    () => process.exit(0),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
