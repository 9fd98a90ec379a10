/**
 * `npm run deploy` for real against a local stand-in for the Cloudflare API (test/fakes/cloudflare-api.ts,
 * reached through CLOUDFLARE_API_BASE_URL): the first run creates the queues, the D1 database (and
 * runs its migrations), the KV namespace and the Worker with all its bindings (the dashboard is in
 * its bundle: no static assets are uploaded); the second run creates nothing and applies nothing.
 * Unset secrets are named, never valued.
 * The first key is then created with `keys --remote`, which finds the database id by name too.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeCloudflare, startFakeCloudflare } from "../fakes/cloudflare-api";
import { PROJECT_ROOT } from "./wrangler-dev";

const run = promisify(execFile);
/** One deploy is seven wrangler runs (~5 s each, far more on a loaded machine). */
const DEPLOY_TIMEOUT = 300_000;
let cf: FakeCloudflare;

beforeAll(async () => {
  cf = await startFakeCloudflare();
});
afterAll(async () => {
  await cf?.stop();
});

/** wrangler pointed at the stand-in (an API token and account id, so no login is looked for). */
function deployEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    CLOUDFLARE_API_BASE_URL: cf.url,
    CLOUDFLARE_API_TOKEN: "fake-token-for-the-local-stand-in",
    CLOUDFLARE_ACCOUNT_ID: cf.accountId,
    NO_COLOR: "1",
  };
}

async function deploy(timeout = 280_000): Promise<string> {
  const { stdout, stderr } = await run("npm", ["run", "-s", "deploy"], {
    cwd: PROJECT_ROOT,
    env: { ...deployEnv(), CI: "true" },
    timeout,
    maxBuffer: 16 * 1024 * 1024,
  }).catch((error: { stdout?: string; stderr?: string; message: string }) => {
    throw new Error(
      `${error.message}\n${error.stdout}\n${error.stderr}\nunknown calls: ${cf.unknown.join(", ")}`,
    );
  });
  return `${stdout}\n${stderr}`;
}

/** Worker uploads: the first creates the script, later ones add a version. */
function uploads(): number {
  return cf.requests.filter(
    (r) =>
      (r.method === "PUT" && r.path.endsWith("/scripts/aibridge-worker")) ||
      (r.method === "POST" && r.path.endsWith("/scripts/aibridge-worker/versions")),
  ).length;
}

/** Every queue wrangler.toml names (producers, consumers, dead-letter queues). */
const QUEUES = [
  ...new Set(
    [
      ...readFileSync(join(PROJECT_ROOT, "wrangler.toml"), "utf8").matchAll(
        /^(?:dead_letter_queue|queue) = "([^"]+)"/gm,
      ),
    ].map((m) => m[1]!),
  ),
];

const MIGRATIONS = readdirSync(join(PROJECT_ROOT, "migrations")).filter((f) => f.endsWith(".sql"));

describe("npm run deploy", () => {
  let first = "";

  it(
    "first run: creates queues, D1 (migrated), KV and the Worker with every binding",
    async () => {
      first = await deploy();
      expect(cf.unknown).toEqual([]);
      expect([...cf.created].sort()).toEqual(
        [
          ...QUEUES.map((queue) => `queue:${queue}`),
          "d1:aibridge",
          "kv:aibridge-worker-kv",
          "r2:aibridge-content",
          "script:aibridge-worker",
        ].sort(),
      );

      const db = cf.state.databases.get("aibridge")!;
      const kv = cf.state.kvNamespaces.get("aibridge-worker-kv")!;
      // Every migration file's statements reached the remote database.
      for (const file of MIGRATIONS) {
        const firstStatement = readFileSync(join(PROJECT_ROOT, "migrations", file), "utf8")
          .split(";")[0]!
          .trim();
        expect(db.queries.join("\n"), file).toContain(firstStatement);
      }

      const { metadata } = cf.state.scripts.get("aibridge-worker")!;
      const binding = (name: string) => metadata.bindings.find((b) => b.name === name);
      expect(binding("DB")).toMatchObject({ type: "d1", id: db.uuid });
      expect(binding("KV")).toMatchObject({ type: "kv_namespace", namespace_id: kv.id });
      expect(binding("CONTENT")).toMatchObject({ type: "r2_bucket", bucket_name: "aibridge-content" });
      expect(binding("RECORDS")).toMatchObject({ type: "queue", queue_name: "aibridge-records" });
      expect(binding("METRICS")).toMatchObject({ type: "analytics_engine", dataset: "aibridge_metrics" });
      // No Workers Static Assets: they would put an asset router in front of every request.
      expect(metadata.bindings.filter((b) => b.type === "assets")).toEqual([]);
      expect(binding("BYOK")).toMatchObject({ type: "plain_text", text: "true" });
      // The per-user limits Durable Object, with its SQLite migration applied on this first upload.
      expect(binding("LIMITER")).toMatchObject({
        type: "durable_object_namespace",
        class_name: "UserLimiter",
      });
      expect(cf.state.scripts.get("aibridge-worker")?.migrationTag).toBe("v1-limits");
      expect(metadata.assets).toBeUndefined();
      expect(cf.state.schedules.get("aibridge-worker")).toEqual(["17 3 * * *"]);

      // Secrets are named (all unset here) with the command to set them; the URL and next steps follow.
      for (const name of ["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "ADMIN_TOKEN"]) {
        expect(first).toContain(`${name}: NOT SET`);
        expect(first).toContain(`npx wrangler secret put ${name}`);
      }
      expect(first).toContain("https://aibridge-worker.aibridge-test.workers.dev");
      expect(first).toContain("npm run -s keys -- create --user you@example.com --remote");
    },
    DEPLOY_TIMEOUT,
  );

  it(
    "second run: creates nothing, applies no migration, re-uploads the Worker",
    async () => {
      const createdBefore = [...cf.created];
      const queriesBefore = cf.state.databases.get("aibridge")!.queries.length;
      cf.state.secrets.set("aibridge-worker", new Set(["ADMIN_TOKEN"]));
      const uploadsBefore = uploads();

      const second = await deploy();
      expect(cf.unknown).toEqual([]);
      expect(cf.created).toEqual(createdBefore);
      expect(second).toContain("No migrations to apply");
      // Only wrangler's read of the migrations table ran, no migration statement.
      const newQueries = cf.state.databases.get("aibridge")!.queries.slice(queriesBefore);
      expect(newQueries.join("\n")).not.toMatch(/create table [`"]?aibridge_/i);
      expect(uploads()).toBe(uploadsBefore + 1);
      // The new version kept every binding (inherited from the first upload).
      const names = cf.state.scripts
        .get("aibridge-worker")!
        .metadata.bindings.map((b) => `${b.name}:${b.type}`);
      expect(names).toEqual(expect.arrayContaining(["DB:d1", "KV:kv_namespace", "RECORDS:queue"]));
      expect(second).toContain("ADMIN_TOKEN: set");
      expect(second).not.toContain("npx wrangler secret put ADMIN_TOKEN");
      expect(second).toContain("ANTHROPIC_API_KEY: NOT SET");
    },
    DEPLOY_TIMEOUT,
  );

  it(
    "an upgrade that re-keys the usage rollups rebuilds them from the raw rows, after the new Worker is live",
    async () => {
      const db = cf.state.databases.get("aibridge")!;
      // The database as a deployment from before the provider instance was a rollup key left it.
      const migrations = db.tables.get("d1_migrations") as { name: string }[];
      const upgrade = migrations.filter((m) => /rollup_instance/.test(m.name));
      expect(upgrade.map((m) => m.name)).toEqual([
        "0009_rollup_instance_columns.sql",
        "0010_rollup_instance_key.sql",
      ]);
      db.tables.set(
        "d1_migrations",
        migrations.filter((m) => !upgrade.includes(m)),
      );
      const queriesBefore = db.queries.length;
      const requestsBefore = cf.requests.length;

      const output = await deploy(2 * DEPLOY_TIMEOUT - 20_000);
      expect(cf.unknown).toEqual([]);
      expect(output).toContain("Usage rollups from the existing rows");
      const sql = db.queries.slice(queriesBefore).join("\n");
      expect(sql).toContain("CREATE TABLE `__new_aibridge_usage_rollups`");
      // Every day of the usage retention (400 days in wrangler.toml) is recomputed, today included.
      const today = Math.floor(Date.now() / 86_400_000) * 86_400_000;
      const rebuilt = [
        ...sql.matchAll(/delete from aibridge_usage_rollups where bucket >= (\d+) and bucket < (\d+)/g),
      ];
      expect(rebuilt).toHaveLength(401);
      expect(Number(rebuilt[0]![1])).toBe(today - 400 * 86_400_000);
      expect(Number(rebuilt.at(-1)![2])).toBe(today + 86_400_000);
      // The rebuild's D1 calls come after the Worker's upload (the old Worker cannot write the new key).
      const calls = cf.requests.slice(requestsBefore);
      const upload = calls.findIndex(
        (r) => r.method === "POST" && r.path.endsWith("/scripts/aibridge-worker/versions"),
      );
      const d1Calls = calls
        .map((r, index) =>
          r.method === "POST" && /\/d1\/database\/[^/]+\/(query|raw)$/.test(r.path) ? index : -1,
        )
        .filter((index) => index >= 0);
      expect(upload).toBeGreaterThan(0);
      expect(d1Calls.filter((index) => index > upload).length).toBeGreaterThanOrEqual(20);
      expect(output).toMatch(/Rebuilt 401 days/);
    },
    DEPLOY_TIMEOUT * 2,
  );

  it("the printed next step works: keys create --remote writes the hashed key to the remote D1", async () => {
    const db = cf.state.databases.get("aibridge")!;
    const before = db.queries.length;
    const { stdout } = await run(
      process.execPath,
      ["scripts/keys.mjs", "create", "--user", "first@example.com", "--remote"],
      { cwd: PROJECT_ROOT, env: { ...deployEnv(), CI: "true" }, timeout: 60_000 },
    );
    const key = stdout.trim().split("\n").at(-1)!;
    expect(key).toMatch(/^aib_[A-Za-z0-9_-]{43}$/);
    const sql = db.queries.slice(before).join("\n");
    expect(sql).toContain("insert into aibridge_api_keys");
    expect(sql).toContain(createHash("sha256").update(key).digest("hex"));
    expect(sql).not.toContain(key);
    expect(cf.unknown).toEqual([]);
  });
});
