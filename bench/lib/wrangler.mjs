/**
 * `wrangler dev` for the benchmark, the same way test/node/wrangler-dev.ts does it (that harness is
 * TypeScript, which Node 20 cannot load from a .mjs script, so its approach is repeated here):
 * vars in a generated --env-file (never the developer's .dev.vars), local state in a temp dir, free
 * ports, started detached in its own process group and stopped by killing the group (wrangler
 * leaves workerd children behind otherwise), offline env. Also finds the workerd processes the dev
 * server runs, so their memory can be sampled from /proc.
 */
import { execFile, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { QUIET_WRANGLER_ENV } from "../../scripts/lib/d1.mjs";

const run = promisify(execFile);

export const PROJECT_ROOT = resolve(import.meta.dirname, "../..");
export const WRANGLER = join(PROJECT_ROOT, "node_modules/.bin/wrangler");

export const OFFLINE_ENV = { ...QUIET_WRANGLER_ENV, CI: "true", NO_COLOR: "1" };

export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/** Runs a wrangler command to completion (migrations and the like). */
export function wranglerRun(args, options = {}) {
  return run(WRANGLER, args, {
    cwd: options.cwd ?? PROJECT_ROOT,
    env: { ...process.env, ...OFFLINE_ENV },
    timeout: options.timeout ?? 120_000,
    maxBuffer: 16 * 1024 * 1024,
  });
}

/**
 * Starts `wrangler dev` for the config at `config` (entry `script` instead of the config's main,
 * if given; bundled once beforehand with `prebuild`) with `vars`, state under `persistTo`, and
 * waits until GET `readyPath` answers 200.
 */
export async function startWranglerDev({
  name,
  config,
  script,
  prebuild = false,
  vars,
  persistTo,
  readyPath = "/healthz",
  timeoutMs = 90_000,
}) {
  await mkdir(persistTo, { recursive: true });
  let entry = script;
  if (prebuild) {
    // Bundle once up front and run the bundle: src/ may be edited while the benchmark runs (other
    // work on the project), and wrangler dev would reload the Worker mid-measurement.
    const outdir = join(persistTo, "build");
    await wranglerRun([
      "deploy",
      ...(script ? [script] : []),
      "--config",
      config,
      "--dry-run",
      "--outdir",
      outdir,
    ]);
    const built = readdirSync(outdir).find((file) => file.endsWith(".js"));
    if (!built) throw new Error(`no bundle in ${outdir}`);
    entry = join(outdir, built);
  }
  const envFile = join(persistTo, `${name}.env`);
  await writeFile(
    envFile,
    Object.entries(vars)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}\n`)
      .join(""),
  );
  const [port, inspectorPort] = [await freePort(), await freePort()];
  const args = [
    "dev",
    ...(entry ? [entry] : []),
    ...(prebuild ? ["--no-bundle"] : []),
    "--config", config,
    "--ip", "127.0.0.1",
    "--port", String(port),
    "--inspector-port", String(inspectorPort),
    "--persist-to", persistTo,
    "--env-file", envFile,
    "--log-level", "warn",
    "--show-interactive-dev-session=false",
  ]; // biome-ignore format: flag/value pairs read better on one line each
  const child = spawn(WRANGLER, args, {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...OFFLINE_ENV },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Always drain the output (a full pipe would block the Worker's console.log); keep the tail.
  let output = "";
  const keep = (data) => {
    output = (output + data.toString()).slice(-20_000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exited = new Promise((done) => child.once("exit", done));

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      // already gone
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }, 5_000);
    await exited;
    clearTimeout(timer);
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`wrangler dev (${name}) exited with ${child.exitCode}:\n${output}`);
    const ok = await fetch(`${url}${readyPath}`).then(
      async (r) => {
        await r.arrayBuffer();
        return r.ok;
      },
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev (${name}) was not ready in time:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { name, url, pid: child.pid, stop, output: () => output };
}

/** Processes below `rootPid` (not including it), from /proc. */
function descendants(rootPid) {
  const parents = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid …; comm may contain spaces and parentheses: split after the last ')'.
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const ppid = Number(stat.slice(close + 2).split(" ")[1]);
      parents.set(Number(entry), { ppid, comm });
    } catch {
      // exited meanwhile
    }
  }
  const found = [];
  const queue = [rootPid];
  while (queue.length > 0) {
    const pid = queue.shift();
    for (const [child, info] of parents) {
      if (info.ppid === pid) {
        found.push({ pid: child, comm: info.comm });
        queue.push(child);
      }
    }
  }
  return found;
}

/** The workerd processes a `wrangler dev` runs (found once; they live as long as the dev server). */
export function workerdPids(rootPid) {
  return descendants(rootPid)
    .filter((p) => p.comm === "workerd")
    .map((p) => p.pid);
}

/** Summed VmRSS of the given processes, in bytes (0 for processes that are gone). */
export function rssBytes(pids) {
  let total = 0;
  for (const pid of pids) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
      if (match) total += Number(match[1]) * 1024;
    } catch {
      // gone
    }
  }
  return total;
}

/** The processes of a `wrangler dev` tree: its workerd processes, and wrangler's own Node processes. */
export function devProcesses(rootPid) {
  const below = descendants(rootPid);
  return {
    workerd: below.filter((p) => p.comm === "workerd").map((p) => p.pid),
    wrangler: [rootPid, ...below.filter((p) => p.comm !== "workerd").map((p) => p.pid)],
  };
}

const TICK_MS = 10; // USER_HZ is 100 on Linux: /proc reports CPU time in 10 ms ticks

/**
 * CPU time (user + system, all threads) the given processes have used so far, in ms, from
 * /proc/<pid>/stat (fields 14 and 15). Ticks are 10 ms: callers measure blocks of requests, not one.
 */
export function cpuMs(pids) {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // After "pid (comm) ", field 3 (state) is index 0: utime (14) and stime (15) are 11 and 12.
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone
    }
  }
  return ticks * TICK_MS;
}
