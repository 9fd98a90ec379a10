/**
 * The period spend /v1/me and the limiter read (src/limits/spend.ts: day rollups with exact raw
 * edges) against the raw-row query they used before, on a seeded history written by the real D1
 * writer (shuffled, delivered twice) around a month boundary: requests running over midnight,
 * background responses recorded days after their request, usage recorded after the `to` asked.
 */
import { env, SELF } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import type { LimitState } from "../../src/limits/limiter";
import { periodBounds } from "../../src/limits/period";
import { recordedUsage, STRADDLE_MS } from "../../src/limits/spend";
import type { RecordMessage } from "../../src/recorder/records";
import { writeRecords } from "../../src/recorder/store";
import { RECORD_TABLES } from "../../src/retention";
import { admin, createKey, GATEWAY } from "./helpers";
import { random, shuffle } from "./seeded";

const MINUTE = 60_000;
const DAY = 86_400_000;
/** Thursday 1 October 2026, 00:00 UTC: a month boundary inside an ISO week. */
const BOUNDARY = Date.UTC(2026, 9, 1);
const USERS = ["ana", "ben", "o'brien@example.com"];

/** The query /v1/me and the limiter ran before rollups: every usage row recorded in [from, to). */
async function rawRecorded(user: string, from: number, to: number) {
  const row = await env.DB.prepare(
    `select count(distinct t.interception_id) as requests,
       coalesce(sum(t.input_tokens), 0) as input, coalesce(sum(t.output_tokens), 0) as output,
       coalesce(sum(t.cache_read_input_tokens), 0) as cache_read,
       coalesce(sum(t.cache_write_input_tokens), 0) as cache_write,
       coalesce(sum(t.cost_micros), 0) as cost_micros,
       coalesce(sum(case when t.cost_micros is null then 1 else 0 end), 0) as unpriced
     from aibridge_token_usages t join aibridge_interceptions i on i.id = t.interception_id
     where i.initiator_id = ? and t.created_at >= ? and t.created_at < ?`,
  )
    .bind(user, from, to)
    .first();
  return row;
}

/**
 * Requests from 12 days before the boundary to 12 days after, many in the hour before a midnight;
 * each with 0–3 usage rows recorded seconds to minutes after its start, some a day or two later,
 * a few up to 7 days later (background responses); some unpriced; some requests without an end
 * record or without usage.
 */
function history(seed: number): RecordMessage[] {
  const rand = random(seed);
  const records: RecordMessage[] = [];
  for (let n = 0; n < 400; n++) {
    const id = `s${seed}-${n}`;
    const day = BOUNDARY + Math.floor(rand() * 24 - 12) * DAY;
    // Half start in the last 20 minutes of a day: their usage often lands on the next.
    const startedAt =
      rand() < 0.5 ? day + DAY - Math.floor(rand() * 20 * MINUTE) : day + Math.floor(rand() * DAY);
    const info = {
      id,
      initiatorId: USERS[Math.floor(rand() * USERS.length)]!,
      apiKeyId: null,
      provider: "anthropic",
      providerName: "messages",
      instance: rand() < 0.5 ? "anthropic" : "anthropic-eu",
      model: rand() < 0.5 ? "claude-sonnet-4-5" : "claude-haiku-4-5",
      client: rand() < 0.5 ? "claude-code" : "codex",
      userAgent: null,
      clientSessionId: null,
      correlatingToolCallId: null,
      credentialKind: "centralized" as const,
      credentialHint: null,
      streaming: true,
      startedAt,
      metadata: null,
    };
    if (rand() < 0.9) records.push({ kind: "interception_started", ...info });
    if (rand() < 0.9) {
      records.push({
        kind: "interception_ended",
        ...info,
        endedAt: startedAt + 30 * MINUTE,
        status: "completed",
        stopReason: null,
        errorType: null,
        errorMessage: null,
        upstreamInstance: rand() < 0.8 ? info.instance : "anthropic-backup",
        fallback: false,
      });
    }
    const usages = Math.floor(rand() * 4);
    for (let u = 0; u < usages; u++) {
      const late = rand();
      const after =
        late < 0.8
          ? Math.floor(rand() * 40 * MINUTE)
          : late < 0.95
            ? Math.floor(rand() * 2 * DAY)
            : Math.floor(rand() * 7 * DAY);
      records.push({
        kind: "token_usage",
        id: `${id}-u${u}`,
        interceptionId: id,
        providerResponseId: null,
        inputTokens: Math.floor(rand() * 5000),
        outputTokens: Math.floor(rand() * 2000),
        cacheReadInputTokens: Math.floor(rand() * 50_000),
        cacheWriteInputTokens: Math.floor(rand() * 3000),
        extraTokenTypes: null,
        rawUsage: {},
        costMicros: rand() < 0.15 ? null : Math.floor(rand() * 100_000),
        createdAt: startedAt + 1 + after,
      });
    }
  }
  return records;
}

beforeEach(async () => {
  for (const [table] of RECORD_TABLES) await env.DB.prepare(`delete from ${table}`).run();
});

describe("period spend from the day rollups", () => {
  it("equals the raw rows' spend for every period around a boundary, as /v1/me and the limiter ask it", async () => {
    const stream = history(11);
    const rand = random(5);
    // Every record twice, shuffled (usage before its interception, ends before starts), in batches.
    const deliveries = shuffle([...stream, ...stream], rand);
    for (let i = 0; i < deliveries.length; i += 60) await writeRecords(env.DB, deliveries.slice(i, i + 60));

    const moments = [
      BOUNDARY - DAY - 1,
      BOUNDARY - 1,
      BOUNDARY,
      BOUNDARY + 7 * MINUTE,
      BOUNDARY + 3 * DAY + 5 * 3_600_000,
      BOUNDARY + 9 * DAY + 1,
    ];
    let compared = 0;
    let withStraddlers = 0;
    for (const now of moments) {
      for (const kind of ["day", "week", "month"] as const) {
        const { start, end } = periodBounds(kind, now);
        for (const user of USERS) {
          // /v1/me: the whole period; the limiter: from the period's start to its clock (inclusive).
          for (const to of [end, now + 1]) {
            const fromRollups = await recordedUsage(env.DB, user, start, to);
            expect(fromRollups, `${user} ${kind} ${new Date(now).toISOString()} to ${to}`).toEqual(
              await rawRecorded(user, start, to),
            );
            compared++;
          }
          const straddling = await env.DB.prepare(
            `select count(*) as n from aibridge_token_usages t join aibridge_interceptions i on i.id = t.interception_id
             where i.initiator_id = ?1 and i.started_at < ?2 and t.created_at >= ?2`,
          )
            .bind(user, start)
            .first<{ n: number }>();
          if ((straddling?.n ?? 0) > 0) withStraddlers++;
        }
      }
    }
    expect(compared).toBe(moments.length * 3 * USERS.length * 2);
    // The seeded history does exercise the edges: usage recorded after its period began.
    expect(withStraddlers).toBeGreaterThan(10);
    // A `from` that is not a UTC midnight is answered from the raw rows, the same way.
    expect(await recordedUsage(env.DB, "ana", BOUNDARY + 5 * 3_600_000, BOUNDARY + 2 * DAY)).toEqual(
      await rawRecorded("ana", BOUNDARY + 5 * 3_600_000, BOUNDARY + 2 * DAY),
    );
    expect(STRADDLE_MS).toBeGreaterThan(7 * DAY);
  });

  it("the limiter's period spend and /v1/me agree with the raw rows on the seeded history", async () => {
    await writeRecords(env.DB, history(12));
    const user = "ben";
    const now = BOUNDARY + 3 * DAY + 5 * 3_600_000;
    const limiter = env.LIMITER!.get(env.LIMITER!.idFromName(user));
    await limiter.setTestClock(now);
    try {
      expect(
        (
          await admin(`/limits/${user}`, {
            method: "PUT",
            body: JSON.stringify({ budget_usd: 1000, period: "week" }),
          })
        ).status,
      ).toBe(200);
      // The Durable Object's first period starts from what D1 recorded this ISO week, up to its clock.
      const response = await admin(`/limits/${user}`);
      const { state } = (await response.json()) as { state: LimitState };
      const week = periodBounds("week", now);
      expect(state.period_start).toBe(new Date(week.start).toISOString());
      const raw = (await rawRecorded(user, week.start, now + 1)) as { cost_micros: number };
      expect(raw.cost_micros).toBeGreaterThan(0);
      expect(state.spent_usd).toBe(raw.cost_micros / 1e6);
      // /v1/me: the same period, whole, from the user's own key.
      const { key } = await createKey(user);
      const me = (await (await SELF.fetch(`${GATEWAY}/v1/me`, { headers: { "x-api-key": key } })).json()) as {
        usage: { requests: number; cost_usd: number; unpriced_records: number; tokens: { input: number } };
      };
      const whole = (await rawRecorded(user, week.start, week.end)) as Record<string, number>;
      expect(me.usage).toMatchObject({
        requests: whole.requests,
        cost_usd: whole.cost_micros! / 1e6,
        unpriced_records: whole.unpriced,
        tokens: { input: whole.input },
      });
    } finally {
      await limiter.setTestClock(null);
    }
  });
});
