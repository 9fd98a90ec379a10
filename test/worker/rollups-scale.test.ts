/**
 * Rows read per usage answer as raw rows grow: 10^4 then 10^5 interceptions (100 users, 30 days,
 * 2 models × 2 clients, one usage row each) seeded inside SQLite, folded into rollups by the
 * rebuild. The rollup answer reads a number of rows bounded by users × days, whatever the number
 * of requests; the raw aggregation it replaced reads every request. (bench/scale.mjs runs the
 * same measurement up to 10^6 for docs/scale.md.)
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { queryUsage } from "../../src/admin/usage";
import { DAY_MS, rebuildRollups } from "../../src/recorder/rollups";

const NOW = Date.now();
const WINDOW = 30 * DAY_MS;

/** Appends interceptions [from, to) and their usage rows, spread over the last 30 days. */
async function seed(from: number, to: number) {
  const series = `with recursive n(i) as (select ${from} union all select i + 1 from n where i < ${to - 1})`;
  await env.DB.batch([
    env.DB.prepare(
      `insert into aibridge_interceptions (id, initiator_id, provider, provider_name, model, client, credential_kind, streaming, started_at, status)
       ${series}
       select 'x' || i, 'user-' || (i % 100), 'anthropic', 'messages', 'model-' || (i / 100 % 2), 'client-' || (i / 200 % 2),
              'centralized', 1, ?1 - (i * 2654435761) % ?2, 'completed' from n`,
    ).bind(NOW, WINDOW),
    env.DB.prepare(
      `insert into aibridge_token_usages (id, interception_id, input_tokens, output_tokens, cache_read_input_tokens, cache_write_input_tokens, cost_micros, created_at)
       ${series}
       select 'u' || i, 'x' || i, 1000 + i % 7, 200, 30000, 0, 4000 + i % 13, ?1 - (i * 2654435761) % ?2 + 1000 from n`,
    ).bind(NOW, WINDOW),
  ]);
  await rebuildRollups(env.DB, NOW - WINDOW - DAY_MS, NOW + DAY_MS);
}

async function rawRowsRead(): Promise<number> {
  const { meta } = await env.DB.prepare(
    `select i.initiator_id, count(distinct i.id), sum(t.input_tokens), sum(t.cost_micros)
     from aibridge_interceptions i left join aibridge_token_usages t on t.interception_id = i.id
     where i.started_at >= ?1 group by 1`,
  )
    .bind(NOW - WINDOW)
    .all();
  return meta.rows_read;
}

describe("usage answers at scale", () => {
  it("read rows bounded by users × days, not by requests (10^4 → 10^5 interceptions)", async () => {
    const filter = { from: NOW - WINDOW, to: 8_640_000_000_000_000, user: null, model: null };
    const reads: { requests: number; raw: number; byUser: number; byDayUser: number; byModel: number }[] = [];
    for (const [from, to] of [
      [0, 10_000],
      [10_000, 100_000],
    ] as const) {
      await seed(from, to);
      const byUser = await queryUsage(env.DB, ["user"], filter, NOW);
      expect(byUser.totals.requests).toBe(to);
      reads.push({
        requests: to,
        raw: await rawRowsRead(),
        byUser: byUser.rowsRead,
        byDayUser: (await queryUsage(env.DB, ["day", "user"], filter, NOW)).rowsRead,
        byModel: (await queryUsage(env.DB, ["model"], filter, NOW)).rowsRead,
      });
    }
    console.log(JSON.stringify(reads));
    const [small, large] = reads as [(typeof reads)[0], (typeof reads)[0]];
    // The raw aggregation reads every request (and more): it grows tenfold.
    expect(large.raw).toBeGreaterThan(9 * small.raw);
    expect(large.raw).toBeGreaterThanOrEqual(100_000);
    // 100 users × 31 days × 4 model/client pairs = 12,400 day rows at most, plus the edge hours;
    // the answer reads each once or twice, however many requests they hold.
    for (const key of ["byUser", "byDayUser", "byModel"] as const) {
      expect(large[key], key).toBeLessThan(2 * (12_400 + 100 * 4 * 48));
      expect(large[key], key).toBeLessThan(large.raw / 3);
    }
  }, 180_000); // seeding and folding 10^5 rows takes tens of seconds on a busy machine
});
