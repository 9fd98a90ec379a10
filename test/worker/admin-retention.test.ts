/** Retention: the scheduled handler deletes records older than RETENTION_DAYS, in bounded batches. */
import { createScheduledController, env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { writeRecords } from "../../src/recorder/store";
import { deleteOldRecords, RECORD_TABLES } from "../../src/retention";
import { DAY_MS, seedRecords } from "./admin-seed";
import { rows } from "./helpers";

async function counts(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [table] of RECORD_TABLES) {
    out[table] = (await rows<{ n: number }>(`select count(*) as n from ${table}`))[0]!.n;
  }
  return out;
}

beforeEach(async () => {
  for (const [table] of RECORD_TABLES) await env.DB.prepare(`delete from ${table}`).run();
  await writeRecords(env.DB, seedRecords());
});

describe("retention", () => {
  it("the cron handler deletes only rows older than RETENTION_DAYS (60) from every record table", async () => {
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
    await worker.scheduled(createScheduledController({ cron: "17 3 * * *" }), env);
    const after = await counts();
    expect(after).toEqual(Object.fromEntries(Object.entries(before).map(([table, n]) => [table, n - 1])));
    expect(await rows("select id from aibridge_interceptions where id = 'seed-s8'")).toEqual([]);
    expect(await rows("select id from aibridge_interceptions where id = 'seed-s7'")).toHaveLength(1);
  });

  it("deletes in batches of batchSize and stops at maxBatches, leaving the rest for the next run", async () => {
    const old = Date.now() - 100 * DAY_MS;
    const insert = env.DB.prepare(
      "insert into aibridge_tool_usages (id, interception_id, tool, input, injected, created_at) values (?, 'x', 'Old', '{}', 0, ?)",
    );
    await env.DB.batch(Array.from({ length: 7 }, (_, i) => insert.bind(`old-tool-${i}`, old + i)));

    const first = await deleteOldRecords(env.DB, 60, Date.now(), { batchSize: 3, maxBatches: 2 });
    expect(first.deleted.aibridge_tool_usages).toBe(6);
    expect(first.incomplete).toBe(true);
    const second = await deleteOldRecords(env.DB, 60, Date.now(), { batchSize: 3, maxBatches: 2 });
    expect(second.deleted.aibridge_tool_usages).toBe(1);
    expect(second.incomplete).toBe(false);
    // Recent tool rows (seeds s1–s4) are untouched.
    expect((await rows("select count(*) as n from aibridge_tool_usages"))[0]).toEqual({ n: 5 });
  });
});
