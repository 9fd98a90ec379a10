/**
 * Admin usage API against seeded usage written by the real D1 writer (src/recorder/store.ts):
 * answers must equal the hand-computed totals in admin-seed.ts, including cost with cache reads
 * and 5m/1h cache writes, and an unpriced model that is counted, never costed as zero.
 */
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { UsageRow } from "../../src/admin/usage";
import { writeRecords } from "../../src/recorder/store";
import { EXPECTED_7D, SEEDS, seedRecords, utcDay } from "./admin-seed";
import { ADMIN_TOKEN, admin, GATEWAY } from "./helpers";

type Usage = { rows: (UsageRow & Record<string, unknown>)[]; totals: UsageRow };
type Item = { id: string; cost_micros: number | null; [field: string]: unknown };
type Detail = Item & {
  token_usages: Item[];
  prompts: { prompt: string }[];
  tools: { tool: string; input: string }[];
  thoughts: Item[];
};
type Page = { interceptions: Item[]; next_cursor: string | null };
type Session = { interceptions: Item[]; totals: Record<string, unknown> };

async function json<T = Usage>(path: string): Promise<T> {
  const response = await admin(path);
  expect(response.status, await response.clone().text()).toBe(200);
  return response.json() as Promise<T>;
}

beforeAll(async () => {
  await writeRecords(env.DB, seedRecords());
});

describe("GET /admin/v1/usage", () => {
  it("groups by user with tokens by type, requests, cost and unpriced counts", async () => {
    const body = await json("/usage?group_by=user&from=7d");
    const byUser = Object.fromEntries(body.rows.map((row) => [row.user, row]));
    expect(Object.keys(byUser).sort()).toEqual(Object.keys(EXPECTED_7D.byUser).sort());
    for (const [user, expected] of Object.entries(EXPECTED_7D.byUser)) {
      expect(byUser[user]).toMatchObject(expected);
    }
    expect(byUser["alice@example.com"].cache_hit_ratio).toBeCloseTo(EXPECTED_7D.aliceCacheHitRatio, 10);
    expect(byUser["alice@example.com"]).toMatchObject({
      cache_write_5m_tokens: 1000,
      cache_write_1h_tokens: 1000,
      reasoning_tokens: 400,
      cost_usd: 0.0516,
    });
    expect(body.totals).toMatchObject(EXPECTED_7D.totals);
    expect(body.totals.total_tokens).toBe(6400 + 2150 + 37000 + 3400);
  });

  it("groups by model: an unknown model has null cost and is flagged, not zero", async () => {
    const body = await json("/usage?group_by=model&from=7d");
    const byModel = Object.fromEntries(body.rows.map((row) => [row.model, row]));
    for (const [model, expected] of Object.entries(EXPECTED_7D.byModel)) {
      expect(byModel[model], model).toMatchObject(expected);
    }
    expect(byModel["my-local-llama"].cost_micros).toBeNull();
  });

  it("groups by day (UTC) and by day and user for stacked charts", async () => {
    const byDay = await json("/usage?group_by=day&from=7d");
    expect(byDay.rows.map((row) => [row.day, row.cost_micros])).toEqual([
      [utcDay(2), EXPECTED_7D.byDay[2]],
      [utcDay(1), EXPECTED_7D.byDay[1]],
      [utcDay(0), EXPECTED_7D.byDay[0]],
    ]);
    const stacked = await json("/usage?group_by=day,user&from=7d");
    expect(stacked.rows.find((r) => r.day === utcDay(2) && r.user === "carol@example.com")).toMatchObject({
      cost_micros: 10500,
      requests: 1,
    });
    expect(stacked.rows).toHaveLength(4); // day-2: alice, carol · day-1: alice · day 0: bob
  });

  it("groups by client and filters by user, model and time range", async () => {
    const byClient = await json("/usage?group_by=client&from=7d");
    expect(byClient.rows.find((r) => r.client === "claude-code")).toMatchObject({
      requests: 3,
      cost_micros: 23250 + 12600 + 3250,
    });

    const bob = await json("/usage?group_by=model&from=7d&user=bob@example.com");
    expect(bob.rows.map((r) => r.model).sort()).toEqual(["claude-haiku-4-5", "my-local-llama"]);
    expect(bob.totals).toMatchObject({ requests: 2, cost_micros: 3250, unpriced_usages: 1 });

    const gpt = await json("/usage?group_by=user&from=7d&model=gpt-5");
    expect(gpt.totals).toMatchObject({ requests: 1, cost_micros: 15750, cache_read_tokens: 6000 });

    // Default range is 30 days: the 10-day-old request counts, the 90-day-old one does not.
    const month = await json("/usage?group_by=user");
    expect(month.totals).toMatchObject({ requests: 7, cost_micros: 65350 + 18000 });
    // Explicit dates: `to` as a bare date includes that whole day.
    const day = await json(`/usage?group_by=user&from=${utcDay(1)}&to=${utcDay(1)}`);
    expect(day.totals).toMatchObject({ requests: 2, cost_micros: 28350 });
  });

  it("answers bad parameters with 400 and a message naming the parameter", async () => {
    for (const [query, fragment] of [
      ["group_by=team", "group_by"],
      ["group_by=day,user,model", "group_by"],
      ["from=yesterday", "from"],
      ["to=2020-13-45", "to"],
      ["from=2026-02-01&to=2026-01-01", "to must be later"],
    ]) {
      const response = await admin(`/usage?${query}`);
      expect(response.status, query).toBe(400);
      expect((await response.json<{ error: string }>()).error, query).toContain(fragment);
    }
  });

  it("requires the admin token", async () => {
    const response = await SELF.fetch(`${GATEWAY}/admin/v1/usage`);
    expect(response.status).toBe(401);
    const wrong = await SELF.fetch(`${GATEWAY}/admin/v1/interceptions`, {
      headers: { authorization: "Bearer nope-nope-nope-nope" },
    });
    expect(wrong.status).toBe(401);
  });
});

describe("GET /admin/v1/interceptions", () => {
  it("lists newest first with prompt, tools, tokens and cost, paginated by cursor", async () => {
    const seen: Item[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Page = await json<Page>(
        `/interceptions?from=7d&limit=4${cursor ? `&cursor=${cursor}` : ""}`,
      );
      seen.push(...page.interceptions);
      cursor = page.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(2);
    expect(seen.map((i) => i.id)).toEqual(["seed-s5", "seed-s4", "seed-s3", "seed-s2", "seed-s6", "seed-s1"]);
    const s1 = seen.find((i) => i.id === "seed-s1");
    expect(s1).toMatchObject({
      user: "alice@example.com",
      model: "claude-sonnet-4-5-20250929",
      client: "claude-code",
      status: "completed",
      prompt: "Refactor the parser into small functions",
      tools: [
        { tool: "Read", injected: false },
        { tool: "Edit", injected: false },
      ],
      tokens: { input: 1000, output: 500, cache_read: 10000, cache_write: 2000 },
      cost_micros: 23250,
    });
    expect(seen.find((i) => i.id === "seed-s5")).toMatchObject({ cost_micros: null, unpriced_usages: 1 });
  });

  it("filters by user and rejects a forged cursor", async () => {
    const bob = await json<Page>("/interceptions?from=7d&user=bob@example.com");
    expect(bob.interceptions.map((i) => i.id)).toEqual(["seed-s5", "seed-s4"]);
    // status=, e.g. rejected: the requests a limit refused (every seeded one completed).
    const completed = await json<Page>("/interceptions?from=7d&user=bob@example.com&status=completed");
    expect(completed.interceptions.map((i) => i.id)).toEqual(["seed-s5", "seed-s4"]);
    expect((await json<Page>("/interceptions?from=7d&status=rejected")).interceptions).toEqual([]);
    const bad = await admin("/interceptions?cursor=not-a-cursor");
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("cursor");
    expect((await admin("/interceptions?limit=0")).status).toBe(400);
  });

  it("returns one interception with all its records, or 404", async () => {
    const detail = await json<Detail>("/interceptions/seed-s1");
    expect(detail).toMatchObject({
      id: "seed-s1",
      session_id: "sess-alice-1",
      user_agent: "claude-code/1.0",
      cost_micros: 23250,
    });
    expect(detail.token_usages).toHaveLength(1);
    expect(detail.token_usages[0]).toMatchObject({
      extra_token_types: { cache_write_5m: 1000, cache_write_1h: 1000 },
      cost_micros: 23250,
    });
    expect(detail.prompts.map((p) => p.prompt)).toEqual(["Refactor the parser into small functions"]);
    expect(detail.tools.map((t) => [t.tool, JSON.parse(t.input)])).toEqual([
      ["Read", { step: 0, tool: "Read" }],
      ["Edit", { step: 1, tool: "Edit" }],
    ]);
    expect(detail.thoughts[0]).toMatchObject({ source: "thinking" });
    expect((await admin("/interceptions/nope")).status).toBe(404);
  });
});

describe("GET /admin/v1/sessions/:id", () => {
  it("returns the session's interceptions in order with totals", async () => {
    const session = await json<Session>("/sessions/sess-alice-1");
    expect(session.interceptions.map((i) => i.id)).toEqual(["seed-s1", "seed-s2"]);
    expect(session.totals).toMatchObject({ requests: 2, cache_read_tokens: 30000, cost_micros: 35850 });
    expect((await admin("/sessions/missing")).status).toBe(404);
  });
});

describe("GET /admin (dashboard)", () => {
  it("serves the page, script and stylesheet with a strict CSP and no data", async () => {
    const page = await SELF.fetch(`${GATEWAY}/admin`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe");
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    const html = await page.text();
    expect(html).toContain('src="/admin/dashboard.js"');
    expect(html).not.toContain("alice@example.com");
    expect(html).not.toMatch(/<script>|style="/);
    const script = await SELF.fetch(`${GATEWAY}/admin/dashboard.js`);
    expect(script.headers.get("content-type")).toContain("javascript");
    expect(await script.text()).toContain("sessionStorage");
    expect((await SELF.fetch(`${GATEWAY}/admin/dashboard.css`)).status).toBe(200);
    expect(ADMIN_TOKEN.length).toBeGreaterThan(15);
  });

  it("serves the files from the Worker's bundle with a content ETag, and 304 to a matching If-None-Match", async () => {
    const script = await SELF.fetch(`${GATEWAY}/admin/dashboard.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(script.headers.get("cache-control")).toBe("no-cache");
    const body = await script.text();
    // A strong ETag: the SHA-256 of exactly the bytes served.
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body)));
    const hash = btoa(String.fromCharCode(...digest))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "");
    const etag = script.headers.get("etag");
    expect(etag).toBe(`"${hash}"`);

    const again = await SELF.fetch(`${GATEWAY}/admin/dashboard.js`, { headers: { "if-none-match": etag! } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
    expect(again.headers.get("etag")).toBe(etag);
    expect(again.headers.get("content-security-policy")).toContain("default-src 'none'");
    // A list holding it, or its weak form, matches too; another file's ETag does not.
    const listed = await SELF.fetch(`${GATEWAY}/admin/dashboard.js`, {
      headers: { "if-none-match": `"other", W/${etag}` },
    });
    expect(listed.status).toBe(304);
    await listed.body?.cancel();
    const css = await SELF.fetch(`${GATEWAY}/admin/dashboard.css`, { headers: { "if-none-match": etag! } });
    expect(css.status).toBe(200);
    expect(css.headers.get("content-type")).toContain("text/css");
    expect(css.headers.get("etag")).not.toBe(etag);
    await css.body?.cancel();
  });

  it("leaves the gateway's API paths as they were: a keyless request gets Anthropic's 401", async () => {
    const response = await SELF.fetch(`${GATEWAY}/anthropic/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 16, messages: [] }),
    });
    expect(response.status).toBe(401);
    expect(response.headers.get("content-security-policy")).toBeNull();
    expect(await response.json()).toMatchObject({ type: "error", error: { type: "authentication_error" } });
  });
});

it("seed has the rows the expectations describe", () => {
  expect(SEEDS).toHaveLength(8);
});
