/**
 * Remote D1 commands without a database_id in wrangler.toml.
 *
 * wrangler.toml names the database (`database_name`) but carries no id: `wrangler deploy` provisions
 * or finds it by name (automatic provisioning), so a fresh clone deploys with nothing pasted in.
 * `wrangler d1 migrations apply/execute --remote` however insist on an id in the config they read.
 * This module looks the id up by name (`wrangler d1 list --json`) and writes a small config with it
 * under .wrangler/ (never committed) for those commands.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { PROJECT_ROOT, QUIET_WRANGLER_ENV, WRANGLER_BIN } from "./wrangler.mjs";

export { PROJECT_ROOT };

/** Runs wrangler and returns its stdout (stderr passes through, so errors are seen, unless `quiet`). */
export function wranglerOutput(args, { env = {}, quiet = false } = {}) {
  return execFileSync(process.execPath, [WRANGLER_BIN, ...args], {
    cwd: PROJECT_ROOT,
    encoding: "utf8",
    env: { ...process.env, ...QUIET_WRANGLER_ENV, ...env },
    stdio: ["ignore", "pipe", quiet ? "pipe" : "inherit"],
  });
}

/** The project's wrangler.toml as wrangler reads it (wrangler's own parser and defaults). */
export function readWranglerConfig(configPath = join(PROJECT_ROOT, "wrangler.toml")) {
  // wrangler's bundle is CommonJS: require keeps this synchronous for the CLIs.
  const { unstable_readConfig } = createRequire(import.meta.url)("wrangler");
  return unstable_readConfig({ config: configPath }, { hideWarnings: true });
}

/** The D1 binding of wrangler.toml: { name, configPath, binding, database_name, database_id?, migrations_dir }. */
export function d1Binding(configPath = join(PROJECT_ROOT, "wrangler.toml")) {
  const config = readWranglerConfig(configPath);
  const database = config.d1_databases.find((d) => d.binding === "DB");
  if (!database?.database_name) throw new Error(`${configPath}: no [[d1_databases]] with binding "DB"`);
  return { name: config.name, configPath, ...database };
}

/** The id of the account's database called `name`, or null. */
export function findDatabaseId(name) {
  const output = wranglerOutput(["d1", "list", "--json"]);
  const list = JSON.parse(output.slice(output.indexOf("[")));
  return list.find((db) => db.name === name)?.uuid ?? null;
}

/**
 * A config file for remote D1 commands (`--config <path>`): wrangler.toml itself when it has an
 * id, else a generated one with the id found by name. Throws when the database does not exist yet
 * (`npm run deploy` creates it).
 */
export function remoteD1Config() {
  const database = d1Binding();
  if (database.database_id) return database.configPath;
  const id = findDatabaseId(database.database_name);
  if (!id) {
    throw new Error(`D1 database "${database.database_name}" does not exist yet: run npm run deploy first.`);
  }
  return writeRemoteD1Config(database, id);
}

/** Writes .wrangler/deploy/d1.json for `database` with `id`; returns its path. */
export function writeRemoteD1Config(database, id) {
  const path = join(PROJECT_ROOT, ".wrangler/deploy/d1.json");
  mkdirSync(dirname(path), { recursive: true });
  const migrationsDir = resolve(dirname(database.configPath), database.migrations_dir ?? "migrations");
  const config = {
    name: database.name,
    compatibility_date: "2026-05-01",
    d1_databases: [
      {
        binding: database.binding,
        database_name: database.database_name,
        database_id: id,
        migrations_dir: relative(dirname(path), migrationsDir),
      },
    ],
  };
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`);
  return path;
}
