/**
 * Runs SQL against the gateway's D1 database through wrangler (local state by default, --remote for
 * production), so the CLIs need no Cloudflare credentials of their own beyond wrangler's.
 */
import { execFileSync } from "node:child_process";
import { parseArgs as parseNodeArgs } from "node:util";
import { remoteD1Config } from "./remote-d1.mjs";
import { QUIET_WRANGLER_ENV, WRANGLER_BIN } from "./wrangler.mjs";

export { QUIET_WRANGLER_ENV };

/**
 * Where the D1 call goes: { remote: boolean, persistTo?: string, config?: string }. Remote calls
 * without --config get a config carrying the database id (wrangler.toml has none: remote-d1.mjs).
 */
export function d1Target(options) {
  const args = [options.remote ? "--remote" : "--local"];
  if (options.persistTo && !options.remote) args.push("--persist-to", options.persistTo);
  const config = options.config ?? (options.remote ? remoteD1Config() : undefined);
  if (config) args.push("--config", config);
  return args;
}

/** Runs one or more statements; returns the rows of the last one. Values must be inlined safely (see sqlString). */
export function d1Query(sql, target) {
  const output = execFileSync(
    process.execPath,
    [WRANGLER_BIN, "d1", "execute", "DB", ...d1Target(target), "--json", "--command", sql],
    { encoding: "utf8", env: { ...process.env, ...QUIET_WRANGLER_ENV }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const start = output.indexOf("[");
  const results = JSON.parse(output.slice(start));
  return results.at(-1)?.results ?? [];
}

/** wrangler d1 execute --command takes no bound parameters: quote strings the SQLite way. */
export function sqlString(value) {
  if (value === null || value === undefined) return "null";
  return `'${String(value).replace(/'/g, "''")}'`;
}

/** The flags every D1 CLI takes: where the database is. */
const TARGET_FLAGS = {
  remote: { type: "boolean" },
  "persist-to": { type: "string" },
  config: { type: "string" },
};

/**
 * The CLIs' arguments, parsed by Node's util.parseArgs: `options` are the command's own flags
 * ({ name: { type: "string" | "boolean" } }) besides the target flags. An unknown flag or a missing
 * value prints the reason and exits with status 2.
 */
export function parseArgs(argv, options = {}) {
  try {
    const { values, positionals } = parseNodeArgs({
      args: argv,
      options: { ...TARGET_FLAGS, ...options },
      allowPositionals: true,
      strict: true,
    });
    return { flags: values, positionals };
  } catch (error) {
    console.error(error.message);
    process.exit(2);
  }
}
