#!/usr/bin/env node
/**
 * `npm start`: the gateway on http://127.0.0.1:8787 with local D1/KV/Queue (wrangler's local
 * simulation under .wrangler/state). Applies the D1 migrations first so a fresh clone just works.
 * Extra arguments go to `wrangler dev` (e.g. `npm start -- --port 9000`).
 */
import { spawnSync } from "node:child_process";
import { QUIET_WRANGLER_ENV, WRANGLER_BIN as wrangler } from "./lib/wrangler.mjs";

const env = { ...process.env, ...QUIET_WRANGLER_ENV };

function run(args) {
  const result = spawnSync(process.execPath, [wrangler, ...args], { stdio: "inherit", env });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

run(["d1", "migrations", "apply", "DB", "--local"]);
run(["dev", "--ip", "127.0.0.1", "--port", "8787", ...process.argv.slice(2)]);
