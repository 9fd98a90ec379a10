#!/usr/bin/env node
/**
 * Rebuilds the usage rollups (aibridge_usage_rollups) from the raw rows, which stay the source of
 * truth. Run it once after upgrading to a version with rollups (rows written before have none), or
 * whenever the rollups are in doubt:
 *
 *   npm run -s rollups -- rebuild --since 400d                    # local D1 state
 *   npm run -s rollups -- rebuild --since 2026-01-01 --until 2026-03-31 --remote
 *
 * --since / --until: Nd (days before today) or a UTC date (--until includes that day); default
 * --until is today. Each UTC day is recomputed in one transaction (the same SQL the Worker uses,
 * src/recorder/rollup-sql.mjs), so the queue consumer can keep writing meanwhile and nothing is
 * counted twice. --persist-to <dir> for a custom local state.
 */
import { DAY_MS, hourlySince, rebuildSql } from "../src/recorder/rollup-sql.mjs";
import { d1Query, parseArgs } from "./lib/d1.mjs";

/**
 * Days per wrangler call: each call is a process start, but D1 takes at most 100 KB of SQL per
 * command (a day's statements are about 4 KB).
 */
const DAYS_PER_CALL = 20;

function fail(message) {
  console.error(message);
  process.exit(2);
}

/** The start of a UTC day: Nd before today, or a date. */
function parseDay(flag, value) {
  const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  const relative = /^(\d+)d$/.exec(value);
  if (relative) return today - Number(relative[1]) * DAY_MS;
  if (/^\d{4}-\d{2}-\d{2}$/.test(value) && !Number.isNaN(Date.parse(`${value}T00:00:00Z`))) {
    return Date.parse(`${value}T00:00:00Z`);
  }
  fail(`--${flag}: expected Nd (e.g. 400d) or a UTC date (2026-05-01), got "${value}"`);
}

const { flags, positionals } = parseArgs(process.argv.slice(2), {
  since: { type: "string" },
  until: { type: "string" },
});
if (positionals[0] !== "rebuild")
  fail("usage: npm run -s rollups -- rebuild --since 400d [--until DATE] [--remote]");
if (typeof flags.since !== "string") fail("--since is required (e.g. --since 400d)");
const from = parseDay("since", flags.since);
const to =
  typeof flags.until === "string"
    ? parseDay("until", flags.until) + DAY_MS
    : Math.ceil(Date.now() / DAY_MS) * DAY_MS;
if (to <= from) fail("--until must not be before --since");
const target = { remote: flags.remote === true, persistTo: flags["persist-to"], config: flags.config };

const since = hourlySince(Date.now());
let days = 0;
for (let start = from; start < to; start += DAYS_PER_CALL * DAY_MS) {
  const end = Math.min(to, start + DAYS_PER_CALL * DAY_MS);
  const statements = [];
  for (let day = start; day < end; day += DAY_MS) statements.push(...rebuildSql(day, day + DAY_MS, since));
  d1Query(statements.map((sql) => `${sql};`).join("\n"), target);
  days += (end - start) / DAY_MS;
  console.error(
    `rebuilt ${new Date(start).toISOString().slice(0, 10)} … ${new Date(end - DAY_MS).toISOString().slice(0, 10)}`,
  );
}
const [count] = d1Query(
  `select count(*) as rows, coalesce(sum(requests), 0) as requests from aibridge_usage_rollups where span = 'day' and bucket >= ${from} and bucket < ${to}`,
  target,
);
console.log(
  `Rebuilt ${days} days: ${count?.rows ?? 0} day rows, ${count?.requests ?? 0} requests${target.remote ? " (remote)" : " (local)"}`,
);
