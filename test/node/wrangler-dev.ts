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
 * How wrangler dev is started (env file, temp state, free ports, process-group stop, offline env)
 * is scripts/lib/wrangler.mjs, shared with the benchmark and the CLIs. Here: test defaults (fake
 * secrets, both upstreams at 127.0.0.1:1 where nothing listens, so a test can never reach a real
 * provider), local D1 migrations applied first, and helpers for the admin API and D1.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  freePort,
  PROJECT_ROOT,
  startWranglerDev as startDev,
  wranglerRun,
} from "../../scripts/lib/wrangler.mjs";

export { freePort, PROJECT_ROOT };

/** Fake secrets for tests; they are fake, and tests may grep outputs for them. */
export const DEV_SECRETS = {
  ANTHROPIC_API_KEY: "sk-ant-devtest-CENTRAL-SECRET-000000",
  OPENAI_API_KEY: "sk-openai-devtest-CENTRAL-SECRET-0000",
  ADMIN_TOKEN: "admin-devtest-token-0123456789abcdef",
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

export async function startWranglerDev(options: WranglerDevOptions = {}): Promise<WranglerDev> {
  const ownsState = !options.persistTo;
  const persistTo = options.persistTo ?? (await mkdtemp(join(tmpdir(), "aibridge-dev-")));
  const vars: Record<string, string> = {
    ANTHROPIC_BASE_URL: "http://127.0.0.1:1",
    OPENAI_BASE_URL: "http://127.0.0.1:1/v1",
    ...DEV_SECRETS,
    ...options.vars,
  };
  await wranglerRun(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo]);
  let dev: Awaited<ReturnType<typeof startDev>>;
  try {
    dev = await startDev({ name: "test", vars, persistTo, timeoutMs: options.readyTimeoutMs ?? 60_000 });
  } catch (error) {
    if (ownsState) await rm(persistTo, { recursive: true, force: true });
    throw error;
  }
  const { url } = dev;
  const stop = async () => {
    await dev.stop();
    if (ownsState) await rm(persistTo, { recursive: true, force: true });
  };

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
      const { stdout } = await wranglerRun([
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
    output: () => dev.output(),
    stop,
  };
}
