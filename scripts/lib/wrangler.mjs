/**
 * The one place that says how this project runs wrangler from Node: its binary, the quiet/offline
 * environment, and `wrangler dev` for harnesses (tests, the benchmark) on free ports with its own
 * state, stopped with its whole process group. Used by scripts/, bench/ and test/node/.
 */
import { execFile, spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

export const PROJECT_ROOT = resolve(import.meta.dirname, "../..");

/** wrangler's CLI entry (run with `node`): no npx, no shell. */
export const WRANGLER_BIN = createRequire(import.meta.url).resolve("wrangler/bin/wrangler.js");

/** wrangler without telemetry, error reports, the banner or Cloudflare lookups: it works offline. */
export const QUIET_WRANGLER_ENV = {
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  WRANGLER_HIDE_BANNER: "true",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
};

/** For harnesses: quiet, non-interactive, no colours in captured output. */
export const OFFLINE_ENV = { ...QUIET_WRANGLER_ENV, CI: "true", NO_COLOR: "1" };

const run = promisify(execFile);

/** A TCP port free on 127.0.0.1 right now. */
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

/** A start that failed in a way a second start on new ports may not: withFreePorts retries it. */
export class RetryableStartError extends Error {}

/** A start that failed because the port it was given was taken by the time it bound it. */
export class PortTakenError extends RetryableStartError {}

/**
 * Runs `start(ports)` on `count` free ports. A port is free when chosen, but a child process binds
 * it later, and another process (another harness, an outgoing connection's ephemeral port) can take
 * it in between: a start that throws RetryableStartError (PortTakenError among them) is retried on
 * new ports (3 attempts in all).
 */
export async function withFreePorts(count, start) {
  for (let attempt = 1; ; attempt++) {
    const ports = [];
    for (let i = 0; i < count; i++) ports.push(await freePort());
    try {
      return await start(ports);
    } catch (error) {
      if (!(error instanceof RetryableStartError) || attempt >= 3) throw error;
    }
  }
}

/** Runs a wrangler command to completion (migrations and the like); resolves with { stdout, stderr }. */
export function wranglerRun(args, options = {}) {
  return run(process.execPath, [WRANGLER_BIN, ...args], {
    cwd: options.cwd ?? PROJECT_ROOT,
    env: { ...process.env, ...OFFLINE_ENV },
    timeout: options.timeout ?? 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
}

/**
 * dotenv only unescapes \n inside double quotes (a `\"` stays as is), so a value holding double
 * quotes (JSON such as MCP_SERVERS) goes in single quotes, which dotenv keeps literally.
 */
export function envFileValue(value) {
  return value.includes('"') && !value.includes("'") && !value.includes("\n")
    ? `'${value}'`
    : JSON.stringify(value);
}

/**
 * Starts `wrangler dev` and waits until GET `readyPath` answers 200.
 *
 * - `vars` go into a generated --env-file under `persistTo`: it replaces the project's .dev.vars (a
 *   developer's real keys are never picked up), overrides wrangler.toml [vars], and keeps secret
 *   values off the command line.
 * - State lives in `persistTo`, never the developer's .wrangler/state.
 * - Free ports for HTTP and the inspector, so several harnesses coexist.
 * - Started detached (its own process group) and stopped by killing the group: `wrangler dev`
 *   leaves workerd children behind when only its own PID is killed.
 *
 * `config`/`script` select another Worker; `extraArgs` go to wrangler dev as they are.
 * Returns { url, pid, inspectorPort, output(), stop() }.
 */
export async function startWranglerDev({
  vars,
  persistTo,
  config,
  script,
  extraArgs = [],
  readyPath = "/healthz",
  timeoutMs = 90_000,
  name = "dev",
}) {
  await mkdir(persistTo, { recursive: true });
  const envFile = join(persistTo, `${name}.env`);
  await writeFile(
    envFile,
    Object.entries(vars)
      .map(([k, v]) => `${k}=${envFileValue(v)}\n`)
      .join(""),
  );
  const options = { envFile, persistTo, config, script, extraArgs, readyPath, timeoutMs, name };
  return withFreePorts(2, ([port, inspectorPort]) => launch({ ...options, port, inspectorPort }));
}

async function launch({
  envFile,
  persistTo,
  config,
  script,
  extraArgs,
  readyPath,
  timeoutMs,
  name,
  port,
  inspectorPort,
}) {
  const args = [
    "dev",
    ...(script ? [script] : []),
    ...(config ? ["--config", config] : []),
    "--ip", "127.0.0.1",
    "--port", String(port),
    "--inspector-port", String(inspectorPort),
    "--persist-to", persistTo,
    "--env-file", envFile,
    "--show-interactive-dev-session=false",
    ...extraArgs,
  ]; // biome-ignore format: flag/value pairs read better on one line each
  const child = spawn(process.execPath, [WRANGLER_BIN, ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...OFFLINE_ENV },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Always drain the output (a full pipe would block the Worker's console.log); keep the tail.
  let output = "";
  const keep = (data) => {
    output = (output + data.toString()).slice(-200_000);
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
    // wrangler can exit on SIGTERM while a workerd child of its group ignores it (seen after a
    // failed start): whatever is left of the group goes too.
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // the whole group is gone
    }
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      const message = `wrangler dev (${name}) exited with ${child.exitCode}:\n${output}`;
      if (/Address already in use/.test(output)) throw new PortTakenError(message);
      // workerd sometimes exits during start-up without a word when several dev servers start at
      // once (the bench starts five): wrangler says only this. Seen twice, 2026-12-01 in
      // `npm run bench` and 2026-12-02 in CI's bench smoke; a start on new ports is worth a try.
      if (/The Workers runtime failed to start/.test(output)) throw new RetryableStartError(message);
      throw new Error(message);
    }
    // Bounded: whatever holds the port may accept and never answer.
    const ok = await fetch(`${url}${readyPath}`, { signal: AbortSignal.timeout(5_000) }).then(
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
    await new Promise((r) => setTimeout(r, 200));
  }
  return { name, url, pid: child.pid, inspectorPort, stop, output: () => output };
}
