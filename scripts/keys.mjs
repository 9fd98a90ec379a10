#!/usr/bin/env node
/**
 * Gateway key management from the command line (the HTTP twin is /admin/v1/keys).
 *
 *   npm run -s keys -- create --user alice@example.com [--name laptop]   # new key alone on the last line
 *   npm run -s keys -- list [--user alice@example.com]
 *   npm run -s keys -- revoke <key id>
 *
 * Local D1 state by default; add --remote for production, --persist-to <dir> for a custom local state.
 * Keys are generated here and only their SHA-256 is written, exactly as the Worker does.
 */
import { createHash, randomBytes } from "node:crypto";
import { uuidv7 } from "uuidv7";
import { d1Query, parseArgs, sqlString } from "./lib/d1.mjs";

const { flags, positionals } = parseArgs(process.argv.slice(2), {
  user: { type: "string" },
  name: { type: "string" },
  json: { type: "boolean" },
});
const target = { remote: flags.remote === true, persistTo: flags["persist-to"], config: flags.config };
const command = positionals[0];

function fail(message) {
  console.error(message);
  process.exit(1);
}

function formatTime(ms) {
  return ms ? new Date(Number(ms)).toISOString().replace(".000Z", "Z") : "-";
}

if (command === "create") {
  const user = typeof flags.user === "string" ? flags.user.trim() : "";
  if (!user) fail("usage: keys create --user <email or user id> [--name <label>]");
  const name = typeof flags.name === "string" ? flags.name : null;
  const key = `aib_${randomBytes(32).toString("base64url")}`;
  const hash = createHash("sha256").update(key).digest("hex");
  const now = Date.now();
  const id = uuidv7();
  d1Query(
    `insert into aibridge_users (id, created_at) values (${sqlString(user)}, ${now}) on conflict do nothing;
     insert into aibridge_api_keys (id, user_id, name, key_prefix, key_hash, created_at)
     values (${sqlString(id)}, ${sqlString(user)}, ${sqlString(name)}, ${sqlString(key.slice(0, 10))}, ${sqlString(hash)}, ${now});`,
    target,
  );
  console.log(`Created key ${id} for ${user}. It is shown once; store it now:`);
  console.log(key);
} else if (command === "list") {
  const where = typeof flags.user === "string" ? `where user_id = ${sqlString(flags.user)}` : "";
  const keys = d1Query(
    `select id, user_id, name, key_prefix, created_at, last_used_at, revoked_at from aibridge_api_keys ${where} order by created_at desc`,
    target,
  );
  if (flags.json) {
    console.log(JSON.stringify(keys, null, 2));
  } else {
    console.table(
      keys.map((k) => ({
        id: k.id,
        user: k.user_id,
        name: k.name ?? "",
        key: `${k.key_prefix}…`,
        created: formatTime(k.created_at),
        "last used": formatTime(k.last_used_at),
        revoked: formatTime(k.revoked_at),
      })),
    );
  }
} else if (command === "revoke") {
  const id = positionals[1];
  if (!id) fail("usage: keys revoke <key id>");
  const [row] = d1Query(
    `update aibridge_api_keys set revoked_at = coalesce(revoked_at, ${Date.now()}) where id = ${sqlString(id)} returning id, revoked_at`,
    target,
  );
  if (!row) fail(`No key with id ${id}.`);
  console.log(`Revoked key ${id}. Running gateways stop accepting it within 30 seconds.`);
} else {
  fail("usage: keys <create|list|revoke> … (see scripts/keys.mjs)");
}
