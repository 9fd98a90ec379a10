/**
 * A real `wrangler dev` for tests that need real TCP between a client and the Worker (client
 * disconnects, timeouts, anything the in-process vitest pool cannot reproduce).
 *
 * Usage (from a test in the "node" vitest project):
 *
 *   const fake = await startFakeAnthropic();
 *   const dev = await startWranglerDev({ vars: { ANTHROPIC_BASE_URL: fake.url } });
 *   const { key } = await dev.createKey("alice@example.com");
 *   await fetch(`${dev.url}/anthropic/v1/messages`, { headers: { "x-api-key": key }, ... });
 *   const rows = await dev.d1("select * from aibridge_interceptions");
 *   await dev.stop();
 *
 * What it does, and why:
 * - State lives in a fresh temp dir (`persistTo`), never the developer's .wrangler/state; local D1
 *   migrations are applied there first with `wrangler d1 migrations apply DB --local`.
 * - Vars and secrets go into a generated env file passed with `--env-file`: that replaces the
 *   project's .dev.vars (a developer's real keys are never picked up), overrides wrangler.toml
 *   [vars], and keeps secret values off the command line. Defaults point both upstreams at
 *   127.0.0.1:1 (nothing listens there) so a test can never reach a real provider by accident.
 * - Free ports for HTTP and the inspector, so several harnesses (and other engineers' runs) coexist.
 * - Started detached (its own process group) and stopped by killing the group: `wrangler dev`
 *   leaves workerd children behind when only its own PID is killed.
 * - Offline: wrangler's metrics, error reports and cf fetch are switched off.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../fakes/mcp";

const run = promisify(execFile);

export const PROJECT_ROOT = resolve(import.meta.dirname, "../..");
const WRANGLER = join(PROJECT_ROOT, "node_modules/.bin/wrangler");

/** Fake secrets for tests; they are fake, and tests may grep outputs for them. */
export const DEV_SECRETS = {
  ANTHROPIC_API_KEY: "sk-ant-devtest-CENTRAL-SECRET-000000",
  OPENAI_API_KEY: "sk-openai-devtest-CENTRAL-SECRET-0000",
  ADMIN_TOKEN: "admin-devtest-token-0123456789abcdef",
};

const OFFLINE_ENV = {
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_HIDE_BANNER: "true",
  CI: "true",
  NO_COLOR: "1",
};

export interface WranglerDevOptions {
  /** Vars and secrets for the Worker (merged over DEV_SECRETS and the 127.0.0.1:1 upstreams). */
  vars?: Record<string, string>;
  /** Directory for local D1/KV/Queue state; default: a fresh temp dir, removed on stop(). */
  persistTo?: string;
  /** How long to wait for the Worker to answer GET /healthz. */
  readyTimeoutMs?: number;
}

export interface WranglerDev {
  /** http://127.0.0.1:<port> */
  url: string;
  persistTo: string;
  vars: Record<string, string>;
  /** Calls the admin API with the admin token. */
  admin(path: string, init?: RequestInit): Promise<Response>;
  /** Creates a gateway key through the admin API. */
  createKey(user: string, name?: string): Promise<{ id: string; key: string }>;
  /** Runs SQL against the local D1 (while the Worker keeps running) and returns the rows. */
  d1<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  /** Everything wrangler printed so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

export { freePort };

function wrangler(args: string[], timeout = 60_000) {
  return run(WRANGLER, args, {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...OFFLINE_ENV },
    timeout,
    maxBuffer: 64 * 1024 * 1024,
  });
}

/**
 * dotenv only unescapes \n inside double quotes (a `\"` stays as is), so a value holding double
 * quotes (JSON such as MCP_SERVERS) goes in single quotes, which dotenv keeps literally.
 */
function envFileValue(value: string): string {
  return value.includes('"') && !value.includes("'") && !value.includes("\n")
    ? `'${value}'`
    : JSON.stringify(value);
}

export async function startWranglerDev(options: WranglerDevOptions = {}): Promise<WranglerDev> {
  const ownsState = !options.persistTo;
  const persistTo = options.persistTo ?? (await mkdtemp(join(tmpdir(), "aibridge-dev-")));
  const vars: Record<string, string> = {
    ANTHROPIC_BASE_URL: "http://127.0.0.1:1",
    OPENAI_BASE_URL: "http://127.0.0.1:1/v1",
    ...DEV_SECRETS,
    ...options.vars,
  };
  const envFile = join(persistTo, "test.env");
  await writeFile(
    envFile,
    Object.entries(vars)
      .map(([k, v]) => `${k}=${envFileValue(v)}\n`)
      .join(""),
  );

  await wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo]);

  const [port, inspectorPort] = [await freePort(), await freePort()];
  const args = [
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-port",
    String(inspectorPort),
    "--persist-to",
    persistTo,
    "--env-file",
    envFile,
    "--show-interactive-dev-session=false",
  ];
  const child: ChildProcess = spawn(WRANGLER, args, {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...OFFLINE_ENV },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.pid && child.exitCode === null) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone
      }
      const timer = setTimeout(() => {
        try {
          if (child.pid) process.kill(-child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }, 5_000);
      await exited;
      clearTimeout(timer);
    }
    if (ownsState) await rm(persistTo, { recursive: true, force: true });
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`wrangler dev exited with ${child.exitCode}:\n${output}`);
    }
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev was not ready in time:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  const admin = (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${vars.ADMIN_TOKEN}`);
    if (init.body) headers.set("content-type", "application/json");
    return fetch(`${url}/admin/v1${path}`, { ...init, headers });
  };

  return {
    url,
    persistTo,
    vars,
    admin,
    async createKey(user, name) {
      const response = await admin("/keys", { method: "POST", body: JSON.stringify({ user, name }) });
      if (response.status !== 201)
        throw new Error(`key create failed: ${response.status} ${await response.text()}`);
      return (await response.json()) as { id: string; key: string };
    },
    async d1<T>(sql: string) {
      const { stdout } = await wrangler([
        "d1",
        "execute",
        "DB",
        "--local",
        "--persist-to",
        persistTo,
        "--json",
        "--command",
        sql,
      ]);
      const [result] = JSON.parse(stdout) as { results: T[] }[];
      return result?.results ?? [];
    },
    output: () => output,
    stop,
  };
}
