/**
 * Usage rollups (src/recorder/rollups.ts) against the raw aggregation they replace: random record
 * streams written by the real D1 writer, shuffled (ends before starts, usage before its
 * interception) and delivered twice, concurrently and through the real queue; the rebuild; and the
 * seeded data's answers before and after the switch.
 */
import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { queryUsage } from "../../src/admin/usage";
import type { RecordMessage } from "../../src/recorder/records";
import { DAY_MS, HOUR_MS, planBuckets, rebuildRollups } from "../../src/recorder/rollups";
import { writeRecords } from "../../src/recorder/store";
import { RECORD_TABLES } from "../../src/retention";
import { seedRecords } from "./admin-seed";
import { eventually, rows } from "./helpers";
import { random, shuffle } from "./seeded";

type Dimension = "user" | "model" | "client" | "day" | "instance";
const GROUPINGS: Dimension[][] = [
  ["user"],
  ["model"],
  ["client"],
  ["day"],
  ["instance"],
  ["day", "user"],
  ["model", "client"],
  ["day", "instance"],
  ["instance", "user"],
];

/**
 * The raw aggregation usage answers used before rollups (the query /admin/v1/usage ran until
 * then), kept here as the reference the rollups must equal.
 */
async function rawUsage(groupBy: Dimension[], from: number, to: number, user: string | null = null) {
  const dims: Record<Dimension, string> = {
    user: "i.initiator_id",
    model: "i.model",
    client: "i.client",
    day: "strftime('%Y-%m-%d', i.started_at / 1000, 'unixepoch')",
    // The instance that answered (a fallback counts as itself), else the one addressed, else the API family.
    instance: "coalesce(i.upstream_instance, i.instance, i.provider)",
  };
  const { results } = await env.DB.prepare(
    `select ${groupBy.map((d) => `${dims[d]} as ${d}`).join(", ")},
      count(distinct i.id) as requests,
      coalesce(sum(t.input_tokens), 0) as input_tokens,
      coalesce(sum(t.output_tokens), 0) as output_tokens,
      coalesce(sum(t.cache_read_input_tokens), 0) as cache_read_tokens,
      coalesce(sum(t.cache_write_input_tokens), 0) as cache_write_tokens,
      coalesce(sum(json_extract(t.extra_token_types, '$.cache_write_5m')), 0) as cache_write_5m_tokens,
      coalesce(sum(json_extract(t.extra_token_types, '$.cache_write_1h')), 0) as cache_write_1h_tokens,
      coalesce(sum(json_extract(t.extra_token_types, '$.reasoning')), 0) as reasoning_tokens,
      case when count(t.id) > 0 and count(t.cost_micros) = 0 then null
           else coalesce(sum(t.cost_micros), 0) end as cost_micros,
      count(t.id) - count(t.cost_micros) as unpriced_usages,
      count(distinct case when t.estimated = 1 then i.id end) as estimated_requests,
      coalesce(sum(t.estimated), 0) as estimated_usages,
      max(i.started_at) as last_seen
    from aibridge_interceptions i
    left join aibridge_token_usages t on t.interception_id = i.id
    where i.started_at >= ?1 and i.started_at < ?2 and (?3 is null or i.initiator_id = ?3)
    group by ${groupBy.map((d) => dims[d]).join(", ")}
    order by ${groupBy.join(", ")}`,
  )
    .bind(from, to, user)
    .all<Record<string, unknown>>();
  return results.map((row) => ({ ...row, last_seen: new Date(row.last_seen as number).toISOString() }));
}

/** The rollup answer without the derived columns (the raw query does not compute them). */
async function rolledUsage(groupBy: Dimension[], from: number, to: number, user: string | null = null) {
  const { rows: answer, range } = await queryUsage(env.DB, groupBy, { from, to, user, model: null });
  const reduced = answer.map(({ total_tokens: _t, cost_usd: _c, cache_hit_ratio: _r, ...rest }) => rest);
  return { rows: reduced, range };
}

/** Every answer the rollups give equals the raw aggregation over the same (resolved) range. */
async function expectRollupsEqualRaw(ranges: [number, number][]) {
  for (const [from, to] of ranges) {
    for (const groupBy of GROUPINGS) {
      const rolled = await rolledUsage(groupBy, from, to);
      const raw = await rawUsage(groupBy, rolled.range.from, rolled.range.to);
      expect(rolled.rows, `${groupBy} ${new Date(from).toISOString()}`).toEqual(raw);
    }
  }
  const user = await rolledUsage(["model"], ranges[0]![0], ranges[0]![1], "user-1");
  expect(user.rows).toEqual(await rawUsage(["model"], user.range.from, user.range.to, "user-1"));
  const byInstance = await rolledUsage(["instance"], ranges[0]![0], ranges[0]![1], "user-2");
  expect(byInstance.rows).toEqual(
    await rawUsage(["instance"], byInstance.range.from, byInstance.range.to, "user-2"),
  );
}

/**
 * Interceptions over the last 50 days (some older than the hourly window), each with a start and
 * an end record (some only one of them), 0–3 usage records (some unpriced, some with extra token
 * types) and a prompt; a few usage records whose interception never arrives. Each addresses a
 * provider instance (some none: records from before instances), and its end record says which
 * answered: the same one, a fallback (the rollup key changes after the start may have been
 * folded), or none.
 */
function randomStream(seed: number, count: number, now: number): RecordMessage[] {
  const rand = random(seed);
  const pick = <T>(items: T[]): T => items[Math.floor(rand() * items.length)]!;
  const records: RecordMessage[] = [];
  for (let n = 0; n < count; n++) {
    const id = `r${seed}-${n}`;
    const startedAt = now - Math.floor(rand() * 50 * DAY_MS);
    const provider = pick(["anthropic", "openai"]);
    const instance = pick([provider, provider, `${provider}-eu`, undefined]);
    const answered = rand();
    const upstreamInstance =
      answered < 0.6 ? (instance ?? provider) : answered < 0.85 ? `${provider}-backup` : null;
    const info = {
      id,
      initiatorId: pick(["user-1", "user-2", "user-3", "o'brien@example.com"]),
      apiKeyId: null,
      provider,
      providerName: provider === "anthropic" ? "messages" : "responses",
      ...(instance === undefined ? {} : { instance }),
      model: pick(["claude-sonnet-4-5", "claude-haiku-4-5", "gpt-5", "local-llama"]),
      client: pick(["claude-code", "codex", "unknown"]),
      userAgent: null,
      clientSessionId: null,
      correlatingToolCallId: null,
      credentialKind: "centralized" as const,
      credentialHint: null,
      streaming: true,
      startedAt,
      metadata: null,
    };
    const which = rand();
    if (which < 0.9) records.push({ kind: "interception_started", ...info });
    if (which > 0.1) {
      records.push({
        kind: "interception_ended",
        ...info,
        endedAt: startedAt + 5000,
        status: pick(["completed", "failed"]),
        stopReason: null,
        errorType: null,
        errorMessage: null,
        ...(instance === undefined
          ? {}
          : { upstreamInstance, fallback: upstreamInstance?.endsWith("-backup") }),
      });
    }
    const usages = Math.floor(rand() * 4);
    for (let u = 0; u < usages; u++) {
      const extra =
        rand() < 0.5
          ? { cache_write_5m: Math.floor(rand() * 100), reasoning: Math.floor(rand() * 50) }
          : null;
      records.push({
        kind: "token_usage",
        id: `${id}-u${u}`,
        interceptionId: rand() < 0.03 ? `${id}-never-arrives` : id,
        providerResponseId: null,
        inputTokens: Math.floor(rand() * 5000),
        outputTokens: Math.floor(rand() * 2000),
        cacheReadInputTokens: Math.floor(rand() * 50_000),
        cacheWriteInputTokens: Math.floor(rand() * 3000),
        extraTokenTypes: extra,
        rawUsage: {},
        costMicros: rand() < 0.2 ? null : Math.floor(rand() * 100_000),
        createdAt: startedAt + 1000 + u,
        // Some counts are estimates (issue 13): estimated requests count once per interception.
        estimateMethod: rand() < 0.25 ? "ratio" : null,
      });
    }
    records.push({
      kind: "prompt",
      id: `${id}-p`,
      interceptionId: id,
      providerResponseId: null,
      prompt: "hello",
      createdAt: startedAt + 1,
    });
  }
  return records;
}

/** Cuts records into batches of 1–100, like the queue does. */
function batches<T>(items: T[], rand: () => number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; ) {
    const size = 1 + Math.floor(rand() * 100);
    out.push(items.slice(i, i + size));
    i += size;
  }
  return out;
}

const NOW = Date.now();
/** Whole days, whole hours, a range inside one day, the default 30 days, and open-ended. */
const RANGES: [number, number][] = [
  [NOW - 60 * DAY_MS, NOW + DAY_MS],
  [Math.floor(NOW / DAY_MS) * DAY_MS - 20 * DAY_MS, Math.floor(NOW / DAY_MS) * DAY_MS - 3 * DAY_MS],
  [NOW - 30 * DAY_MS, 8_640_000_000_000_000],
  [NOW - 7 * DAY_MS - 5 * HOUR_MS - 1234, NOW - 2 * DAY_MS + 7 * HOUR_MS + 99],
  [NOW - 4 * DAY_MS - 3 * HOUR_MS, NOW - 4 * DAY_MS + 2 * HOUR_MS],
  [NOW - 45 * DAY_MS - 3 * HOUR_MS, NOW - 40 * DAY_MS + 2 * HOUR_MS],
];

beforeEach(async () => {
  for (const [table] of RECORD_TABLES) await env.DB.prepare(`delete from ${table}`).run();
});

describe("usage rollups", () => {
  it("equal the raw aggregation for random streams delivered out of order, twice, in concurrent batches", async () => {
    for (const seed of [1, 2, 3]) {
      for (const [table] of RECORD_TABLES) await env.DB.prepare(`delete from ${table}`).run();
      const rand = random(seed * 7919);
      const stream = randomStream(seed, 150, NOW);
      // Every record twice, in a random order, in random batches, four batches in flight at once.
      const deliveries = batches(shuffle([...stream, ...stream], rand), rand);
      for (let i = 0; i < deliveries.length; i += 4) {
        await Promise.all(deliveries.slice(i, i + 4).map((batch) => writeRecords(env.DB, batch)));
      }
      await expectRollupsEqualRaw(RANGES);
      // Usage rows whose interception never arrived wait, uncounted, for it.
      const pending = await rows<{ n: number }>(
        "select count(*) as n from aibridge_token_usages where rolled_up = 0",
      );
      const orphans = stream.filter(
        (r) => r.kind === "token_usage" && r.interceptionId.endsWith("never-arrives"),
      );
      expect(pending[0]!.n).toBe(orphans.length);
    }
  });

  it("fold a usage row in when its interception arrives later, in another batch", async () => {
    const stream = randomStream(9, 40, NOW);
    const starts = new Map(stream.flatMap((r) => (r.kind === "interception_started" ? [[r.id, r]] : [])));
    const usage = stream.find((r) => r.kind === "token_usage" && starts.has(r.interceptionId));
    if (usage?.kind !== "token_usage") throw new Error("the stream has usage");
    const start = starts.get(usage.interceptionId)!;
    await writeRecords(env.DB, [usage]);
    expect(await rows("select * from aibridge_usage_rollups")).toEqual([]);
    await writeRecords(env.DB, [start]);
    await writeRecords(env.DB, [usage, start]);
    const [day] = await rows(
      "select usages, requests, input_tokens from aibridge_usage_rollups where span = 'day'",
    );
    expect(day).toEqual({ usages: 1, requests: 1, input_tokens: usage.inputTokens });
  });

  it("move a request to the fallback instance that answered when its end arrives after its start was folded", async () => {
    const at = Math.floor(NOW / HOUR_MS) * HOUR_MS - 2 * HOUR_MS;
    const info = (id: string, startedAt: number) => ({
      id,
      initiatorId: "user-1",
      apiKeyId: null,
      provider: "anthropic",
      providerName: "messages",
      instance: "anthropic-eu",
      model: "claude-sonnet-4-5",
      client: "claude-code",
      userAgent: null,
      clientSessionId: null,
      correlatingToolCallId: null,
      credentialKind: "centralized" as const,
      credentialHint: null,
      streaming: true,
      startedAt,
      metadata: null,
    });
    const usage = (id: string, interceptionId: string, costMicros: number): RecordMessage => ({
      kind: "token_usage",
      id,
      interceptionId,
      providerResponseId: null,
      inputTokens: 100,
      outputTokens: 10,
      cacheReadInputTokens: 0,
      cacheWriteInputTokens: 0,
      extraTokenTypes: null,
      rawUsage: {},
      costMicros,
      estimateMethod: "ratio",
      createdAt: at + 60_000,
    });
    const ended = (id: string, startedAt: number, upstreamInstance: string): RecordMessage => ({
      kind: "interception_ended",
      ...info(id, startedAt),
      endedAt: startedAt + 5000,
      status: "completed",
      stopReason: null,
      errorType: null,
      errorMessage: null,
      upstreamInstance,
      fallback: upstreamInstance !== "anthropic-eu",
    });
    // Two requests to anthropic-eu; the later one's start and a usage row are folded first.
    await writeRecords(env.DB, [
      { kind: "interception_started", ...info("early", at) },
      ended("early", at, "anthropic-eu"),
      usage("early-u", "early", 1000),
    ]);
    await writeRecords(env.DB, [
      { kind: "interception_started", ...info("late", at + 1000) },
      usage("late-u", "late", 5000),
    ]);
    const byInstance = () =>
      rows(
        "select span, instance, requests, usages, usage_requests, estimated_requests, cost_micros, last_seen from aibridge_usage_rollups order by span, instance",
      );
    expect((await byInstance()).filter((r) => r.span === "day")).toEqual([
      {
        span: "day",
        instance: "anthropic-eu",
        requests: 2,
        usages: 2,
        usage_requests: 2,
        estimated_requests: 2,
        cost_micros: 6000,
        last_seen: at + 1000,
      },
    ]);
    // Its end says the fallback answered: request and usage move, the old row's last_seen goes back.
    await writeRecords(env.DB, [ended("late", at + 1000, "anthropic-backup")]);
    const moved = await byInstance();
    for (const span of ["day", "hour"]) {
      expect(moved.filter((r) => r.span === span)).toEqual([
        {
          span,
          instance: "anthropic-backup",
          requests: 1,
          usages: 1,
          usage_requests: 1,
          estimated_requests: 1,
          cost_micros: 5000,
          last_seen: at + 1000,
        },
        {
          span,
          instance: "anthropic-eu",
          requests: 1,
          usages: 1,
          usage_requests: 1,
          estimated_requests: 1,
          cost_micros: 1000,
          last_seen: at,
        },
      ]);
    }
    // Redelivered, in any order, nothing moves or counts again; the early one moving empties its row.
    await writeRecords(env.DB, [ended("late", at + 1000, "anthropic-backup"), usage("late-u", "late", 5000)]);
    await writeRecords(env.DB, [{ kind: "interception_started", ...info("late", at + 1000) }]);
    expect(await byInstance()).toEqual(moved);
    await writeRecords(env.DB, [ended("early", at, "anthropic-backup")]);
    const all = await byInstance();
    expect(all.map((r) => [r.span, r.instance, r.requests, r.cost_micros, r.last_seen])).toEqual([
      ["day", "anthropic-backup", 2, 6000, at + 1000],
      ["hour", "anthropic-backup", 2, 6000, at + 1000],
    ]);
    await expectRollupsEqualRaw([[NOW - DAY_MS, NOW + DAY_MS]]);
  });

  it("stay exact through the real queue and consumer with every record sent twice", async () => {
    const stream = randomStream(4, 60, NOW);
    const rand = random(4);
    for (const batch of batches(shuffle([...stream, ...stream], rand), rand)) {
      await env.RECORDS.sendBatch(batch.map((body) => ({ body })));
    }
    const tokenIds = new Set(stream.filter((r) => r.kind === "token_usage").map((r) => r.id));
    await eventually(async () => {
      const [written] = await rows<{ n: number }>("select count(*) as n from aibridge_token_usages");
      expect(written!.n).toBe(tokenIds.size);
      const [prompts] = await rows<{ n: number }>("select count(*) as n from aibridge_user_prompts");
      expect(prompts!.n).toBe(60);
    }, 20_000);
    await expectRollupsEqualRaw(RANGES.slice(0, 3));
  });

  it("are rebuilt from the raw rows, day by day, to the same numbers", async () => {
    const stream = randomStream(5, 150, NOW);
    await writeRecords(env.DB, stream);
    const before = await rows(
      "select * from aibridge_usage_rollups order by span, bucket, initiator_id, model, client, instance",
    );
    // Lose or corrupt them: the rebuild recomputes every day of the range from the raw rows.
    await env.DB.prepare("update aibridge_usage_rollups set requests = requests + 5, cost_micros = 0").run();
    await env.DB.prepare("delete from aibridge_usage_rollups where rowid % 3 = 0").run();
    const result = await rebuildRollups(env.DB, NOW - 60 * DAY_MS, NOW + DAY_MS);
    expect(result.days).toBe(61);
    const after = await rows(
      "select * from aibridge_usage_rollups order by span, bucket, initiator_id, model, client, instance",
    );
    expect(after).toEqual(before);
    // Records delivered again after the rebuild still count once.
    await writeRecords(env.DB, stream);
    expect(
      await rows(
        "select * from aibridge_usage_rollups order by span, bucket, initiator_id, model, client, instance",
      ),
    ).toEqual(before);
    await expectRollupsEqualRaw(RANGES.slice(0, 2));
  });

  it("give the seeded data's usage answers exactly as the raw aggregation did", async () => {
    await writeRecords(env.DB, seedRecords(NOW));
    const today = Math.floor(NOW / DAY_MS) * DAY_MS;
    await expectRollupsEqualRaw([
      [NOW - 7 * DAY_MS, 8_640_000_000_000_000],
      [NOW - 30 * DAY_MS, 8_640_000_000_000_000],
      [today - DAY_MS, today],
      [today - 100 * DAY_MS, today + DAY_MS],
    ]);
    // The ranges the admin tests ask for are answered over the range asked (hour-aligned) or one
    // widened to whole hours; seeded rows sit away from those edges, so the numbers do not move.
    const { rows: sevenDays } = await queryUsage(env.DB, ["user"], {
      from: NOW - 7 * DAY_MS,
      to: 8_640_000_000_000_000,
      user: null,
      model: null,
    });
    expect(sevenDays).toEqual(
      (await rawUsage(["user"], NOW - 7 * DAY_MS, 8_640_000_000_000_000)).map((row) =>
        expect.objectContaining(row),
      ),
    );
  });
});

describe("planBuckets", () => {
  it("answers whole hours at the edges and whole days between; older edges resolve to days", () => {
    const now = Date.UTC(2026, 5, 15, 12, 30);
    const plan = planBuckets(Date.UTC(2026, 5, 10, 7, 15), Date.UTC(2026, 5, 13, 9, 1), now);
    expect(plan).toEqual({
      from: Date.UTC(2026, 5, 10, 7),
      to: Date.UTC(2026, 5, 13, 10),
      hoursBefore: [Date.UTC(2026, 5, 10, 7), Date.UTC(2026, 5, 11)],
      days: [Date.UTC(2026, 5, 11), Date.UTC(2026, 5, 13)],
      hoursAfter: [Date.UTC(2026, 5, 13), Date.UTC(2026, 5, 13, 10)],
    });
    const inOneDay = planBuckets(Date.UTC(2026, 5, 14, 3), Date.UTC(2026, 5, 14, 5, 30), now);
    expect(inOneDay.hoursBefore).toEqual([Date.UTC(2026, 5, 14, 3), Date.UTC(2026, 5, 14, 6)]);
    expect(inOneDay.days).toEqual([0, 0]);
    // 100 days back is past the hourly window (35 days): that edge is its whole day.
    const old = planBuckets(Date.UTC(2026, 2, 7, 13), Date.UTC(2026, 5, 15, 12, 10), now);
    expect(old.from).toBe(Date.UTC(2026, 2, 7));
    expect(old.hoursBefore).toEqual([Date.UTC(2026, 2, 7), Date.UTC(2026, 2, 7)]);
  });
});
