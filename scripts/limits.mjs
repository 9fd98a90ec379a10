#!/usr/bin/env node
/**
 * Per-user limits from the command line (the HTTP twin is /admin/v1/limits; docs/limits.md).
 *
 *   npm run -s limits -- set --user alice@example.com --budget-usd 50 --period month \
 *       [--rpm 60] [--tpm 400000] [--allow REGEX] [--deny REGEX] [--record-content redacted|full|none]
 *   npm run -s limits -- set --user '*' …            # the default for users without their own policy
 *   npm run -s limits -- list [--json]
 *   npm run -s limits -- clear --user alice@example.com
 *
 * Writes D1 directly (local state by default; --remote for production, --persist-to <dir> for a
 * custom local state). Running gateways apply a change within 5 seconds (their policy cache); the
 * admin API applies it to the user's next request. `set` replaces the whole policy: a flag left out
 * means no limit of that kind.
 */
import { d1Query, parseArgs, sqlString } from "./lib/d1.mjs";

const { flags, positionals } = parseArgs(process.argv.slice(2), {
  user: { type: "string" },
  "budget-usd": { type: "string" },
  period: { type: "string" },
  rpm: { type: "string" },
  tpm: { type: "string" },
  allow: { type: "string" },
  deny: { type: "string" },
  "record-content": { type: "string" },
  json: { type: "boolean" },
});
const target = { remote: flags.remote === true, persistTo: flags["persist-to"], config: flags.config };
const command = positionals[0];
const PERIODS = ["day", "week", "month"];
const RECORD_CONTENT = ["redacted", "full", "none"];

function fail(message) {
  console.error(message);
  process.exit(1);
}

function userFlag() {
  const user = typeof flags.user === "string" ? flags.user.trim() : "";
  if (!user || user.length > 320) fail(`usage: limits ${command} --user <email, user id or *>`);
  return user;
}

function number(name, { integer = false } = {}) {
  const raw = flags[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value)))
    fail(`--${name} must be a non-negative ${integer ? "integer" : "number"}.`);
  return value;
}

function regex(name) {
  const raw = flags[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== "string" || raw.length > 500)
    fail(`--${name} must be a regular expression (≤ 500 characters).`);
  try {
    new RegExp(raw);
  } catch {
    fail(`--${name} is not a valid regular expression.`);
  }
  return raw;
}

/** The same policy JSON the admin API stores (field names as in docs/limits.md). */
function policyFromFlags() {
  const policy = {};
  const budget = number("budget-usd");
  if (budget !== undefined) policy.budget_usd = budget;
  if (flags.period !== undefined) {
    if (!PERIODS.includes(flags.period)) fail(`--period must be one of ${PERIODS.join(", ")}.`);
    policy.period = flags.period;
  }
  const rpm = number("rpm", { integer: true });
  if (rpm !== undefined) policy.requests_per_minute = rpm;
  const tpm = number("tpm", { integer: true });
  if (tpm !== undefined) policy.tokens_per_minute = tpm;
  const allow = regex("allow");
  const deny = regex("deny");
  if (allow !== undefined || deny !== undefined) {
    policy.models = {};
    if (allow !== undefined) policy.models.allow = allow;
    if (deny !== undefined) policy.models.deny = deny;
  }
  if (flags["record-content"] !== undefined) {
    if (!RECORD_CONTENT.includes(flags["record-content"]))
      fail(`--record-content must be one of ${RECORD_CONTENT.join(", ")}.`);
    policy.record_content = flags["record-content"];
  }
  return policy;
}

if (command === "set") {
  const user = userFlag();
  const policy = policyFromFlags();
  const now = Date.now();
  d1Query(
    `insert into aibridge_limits (user_id, policy, updated_at) values (${sqlString(user)}, ${sqlString(JSON.stringify(policy))}, ${now})
     on conflict (user_id) do update set policy = excluded.policy, updated_at = excluded.updated_at`,
    target,
  );
  console.log(`Set limits for ${user}: ${JSON.stringify(policy)}`);
  console.log("Running gateways apply it within 5 seconds.");
} else if (command === "list") {
  const rows = d1Query("select user_id, policy, updated_at from aibridge_limits order by user_id", target);
  const limits = rows.map((r) => ({
    user: r.user_id,
    policy: JSON.parse(r.policy),
    updated_at: r.updated_at,
  }));
  if (flags.json) {
    console.log(JSON.stringify(limits, null, 2));
  } else {
    console.table(
      limits.map(({ user, policy, updated_at }) => ({
        user,
        budget: policy.budget_usd === undefined ? "-" : `$${policy.budget_usd}/${policy.period ?? "month"}`,
        rpm: policy.requests_per_minute ?? "-",
        tpm: policy.tokens_per_minute ?? "-",
        allow: policy.models?.allow ?? "-",
        deny: policy.models?.deny ?? "-",
        "record content": policy.record_content ?? "-",
        updated: new Date(Number(updated_at)).toISOString().replace(".000Z", "Z"),
      })),
    );
  }
} else if (command === "clear") {
  const user = userFlag();
  const [row] = d1Query(
    `delete from aibridge_limits where user_id = ${sqlString(user)} returning user_id`,
    target,
  );
  if (!row) fail(`${user} has no policy of its own.`);
  console.log(`Cleared limits for ${user}. Running gateways apply it within 5 seconds.`);
} else {
  fail("usage: limits <set|list|clear> … (see scripts/limits.mjs)");
}
