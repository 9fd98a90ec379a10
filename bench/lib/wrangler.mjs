/**
 * `wrangler dev` for the benchmark: the project's one harness (scripts/lib/wrangler.mjs: generated
 * --env-file, temp state, free ports, process-group stop, offline env), plus what only the
 * benchmark needs: running a pre-built bundle, and finding the workerd processes so their memory
 * can be sampled from /proc.
 */
import { readdirSync, readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { startWranglerDev as startDev, wranglerRun } from "../../scripts/lib/wrangler.mjs";

export { freePort, OFFLINE_ENV, PROJECT_ROOT, wranglerRun } from "../../scripts/lib/wrangler.mjs";

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
  return startDev({
    name,
    config,
    script: entry,
    vars,
    persistTo,
    readyPath,
    timeoutMs,
    extraArgs: [...(prebuild ? ["--no-bundle"] : []), "--log-level", "warn"],
  });
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
