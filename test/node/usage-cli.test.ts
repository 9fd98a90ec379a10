/**
 * The usage CLI (scripts/usage.mjs) and every query in docs/queries.md, run for real through
 * `wrangler d1 execute` against local D1 state holding the seeded usage, must give the
 * hand-computed answers of test/worker/admin-seed.ts (which the admin API tests check too).
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QUIET_WRANGLER_ENV, WRANGLER_BIN } from "../../scripts/lib/wrangler.mjs";
import { EXPECTED_7D, seedSql, utcDay } from "../worker/admin-seed";
import { PROJECT_ROOT } from "./wrangler-dev";

const run = promisify(execFile);
const OFFLINE_ENV = { ...process.env, ...QUIET_WRANGLER_ENV, NO_COLOR: "1" };

let state: string;
let rebuild: { stdout: string };

function wrangler(args: string[]) {
  return run(process.execPath, [WRANGLER_BIN, ...args], {
    cwd: PROJECT_ROOT,
    env: OFFLINE_ENV,
    maxBuffer: 64 << 20,
    timeout: 60_000,
  });
}

async function usageCli(...args: string[]) {
  return run(process.execPath, ["scripts/usage.mjs", ...args, "--persist-to", state], {
    cwd: PROJECT_ROOT,
    env: OFFLINE_ENV,
    timeout: 60_000,
  });
}

/** The SQL of each `--command "…"` in docs/queries.md, keyed by the heading above it. */
async function docQueries(): Promise<Map<string, string>> {
  const doc = await readFile(join(PROJECT_ROOT, "docs/queries.md"), "utf8");
  const queries = new Map<string, string>();
  for (const section of doc.split(/^## /m).slice(1)) {
    const title = section.slice(0, section.indexOf("\n")).trim();
    const sql = /--command "\n([\s\S]*?)\n"/.exec(section)?.[1];
    if (sql) queries.set(title, sql);
  }
  return queries;
}

/**
 * Runs every documented query exactly as written, with --local --persist-to instead of --remote,
 * in one wrangler call (one result set per statement) to keep the test fast.
 */
async function runDocQueries(queries: Map<string, string>): Promise<Map<string, Record<string, unknown>[]>> {
  const titles = [...queries.keys()];
  const sql = titles.map((title) => queries.get(title)).join("\n");
  const { stdout } = await wrangler([
    "d1",
    "execute",
    "DB",
    "--local",
    "--persist-to",
    state,
    "--json",
    "--command",
    sql,
  ]);
  const results = JSON.parse(stdout) as { results: Record<string, unknown>[] }[];
  expect(results).toHaveLength(titles.length);
  return new Map(titles.map((title, i) => [title, results[i]!.results]));
}

beforeAll(async () => {
  state = await mkdtemp(join(tmpdir(), "aibridge-usage-"));
  await wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", state]);
  await writeFile(join(state, "seed.sql"), seedSql());
  await wrangler([
    "d1",
    "execute",
    "DB",
    "--local",
    "--persist-to",
    state,
    "--file",
    join(state, "seed.sql"),
  ]);
  // The seed goes straight into the raw tables (as on a database from before rollups): the rebuild
  // command computes the rollups the CLI reads.
  rebuild = await run(
    process.execPath,
    ["scripts/rollups.mjs", "rebuild", "--since", "100d", "--persist-to", state],
    {
      cwd: PROJECT_ROOT,
      env: OFFLINE_ENV,
      timeout: 120_000,
    },
  );
});

afterAll(async () => {
  if (state) await rm(state, { recursive: true, force: true });
});

describe("npm run -s rollups -- rebuild", () => {
  it("rebuilt the rollups of every seeded day from the raw rows", () => {
    // 101 days (100 days ago through today); the 8 seeds are 8 requests on 7 distinct days.
    expect(rebuild.stdout.trim()).toMatch(/^Rebuilt 101 days: \d+ day rows, 8 requests \(local\)$/);
  });
});

describe("npm run -s usage", () => {
  it("--by user --since 7d --json gives the hand-computed per-user totals", async () => {
    const { stdout } = await usageCli("--by", "user", "--since", "7d", "--json");
    const rows = JSON.parse(stdout) as Record<string, unknown>[];
    expect(Object.fromEntries(rows.map(({ user, ...rest }) => [user, rest]))).toEqual(EXPECTED_7D.byUser);
  });

  it("prints a readable table with a total line", async () => {
    const { stdout } = await usageCli("--by", "user", "--since", "7d");
    const lines = stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^Usage by user, .* \(local\)$/);
    expect(lines[1]).toMatch(
      /^user\s+requests\s+input\s+output\s+cache read\s+cache write\s+cost\s+unpriced$/,
    );
    // Sorted by cost: alice, carol, bob.
    expect(lines[3]).toMatch(/^alice@example\.com\s+3\s+5,200\s+1,800\s+36,000\s+2,400\s+\$0\.0516\s+0$/);
    expect(lines[4]).toMatch(/^carol@example\.com\s+1\s+100\s+100\s+1,000\s+0\s+\$0\.0105\s+0$/);
    expect(lines[5]).toMatch(/^bob@example\.com\s+2\s+1,100\s+250\s+0\s+1,000\s+\$0\.0033\s+1$/);
    expect(lines.at(-1)).toMatch(/^TOTAL\s+6\s+6,400\s+2,150\s+37,000\s+3,400\s+\$0\.065\d\s+1$/);
  });

  it("--by model shows an unpriced model as unknown; --by day and --user filter", async () => {
    const models = JSON.parse((await usageCli("--by", "model", "--since", "7d", "--json")).stdout) as Record<
      string,
      unknown
    >[];
    expect(
      Object.fromEntries(models.map((r) => [r.model, [r.requests, r.cost_micros, r.unpriced_usages]])),
    ).toEqual(
      Object.fromEntries(
        Object.entries(EXPECTED_7D.byModel).map(([m, e]) => [
          m,
          [e.requests, e.cost_micros, e.unpriced_usages],
        ]),
      ),
    );
    expect((await usageCli("--by", "model", "--since", "7d")).stdout).toMatch(
      /my-local-llama\s+1\s+100\s+50\s+0\s+0\s+unknown\s+1/,
    );

    const days = JSON.parse((await usageCli("--by", "day", "--since", "7d", "--json")).stdout) as Record<
      string,
      unknown
    >[];
    expect(days.map((r) => [r.day, r.cost_micros])).toEqual([
      [utcDay(2), EXPECTED_7D.byDay[2]],
      [utcDay(1), EXPECTED_7D.byDay[1]],
      [utcDay(0), EXPECTED_7D.byDay[0]],
    ]);
    const bob = JSON.parse(
      (await usageCli("--by", "client", "--since", "30d", "--user", "bob@example.com", "--json")).stdout,
    );
    expect(bob).toEqual([
      {
        client: "claude-code",
        requests: 1,
        input_tokens: 1000,
        output_tokens: 200,
        cache_read_tokens: 0,
        cache_write_tokens: 1000,
        cost_micros: 3250,
        unpriced_usages: 0,
      },
      {
        client: "curl",
        requests: 1,
        input_tokens: 100,
        output_tokens: 50,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        cost_micros: null,
        unpriced_usages: 1,
      },
    ]);
  });

  it("rejects bad flags with a clear message", async () => {
    const error = await usageCli("--by", "team").catch((e: { code: number; stderr: string }) => e);
    expect(error).toMatchObject({ code: 2 });
    expect((error as { stderr: string }).stderr).toContain("--by: one of user, model, client, day");
  });
});

describe("docs/queries.md", () => {
  it("has the common questions", async () => {
    expect([...(await docQueries()).keys()]).toEqual([
      "Per user per day (last 7 days)",
      "Top models by cost (last 30 days)",
      "Cache hit ratio per user (last 7 days)",
      "Most used tools (last 7 days)",
      "Cost per user (last 30 days)",
      "Usage of models without a price (last 30 days)",
    ]);
  });

  it("every query runs and gives the hand-computed answer", async () => {
    const answers = await runDocQueries(await docQueries());
    const answer = (title: string) => answers.get(title);
    expect(answer("Per user per day (last 7 days)")).toEqual([
      {
        day: utcDay(2),
        user: "alice@example.com",
        requests: 1,
        input_tokens: 1000,
        output_tokens: 500,
        cache_read_tokens: 10000,
        cache_write_tokens: 2000,
        cost_usd: 0.02325,
      },
      {
        day: utcDay(2),
        user: "carol@example.com",
        requests: 1,
        input_tokens: 100,
        output_tokens: 100,
        cache_read_tokens: 1000,
        cache_write_tokens: 0,
        cost_usd: 0.0105,
      },
      {
        day: utcDay(1),
        user: "alice@example.com",
        requests: 2,
        input_tokens: 4200,
        output_tokens: 1300,
        cache_read_tokens: 26000,
        cache_write_tokens: 400,
        cost_usd: 0.02835,
      },
      {
        day: utcDay(0),
        user: "bob@example.com",
        requests: 2,
        input_tokens: 1100,
        output_tokens: 250,
        cache_read_tokens: 0,
        cache_write_tokens: 1000,
        cost_usd: 0.00325,
      },
    ]);
    expect(answer("Top models by cost (last 30 days)")).toEqual([
      {
        model: "claude-sonnet-4-5-20250929",
        requests: 2,
        total_tokens: 34400,
        cost_usd: 0.03585,
        unpriced_usages: 0,
      },
      { model: "claude-sonnet-4-5", requests: 1, total_tokens: 2000, cost_usd: 0.018, unpriced_usages: 0 },
      { model: "gpt-5", requests: 1, total_tokens: 11000, cost_usd: 0.01575, unpriced_usages: 0 },
      {
        model: "claude-opus-4-1-20250805",
        requests: 1,
        total_tokens: 1200,
        cost_usd: 0.0105,
        unpriced_usages: 0,
      },
      { model: "claude-haiku-4-5", requests: 1, total_tokens: 2200, cost_usd: 0.00325, unpriced_usages: 0 },
      { model: "my-local-llama", requests: 1, total_tokens: 150, cost_usd: null, unpriced_usages: 1 },
    ]);
    expect(answer("Cache hit ratio per user (last 7 days)")).toEqual([
      { user: "carol@example.com", cache_read_tokens: 1000, all_input_tokens: 1100, cache_hit_ratio: 0.9091 },
      {
        user: "alice@example.com",
        cache_read_tokens: 36000,
        all_input_tokens: 43600,
        cache_hit_ratio: 0.8257,
      },
      { user: "bob@example.com", cache_read_tokens: 0, all_input_tokens: 2100, cache_hit_ratio: 0 },
    ]);
    expect(answer("Most used tools (last 7 days)")).toEqual(
      EXPECTED_7D.tools.map(([tool, calls]) => ({
        tool,
        calls,
        users: tool === "Read" ? 2 : 1,
        injected_calls: 0,
        errors: 0,
      })),
    );
    const costs = answer("Cost per user (last 30 days)")!;
    expect(costs.map(({ last_seen: _, ...rest }) => rest)).toEqual([
      { user: "alice@example.com", requests: 3, cost_usd: 0.0516, unpriced_usages: 0 },
      { user: "carol@example.com", requests: 2, cost_usd: 0.0285, unpriced_usages: 0 },
      { user: "bob@example.com", requests: 2, cost_usd: 0.00325, unpriced_usages: 1 },
    ]);
    expect(costs[0]!.last_seen).toMatch(new RegExp(`^${utcDay(1)}T00:30:00Z$`));
    expect(answer("Usage of models without a price (last 30 days)")).toEqual([
      { model: "my-local-llama", usage_records: 1, input_tokens: 100, output_tokens: 50 },
    ]);
  });

  it("agrees with the CLI on per-user cost", async () => {
    const answers = await runDocQueries(await docQueries());
    const doc = answers.get("Per user per day (last 7 days)")!;
    const cli = JSON.parse((await usageCli("--by", "user", "--since", "7d", "--json")).stdout) as {
      user: string;
      cost_micros: number;
    }[];
    for (const { user, cost_micros } of cli) {
      const fromDoc = doc
        .filter((r) => r.user === user)
        .reduce((sum, r) => sum + Math.round((r.cost_usd as number) * 1e6), 0);
      expect(fromDoc, user).toBe(cost_micros);
    }
  });
});
