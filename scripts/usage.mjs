#!/usr/bin/env node
/**
 * Usage and cost from the command line (the HTTP twin is GET /admin/v1/usage).
 *
 *   npm run -s usage -- --by user --since 7d                  # user | model | day | client | instance
 *   npm run -s usage -- --by model --since 2026-05-01 --until 2026-05-31 --user alice@example.com
 *   npm run -s usage -- --by day --since 30d --remote --json
 *
 * --since / --until: 7d, 24h, a UTC date (2026-05-01; as --until it includes that day), an ISO
 * date-time, or epoch milliseconds. Default --since 7d. Local D1 state by default; --remote for
 * production, --persist-to <dir> for a custom local state. Numbers follow the admin API: requests
 * are interceptions started in the range, cost is the sum of priced usage, and usage of models
 * without a price is counted as "unpriced" instead of being costed as zero.
 */
import { PLAN_ROWS, planBuckets, planParams } from "../src/recorder/rollup-sql.mjs";
import { d1Query, parseArgs, sqlString } from "./lib/d1.mjs";

/** Read from the usage rollups (aibridge_usage_rollups), like the admin API. */
const DIMENSIONS = {
  user: "r.initiator_id",
  model: "r.model",
  client: "r.client",
  day: "strftime('%Y-%m-%d', r.bucket / 1000, 'unixepoch')",
  // The provider instance that answered (docs/providers.md), as in the admin API; rows kept from
  // before the rollups had instances ("") show as the API family.
  instance: "coalesce(nullif(r.instance, ''), r.provider)",
};
/** No --until: no upper bound (the admin API's NO_END). */
const NO_END = 8_640_000_000_000_000;
const DAY_MS = 86_400_000;

function fail(message) {
  console.error(message);
  process.exit(2);
}

function parseTime(flag, value, asEnd) {
  const relative = /^(\d+)([dh])$/.exec(value);
  if (relative) return Date.now() - Number(relative[1]) * (relative[2] === "d" ? DAY_MS : 3_600_000);
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const start = Date.parse(`${value}T00:00:00Z`);
    if (!Number.isNaN(start)) return asEnd ? start + DAY_MS : start;
  } else if (/^\d{10,16}$/.test(value)) return Number(value);
  else if (/^\d{4}-\d{2}-\d{2}T/.test(value) && !Number.isNaN(Date.parse(value))) return Date.parse(value);
  fail(`--${flag}: expected 7d, 24h, a date (2026-05-01), an ISO date-time or epoch ms; got "${value}"`);
}

const { flags } = parseArgs(process.argv.slice(2), {
  by: { type: "string" },
  since: { type: "string" },
  until: { type: "string" },
  user: { type: "string" },
  model: { type: "string" },
  json: { type: "boolean" },
});
const by = typeof flags.by === "string" ? flags.by : "user";
if (!(by in DIMENSIONS)) fail(`--by: one of ${Object.keys(DIMENSIONS).join(", ")}`);
const since = parseTime("since", typeof flags.since === "string" ? flags.since : "7d", false);
const until = typeof flags.until === "string" ? parseTime("until", flags.until, true) : null;
const target = { remote: flags.remote === true, persistTo: flags["persist-to"], config: flags.config };

// The range resolves to whole hours (older edges to whole days), as in the admin API.
const plan = planBuckets(since, until ?? NO_END, Date.now());
const params = planParams(plan);
const source = PLAN_ROWS.replace(/\?(\d)/g, (_, n) => String(params[Number(n) - 1]));
const filters = ["true"];
if (typeof flags.user === "string") filters.push(`r.initiator_id = ${sqlString(flags.user)}`);
if (typeof flags.model === "string") filters.push(`r.model = ${sqlString(flags.model)}`);

const rows = d1Query(
  `select ${DIMENSIONS[by]} as ${by},
           sum(r.requests) as requests,
           sum(r.input_tokens) as input_tokens,
           sum(r.output_tokens) as output_tokens,
           sum(r.cache_read_tokens) as cache_read_tokens,
           sum(r.cache_write_tokens) as cache_write_tokens,
           case when sum(r.usages) > 0 and sum(r.priced_usages) = 0 then null
                else sum(r.cost_micros) end as cost_micros,
           sum(r.usages) - sum(r.priced_usages) as unpriced_usages
         from ${source} r
         where ${filters.join(" and ")}
         group by 1
         order by ${by === "day" ? "1 asc" : "sum(r.cost_micros) desc, 1 asc"}`,
  target,
);

if (flags.json) {
  console.log(JSON.stringify(rows, null, 2));
  process.exit(0);
}

const int = (n) => Number(n).toLocaleString("en-US");
// Rounded on integers (hundreds of micro-dollars): (0.00325).toFixed(4) would print 0.0032.
const usd = (micros) => (micros === null ? "unknown" : `$${(Math.round(micros / 100) / 1e4).toFixed(4)}`);
const sum = (field) => rows.reduce((total, row) => total + (row[field] ?? 0), 0);
const table = [
  [by, "requests", "input", "output", "cache read", "cache write", "cost", "unpriced"],
  ...rows.map((r) => [
    r[by],
    int(r.requests),
    int(r.input_tokens),
    int(r.output_tokens),
    int(r.cache_read_tokens),
    int(r.cache_write_tokens),
    usd(r.cost_micros),
    int(r.unpriced_usages),
  ]),
  [
    "TOTAL",
    int(sum("requests")),
    int(sum("input_tokens")),
    int(sum("output_tokens")),
    int(sum("cache_read_tokens")),
    int(sum("cache_write_tokens")),
    usd(sum("cost_micros")),
    int(sum("unpriced_usages")),
  ],
];
const widths = table[0].map((_, col) => Math.max(...table.map((row) => String(row[col]).length)));
const line = (row) =>
  row
    .map((cell, col) => (col === 0 ? String(cell).padEnd(widths[col]) : String(cell).padStart(widths[col])))
    .join("  ");
const range = `${new Date(plan.from).toISOString().slice(0, 16)}Z … ${until === null ? "now" : `${new Date(plan.to).toISOString().slice(0, 16)}Z`}`;
console.log(`Usage by ${by}, ${range}${target.remote ? " (remote)" : " (local)"}`);
console.log(line(table[0]));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const row of table.slice(1, -1)) console.log(line(row));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
console.log(line(table.at(-1)));
if (rows.length === 0) console.log("(no usage in this range)");
