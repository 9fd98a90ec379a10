#!/usr/bin/env node
/**
 * `npm run deploy`: the first deploy and every later one, idempotent. Needs a Cloudflare login
 * (`npx wrangler login`) or CLOUDFLARE_API_TOKEN (+ CLOUDFLARE_ACCOUNT_ID).
 *
 *   1. the two queues (records and their dead letters): created when missing; wrangler's automatic
 *      provisioning does not cover queues
 *   2. the D1 database (wrangler.toml `database_name`): created when missing, then its migrations
 *      applied, before the new code goes live
 *   3. `wrangler deploy`: builds the dashboard, provisions the KV namespace and the CONTENT R2
 *      bucket (and finds D1 by name),
 *      uploads the Worker
 *   4. names every secret of .dev.vars.example that is still unset (names only, never values)
 *   5. prints the Worker's URL and what to do next
 *
 * Extra arguments go to `wrangler deploy` (e.g. `npm run deploy -- --dry-run` is not useful here:
 * use `npx wrangler deploy --dry-run`).
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  d1Binding,
  findDatabaseId,
  readWranglerConfig,
  wranglerOutput,
  writeRemoteD1Config,
} from "./lib/remote-d1.mjs";
import { PROJECT_ROOT, QUIET_WRANGLER_ENV, WRANGLER_BIN } from "./lib/wrangler.mjs";

function step(text) {
  console.log(`\n▸ ${text}`);
}

/** Runs wrangler with the terminal attached; resolves with its stdout (also shown as it comes). */
function wrangler(args, env = {}) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [WRANGLER_BIN, ...args], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...QUIET_WRANGLER_ENV, ...env },
      stdio: ["inherit", "pipe", "inherit"],
    });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
      process.stdout.write(chunk);
    });
    child.once("error", reject);
    child.once("exit", (code) =>
      code === 0
        ? resolveRun(output)
        : reject(new Error(`wrangler ${args[0]} ${args[1] ?? ""} failed (${code})`)),
    );
  });
}

/** Runs a command with the terminal attached. */
function run(command, args) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { cwd: PROJECT_ROOT, env: process.env, stdio: "inherit" });
    child.once("error", reject);
    child.once("exit", (code) =>
      code === 0 ? resolveRun() : reject(new Error(`${args[0]} failed (${code})`)),
    );
  });
}

/** True when wrangler can see the queue. */
function queueExists(name) {
  try {
    wranglerOutput(["queues", "info", name], { quiet: true });
    return true;
  } catch {
    return false;
  }
}

/** Secret names the gateway reads: the uncommented keys of .dev.vars.example (what the Deploy button asks for too). */
function secretNames() {
  return readFileSync(join(PROJECT_ROOT, ".dev.vars.example"), "utf8")
    .split("\n")
    .map((line) => /^([A-Z][A-Z0-9_]*)=/.exec(line)?.[1])
    .filter(Boolean);
}

async function main() {
  const config = readWranglerConfig();

  step("Queues");
  const queues = new Set([
    ...config.queues.producers.map((q) => q.queue),
    ...config.queues.consumers.flatMap((q) => [q.queue, q.dead_letter_queue].filter(Boolean)),
  ]);
  for (const queue of queues) {
    if (queueExists(queue)) console.log(`queue ${queue}: exists`);
    else await wrangler(["queues", "create", queue]);
  }

  step("D1 database and migrations");
  const database = d1Binding();
  let id = database.database_id ?? findDatabaseId(database.database_name);
  if (!id) {
    await wrangler(["d1", "create", database.database_name]);
    id = findDatabaseId(database.database_name);
    if (!id) throw new Error(`D1 database ${database.database_name} was created but cannot be found`);
  } else {
    console.log(`database ${database.database_name}: exists (${id})`);
  }
  const d1Config = database.database_id ? database.configPath : writeRemoteD1Config(database, id);
  // CI=true: apply without the interactive "ok to proceed?" (running this command is the consent).
  const applied = await wrangler(
    ["d1", "migrations", "apply", database.binding, "--remote", "--config", d1Config],
    { CI: "true" },
  );

  step("Worker");
  const deployed = await wrangler(["deploy", ...process.argv.slice(2)]);
  const urls = [...deployed.matchAll(/https:\/\/[^\s]+/g)]
    .map((m) => m[0])
    .filter((u) => !u.includes("cloudflare.com"));

  // Upgrades that changed what the usage rollups hold, once, from the raw rows (a fresh database
  // has nothing to fold): 0008 added them (rows written before have none); rollup_instance_key
  // made the provider instance part of their key (rows kept from before carry instance "", read as
  // the API family). After the Worker: from that migration on, the previous Worker's consumer can
  // no longer write rollups (its upserts name the old key), so the new one must go live first;
  // rebuilding a day is one transaction, so its consumer writing meanwhile counts nothing twice.
  const upgraded =
    !applied.includes("0000_init") &&
    (applied.includes("0008_usage_rollups") || applied.includes("_rollup_instance_key"));
  if (upgraded) {
    step("Usage rollups from the existing rows (once, after an upgrade that changed them)");
    const days = Number(config.vars?.USAGE_RETENTION_DAYS ?? config.vars?.RETENTION_DAYS ?? 400);
    await run(process.execPath, [
      join(PROJECT_ROOT, "scripts/rollups.mjs"),
      "rebuild",
      "--since",
      `${days}d`,
      "--remote",
      "--config",
      d1Config,
    ]);
  }

  step("Secrets");
  const listed = JSON.parse(wranglerOutput(["secret", "list", "--format", "json"]) || "[]");
  const set = new Set(listed.map((s) => s.name));
  const missing = secretNames().filter((name) => !set.has(name));
  for (const name of secretNames()) console.log(`${name}: ${set.has(name) ? "set" : "NOT SET"}`);

  const url = urls[0];
  console.log(`\n✔ Deployed ${config.name}${url ? ` at ${url}` : ""}`);
  console.log("\nNext steps:");
  let n = 1;
  for (const name of missing) console.log(`  ${n++}. npx wrangler secret put ${name}`);
  console.log(
    `  ${n++}. Custom domain: set routes = [{ pattern = "ai.example.com", custom_domain = true }] in wrangler.toml, then npm run deploy again`,
  );
  console.log(`  ${n++}. First gateway key: npm run -s keys -- create --user you@example.com --remote`);
  if (url) {
    console.log(`  ${n++}. Point clients at ${url}/anthropic and ${url}/openai/v1; dashboard: ${url}/admin`);
  }
}

main().catch((error) => {
  console.error(`\n✘ ${error.message}`);
  process.exit(1);
});
