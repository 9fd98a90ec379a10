/**
 * Retention: the scheduled handler deletes raw content older than CONTENT_RETENTION_DAYS and usage
 * (interceptions, token rows, day rollups) older than USAGE_RETENTION_DAYS, in bounded batches.
 */
import { createScheduledController, env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { type Env, parseConfig } from "../../src/config";
import worker from "../../src/index";
import { writeRecords } from "../../src/recorder/store";
import { deleteOldRecords, RECORD_TABLES } from "../../src/retention";
import { DAY_MS, SEEDS, seedRecords, seedTime } from "./admin-seed";
import { admin, rows } from "./helpers";

async function counts(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [table] of RECORD_TABLES) {
    out[table] = (await rows<{ n: number }>(`select count(*) as n from ${table}`))[0]!.n;
  }
  return out;
}

const s8 = SEEDS.find((seed) => seed.id === "seed-s8")!;

beforeEach(async () => {
  for (const [table] of RECORD_TABLES) await env.DB.prepare(`delete from ${table}`).run();
  await writeRecords(env.DB, seedRecords());
});

describe("retention", () => {
  it("deletes only rows older than the horizons (60 days here) from every record table", async () => {
    // seed-s8 (90 days old) has an interception, a usage and a prompt; give the other tables one
    // row 61 days old and one 59 days old each, so every table has rows on both sides of the cutoff.
    const old = Date.now() - 61 * DAY_MS;
    const recent = Date.now() - 59 * DAY_MS;
    for (const [suffix, at] of [
      ["old", old],
      ["recent", recent],
    ] as const) {
      await env.DB.batch([
        env.DB.prepare(
          "insert into aibridge_tool_usages (id, interception_id, tool, input, injected, created_at) values (?, 'x', 'T', '{}', 0, ?)",
        ).bind(`tool-${suffix}`, at),
        env.DB.prepare(
          "insert into aibridge_model_thoughts (id, interception_id, content, source, created_at) values (?, 'x', 'hm', 'thinking', ?)",
        ).bind(`thought-${suffix}`, at),
        env.DB.prepare(
          "insert into aibridge_dead_letters (id, kind, body, attempts, received_at) values (?, 'prompt', '{}', 6, ?)",
        ).bind(`dead-${suffix}`, at),
        env.DB.prepare(
          "insert into aibridge_record_parts (id, record_id, field, seq, content, created_at) values (?, 'r', 'prompt', 1, 'rest', ?)",
        ).bind(`part-${suffix}`, at),
        env.DB.prepare(
          "insert into aibridge_cache_fingerprints (interception_id, initiator_id, client, model, api, started_at, layout, breakpoints, anchors, chain, segments, default_ttl_seconds) values (?, 'u', 'c', 'm', 'messages', ?, 'messages[1]', '[]', 'a', 'AAAA', 1, 300)",
        ).bind(`fingerprint-${suffix}`, at),
      ]);
    }
    const before = await counts();
    // Every record table has an old row, so the check below covers each of them (a new table
    // fails here until the test seeds it).
    for (const [table, column] of RECORD_TABLES) {
      const [{ n }] = (await rows<{ n: number }>(
        `select count(*) as n from ${table} where ${column} < ?`,
        Date.now() - 60 * DAY_MS,
      )) as [{ n: number }];
      expect(n, table).toBe(1);
    }
    // …and RECORD_TABLES is every table D1 has, but the users, keys and limits (configuration, not records).
    const all = await rows<{ name: string }>(
      "select name from sqlite_master where type = 'table' and name like 'aibridge_%' order by name",
    );
    expect(all.map((t) => t.name)).toEqual(
      [
        ...RECORD_TABLES.map(([table]) => table),
        "aibridge_api_keys",
        "aibridge_limits",
        "aibridge_users",
      ].sort(),
    );
    await deleteOldRecords(env.DB, { contentDays: 60, usageDays: 60 });
    const after = await counts();
    expect(after).toEqual(Object.fromEntries(Object.entries(before).map(([table, n]) => [table, n - 1])));
  });

  it("the cron (CONTENT_RETENTION_DAYS=30, USAGE_RETENTION_DAYS=400) deletes old content and keeps usage and rollups", async () => {
    const before = await counts();
    await worker.scheduled(createScheduledController({ cron: "17 3 * * *" }), env);
    const after = await counts();
    // Only seed-s8 (90 days old) has content past 30 days: its prompt goes (it has no tools).
    expect(after).toEqual({ ...before, aibridge_user_prompts: before.aibridge_user_prompts! - 1 });
    expect(await rows("select id from aibridge_user_prompts where interception_id = 'seed-s8'")).toEqual([]);
    expect(await rows("select id from aibridge_token_usages where interception_id = 'seed-s8'")).toHaveLength(
      1,
    );
    // Its usage is still answered, from the rollups.
    const day = new Date(seedTime(s8)).toISOString().slice(0, 10);
    const usage = await (await admin(`/usage?group_by=user&from=${day}&to=${day}`)).json<{
      totals: { requests: number; cost_micros: number };
    }>();
    expect(usage.totals).toMatchObject({ requests: 1, cost_micros: 18000 });
  });

  it("usage older than usageDays goes with its day rollups; hour rollups go after the hourly window", async () => {
    // An hour row 40 days old (past HOURLY_ROLLUP_DAYS=35 + 1) and one 2 days old.
    const insertHour = env.DB.prepare(
      "insert into aibridge_usage_rollups (span, bucket, initiator_id, provider, model, client, requests) values ('hour', ?, 'x', 'p', 'm', 'c', 1)",
    );
    const hour = (daysAgo: number) => Math.floor((Date.now() - daysAgo * DAY_MS) / 3_600_000) * 3_600_000;
    await env.DB.batch([insertHour.bind(hour(40)), insertHour.bind(hour(2))]);
    const before = await counts();

    const result = await deleteOldRecords(env.DB, { contentDays: 60, usageDays: 60 });
    expect(result.deleted).toMatchObject({
      aibridge_interceptions: 1,
      aibridge_token_usages: 1,
      aibridge_user_prompts: 1,
      // s8's day row, and the 40-day-old hour row.
      aibridge_usage_rollups: 2,
    });
    expect(await counts()).toMatchObject({ aibridge_usage_rollups: before.aibridge_usage_rollups! - 2 });
    expect(await rows("select id from aibridge_interceptions where id = 'seed-s8'")).toEqual([]);
    expect(await rows("select id from aibridge_interceptions where id = 'seed-s7'")).toHaveLength(1);
    expect(
      await rows("select bucket from aibridge_usage_rollups where span = 'hour' and initiator_id = 'x'"),
    ).toEqual([{ bucket: hour(2) }]);
  });

  it("keeps day rollups longer than the raw usage rows with rollupDays", async () => {
    const result = await deleteOldRecords(env.DB, { contentDays: 30, usageDays: 60, rollupDays: 400 });
    expect(result.deleted).toMatchObject({
      aibridge_interceptions: 1,
      aibridge_token_usages: 1,
      aibridge_usage_rollups: 0,
    });
    const day = new Date(seedTime(s8)).toISOString().slice(0, 10);
    const usage = await (await admin(`/usage?group_by=user&from=${day}&to=${day}`)).json<{
      totals: { requests: number; cost_micros: number };
    }>();
    expect(usage.totals).toMatchObject({ requests: 1, cost_micros: 18000 });
  });

  it("deletes in batches of batchSize and stops at maxBatches, leaving the rest for the next run", async () => {
    const old = Date.now() - 100 * DAY_MS;
    const insert = env.DB.prepare(
      "insert into aibridge_tool_usages (id, interception_id, tool, input, injected, created_at) values (?, 'x', 'Old', '{}', 0, ?)",
    );
    await env.DB.batch(Array.from({ length: 7 }, (_, i) => insert.bind(`old-tool-${i}`, old + i)));

    const retention = { contentDays: 60, usageDays: 400 };
    const first = await deleteOldRecords(env.DB, retention, Date.now(), { batchSize: 3, maxBatches: 2 });
    expect(first.deleted.aibridge_tool_usages).toBe(6);
    expect(first.incomplete).toBe(true);
    const second = await deleteOldRecords(env.DB, retention, Date.now(), { batchSize: 3, maxBatches: 2 });
    expect(second.deleted.aibridge_tool_usages).toBe(1);
    expect(second.incomplete).toBe(false);
    // Recent tool rows (seeds s1–s4) are untouched.
    expect((await rows("select count(*) as n from aibridge_tool_usages"))[0]).toEqual({ n: 5 });
  });

  it("RETENTION_DAYS (earlier versions' single knob) still sets both horizons unless they are set", () => {
    const base = { ADMIN_TOKEN: "admin-test-token-0123456789abcdef" } as Env;
    expect(parseConfig(base)).toMatchObject({
      contentRetentionDays: 30,
      usageRetentionDays: 400,
      rollupRetentionDays: 400,
    });
    expect(parseConfig({ ...base, USAGE_RETENTION_DAYS: "7" })).toMatchObject({ rollupRetentionDays: 7 });
    expect(parseConfig({ ...base, USAGE_RETENTION_DAYS: "7", ROLLUP_RETENTION_DAYS: "400" })).toMatchObject({
      usageRetentionDays: 7,
      rollupRetentionDays: 400,
    });
    expect(parseConfig({ ...base, RETENTION_DAYS: "60" })).toMatchObject({
      contentRetentionDays: 60,
      usageRetentionDays: 60,
    });
    expect(
      parseConfig({
        ...base,
        RETENTION_DAYS: "60",
        CONTENT_RETENTION_DAYS: "7",
        USAGE_RETENTION_DAYS: "365",
      }),
    ).toMatchObject({ contentRetentionDays: 7, usageRetentionDays: 365 });
    expect(() => parseConfig({ ...base, CONTENT_RETENTION_DAYS: "0" })).toThrow(/CONTENT_RETENTION_DAYS/);
  });
});
