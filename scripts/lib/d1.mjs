/**
 * Runs SQL against the gateway's D1 database through wrangler (local state by default, --remote for
 * production), so the CLIs need no Cloudflare credentials of their own beyond wrangler's.
 */
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";

const wranglerBin = createRequire(import.meta.url).resolve("wrangler/bin/wrangler.js");

/** wrangler without telemetry, error reports, the banner or Cloudflare lookups: it works offline. */
export const QUIET_WRANGLER_ENV = {
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  WRANGLER_HIDE_BANNER: "true",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
};

/** Where the D1 call goes: { remote: boolean, persistTo?: string, config?: string }. */
export function d1Target(options) {
  const args = [options.remote ? "--remote" : "--local"];
  if (options.persistTo && !options.remote) args.push("--persist-to", options.persistTo);
  if (options.config) args.push("--config", options.config);
  return args;
}

/** Runs one or more statements; returns the rows of the last one. Values must be inlined safely (see sqlString). */
export function d1Query(sql, target) {
  const output = execFileSync(
    process.execPath,
    [wranglerBin, "d1", "execute", "DB", ...d1Target(target), "--json", "--command", sql],
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

/** Minimal flag parsing: --name value, --flag (boolean), positionals. */
export function parseArgs(argv) {
  const flags = {};
  const positionals = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg.startsWith("--")) {
      const [name, inline] = arg.slice(2).split("=", 2);
      if (inline !== undefined) flags[name] = inline;
      else if (argv[i + 1] !== undefined && !argv[i + 1].startsWith("--")) flags[name] = argv[++i];
      else flags[name] = true;
    } else positionals.push(arg);
  }
  return { flags, positionals };
}
