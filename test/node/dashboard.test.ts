/**
 * The dashboard in a real browser: headless Chromium (./browser.ts: system or npm) driven by playwright-core
 * against `wrangler dev` with seeded local D1. Charts and tables must show the seeded numbers;
 * the API over real HTTP and the usage CLI on the same state must agree. Every view is a link
 * (/admin?view=…&user=…&interception=…) that opens the same view in a fresh tab, and the detail
 * opens in a side panel in sight. Screenshots: test-artifacts/dashboard*.png.
 */
import { execFile } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QUIET_WRANGLER_ENV } from "../../scripts/lib/wrangler.mjs";
import { startFakeAnthropic } from "../fakes/anthropic";
import type { FakeServer } from "../fakes/server";
import { EXPECTED_7D, seedSql, utcDay } from "../worker/admin-seed";
import { SECRETS } from "../worker/secrets-corpus";
import { launchBrowser } from "./browser";
import { ClaudeCodeTurns } from "./claude-code-session";
import { PROJECT_ROOT, startWranglerDev, type WranglerDev } from "./wrangler-dev";

const run = promisify(execFile);
let dev: WranglerDev;
let fake: FakeServer;
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];

beforeAll(async () => {
  // The fake Anthropic upstream simulates prompt caching for the cache-break sessions below.
  fake = await startFakeAnthropic();
  dev = await startWranglerDev({ vars: { ANTHROPIC_BASE_URL: fake.url } });
  await dev.d1(seedSql());
  browser = await launchBrowser();
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  page = await openPage(context);
});

/**
 * A new tab. sessionStorage is per tab, so it starts signed out, like a colleague opening a link.
 * (One browser context for all: @sparticuz/chromium runs single-process, where closing a context
 * takes the browser down.)
 */
async function openPage(context: BrowserContext): Promise<Page> {
  const opened = await context.newPage();
  opened.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  opened.on("pageerror", (error) => consoleErrors.push(error.message));
  return opened;
}

/** The query string of the page's URL, as an object. */
function query(of: Page = page): Record<string, string> {
  return Object.fromEntries(new URL(of.url()).searchParams);
}

/** Where the element is relative to the visible part of the page. */
function inSight(selector: string, of: Page = page) {
  return of.$eval(selector, (node) => {
    const box = node.getBoundingClientRect();
    return { top: box.top, bottom: box.bottom, innerHeight, scrollY };
  });
}

afterAll(async () => {
  await browser?.close();
  await dev?.stop();
  await fake?.close();
});

/** Sum of the data-value of every bar in a chart, per stack key. */
async function chartTotals(chartId: string, of: Page = page): Promise<Record<string, number>> {
  return of.$$eval(`#${chartId} rect[data-key]`, (rects) => {
    const totals: Record<string, number> = {};
    for (const rect of rects) {
      const key = rect.getAttribute("data-key")!;
      totals[key] = (totals[key] ?? 0) + Number(rect.getAttribute("data-value"));
    }
    return totals;
  });
}

/** Runs a UI action and waits until the dashboard has finished the refresh it triggers. */
async function reloading(action: () => Promise<unknown>, of: Page = page): Promise<void> {
  const before = await of.getAttribute("body", "data-loads");
  await action();
  await of.waitForFunction((previous) => document.body.getAttribute("data-loads") !== previous, before);
}

describe("dashboard", () => {
  it("the API over HTTP and the usage CLI agree on the same local D1", async () => {
    const response = await dev.admin("/usage?group_by=user&from=7d");
    const api = (await response.json()) as { rows: Record<string, unknown>[] };
    const { stdout } = await run(
      process.execPath,
      ["scripts/usage.mjs", "--by", "user", "--since", "7d", "--json", "--persist-to", dev.persistTo],
      { cwd: PROJECT_ROOT, env: { ...process.env, ...QUIET_WRANGLER_ENV } },
    );
    const cli = JSON.parse(stdout) as Record<string, unknown>[];
    const fields = Object.keys(cli[0]!);
    const pick = (row: Record<string, unknown>) => Object.fromEntries(fields.map((f) => [f, row[f]]));
    const byUser = (rows: Record<string, unknown>[]) =>
      [...rows].sort((a, b) => String(a.user).localeCompare(String(b.user)));
    expect(byUser(api.rows).map(pick)).toEqual(byUser(cli));
    expect(Object.fromEntries(cli.map(({ user, ...rest }) => [user, rest]))).toEqual(EXPECTED_7D.byUser);
  });

  it("asks for the admin token, rejects a wrong one, and signs in with the right one", async () => {
    await page.goto(`${dev.url}/admin`);
    await page.waitForSelector("#sign-in:not([hidden])");
    await page.fill("#token", "wrong-token-wrong-token");
    await page.click("#sign-in-form button[type=submit]");
    await page.waitForFunction(() =>
      document.querySelector("#sign-in-error")?.textContent?.includes("not accepted"),
    );
    expect(await page.isVisible("#app")).toBe(false);

    await page.fill("#token", dev.vars.ADMIN_TOKEN!);
    await reloading(() => page.click("#sign-in-form button[type=submit]"));
    expect(await page.evaluate(() => sessionStorage.getItem("aibridge-admin-token"))).toBe(
      dev.vars.ADMIN_TOKEN,
    );
  });

  it("shows totals and the users table from the seeded data", async () => {
    expect(await page.textContent("#total-requests b")).toBe("6");
    expect(await page.textContent("#total-cost b")).toBe("$0.0654");
    expect(await page.textContent("#total-unpriced b")).toBe("1");
    const users = await page.$$eval("#users-table tbody tr", (rows) =>
      rows.map((row) => {
        const cells: Record<string, string> = { user: row.getAttribute("data-user") ?? "" };
        for (const cell of Array.from(row.querySelectorAll("td[data-col]"))) {
          cells[cell.getAttribute("data-col")!] = cell.getAttribute("data-value") ?? cell.textContent ?? "";
        }
        return cells;
      }),
    );
    expect(users.map((u) => u.user)).toEqual(["alice@example.com", "carol@example.com", "bob@example.com"]);
    for (const u of users) {
      const expected = EXPECTED_7D.byUser[u.user as keyof typeof EXPECTED_7D.byUser];
      expect(u, u.user).toMatchObject({
        requests: String(expected.requests),
        input: String(expected.input_tokens),
        output: String(expected.output_tokens),
        cache_read: String(expected.cache_read_tokens),
        cache_write: String(expected.cache_write_tokens),
        cost: String(expected.cost_micros),
      });
    }
    expect(Number(users[0]!.cache_hit)).toBeCloseTo(EXPECTED_7D.aliceCacheHitRatio, 10);
    expect(
      await page.textContent('#users-table tr[data-user="alice@example.com"] td[data-col="cache_hit"]'),
    ).toBe("82.6%");
    expect(await page.textContent('#users-table tr[data-user="bob@example.com"] td[data-col="cost"]')).toBe(
      "$0.0033 (+1 unpriced)",
    );
  });

  it("charts tokens and cost per day, stacked by user or by model", async () => {
    const cost = await chartTotals("cost-chart");
    expect(cost).toEqual({ "alice@example.com": 51600, "carol@example.com": 10500, "bob@example.com": 3250 });
    const tokens = await chartTotals("tokens-chart");
    expect(tokens["alice@example.com"]).toBe(5200 + 1800 + 36000 + 2400);
    const days = await page.$$eval("#cost-chart rect[data-day]", (rects) => [
      ...new Set(rects.map((r) => r.getAttribute("data-day"))),
    ]);
    expect(days.sort()).toEqual([utcDay(2), utcDay(1), utcDay(0)]);
    const legend = await page.$$eval("#legend li", (items) => items.map((i) => i.getAttribute("data-key")));
    expect(legend.sort()).toEqual(["alice@example.com", "bob@example.com", "carol@example.com"]);

    await reloading(() => page.selectOption("#stack", "model"));
    const byModel = await chartTotals("cost-chart");
    expect(byModel).toEqual({
      "claude-sonnet-4-5-20250929": 35850,
      "gpt-5": 15750,
      "claude-opus-4-1-20250805": 10500,
      "claude-haiku-4-5": 3250,
    });
    // The unpriced model has tokens but no cost bar.
    expect((await chartTotals("tokens-chart"))["my-local-llama"]).toBe(150);
    expect(query()).toEqual({ stack: "model" });
    await reloading(() => page.selectOption("#stack", "user"));
  });

  it("lists recent interceptions and opens one in a side panel in sight, with its own URL", async () => {
    const ids = await page.$$eval("#interceptions-table tbody tr", (rows) =>
      rows.map((r) => r.getAttribute("data-id")),
    );
    expect(ids).toEqual(["seed-s5", "seed-s4", "seed-s3", "seed-s2", "seed-s6", "seed-s1"]);
    // The oldest row is at the bottom of a long page: the detail must open where the admin looks.
    await page.$eval('#interceptions-table tr[data-id="seed-s1"]', (row) => row.scrollIntoView());
    await reloading(() => page.click('#interceptions-table tr[data-id="seed-s1"] td[data-col="model"]'));
    expect(query()).toEqual({ interception: "seed-s1" });
    expect(await page.textContent("#detail-id")).toBe("seed-s1");
    const panel = await inSight("#detail-id");
    expect(panel.scrollY).toBeGreaterThan(0);
    expect(panel.top).toBeGreaterThanOrEqual(0);
    expect(panel.bottom).toBeLessThan(panel.innerHeight);
    expect(await page.getAttribute('#interceptions-table tr[data-id="seed-s1"]', "aria-selected")).toBe(
      "true",
    );
    await page.screenshot({ path: join(PROJECT_ROOT, "test-artifacts/dashboard-panel.png") });

    expect(await page.textContent("#detail-prompts")).toContain("Refactor the parser into small functions");
    const tools = await page.textContent("#detail-tools");
    expect(tools).toContain("Read");
    expect(tools).toContain('{"step":1,"tool":"Edit"}');
    expect(await page.getAttribute('#detail-tokens td[data-col="cache_read"]', "data-value")).toBe("10000");
    expect(await page.getAttribute('#detail-tokens td[data-col="cost"]', "data-value")).toBe("23250");
    expect(await page.textContent("#detail-thoughts")).toContain("split them first");

    // Back closes the panel; the list was not reloaded for it.
    const loadsBefore = await page.getAttribute("body", "data-loads");
    await reloading(() => page.goBack());
    expect(query()).toEqual({});
    expect(await page.isVisible("#panel")).toBe(false);
    expect(Number(await page.getAttribute("body", "data-loads"))).toBe(Number(loadsBefore) + 1);
    expect(await page.$$eval("#interceptions-table tbody tr", (rows) => rows.length)).toBe(6);
  });

  it("opens a session from the panel: its interceptions in order and its totals", async () => {
    await reloading(() => page.click('#interceptions-table tr[data-id="seed-s2"] td[data-col="model"]'));
    await reloading(() => page.click('#detail-meta a[href*="view=session"]'));
    expect(query()).toEqual({ view: "session", session: "sess-alice-1", interception: "seed-s2" });
    const ids = await page.$$eval("#interceptions-table tbody tr", (rows) =>
      rows.map((r) => r.getAttribute("data-id")),
    );
    expect(ids).toEqual(["seed-s1", "seed-s2"]);
    expect(await page.textContent("#total-requests b")).toBe("2");
    expect(await page.textContent("#total-cost b")).toBe("$0.0359");
    expect(await page.isVisible("#filters")).toBe(false);
    await reloading(() => page.click("#detail-close"));
    expect(query()).toEqual({ view: "session", session: "sess-alice-1" });
    await reloading(() => page.click('#nav a[href="/admin"]'));
    expect(query()).toEqual({});
  });

  it("filters by user and model and time range; saves a screenshot", async () => {
    await reloading(() => page.selectOption("#user", "bob@example.com"));
    expect(query()).toEqual({ user: "bob@example.com" });
    expect(await page.textContent("#total-requests b")).toBe("2");
    const ids = await page.$$eval("#interceptions-table tbody tr", (rows) =>
      rows.map((r) => r.getAttribute("data-id")),
    );
    expect(ids).toEqual(["seed-s5", "seed-s4"]);

    await reloading(() => page.selectOption("#user", ""));
    await reloading(() => page.selectOption("#model", "gpt-5"));
    expect(await chartTotals("cost-chart")).toEqual({ "alice@example.com": 15750 });

    await reloading(() => page.selectOption("#model", ""));
    await reloading(() => page.selectOption("#range", "30d"));
    expect(await page.textContent("#total-requests b")).toBe("7"); // + carol's 10-day-old request
    expect(query()).toEqual({ range: "30d" });
    await reloading(() => page.selectOption("#range", "7d"));
    await reloading(() => page.click('#interceptions-table tr[data-id="seed-s3"] td[data-col="model"]'));
    expect(await page.textContent("#detail-id")).toBe("seed-s3");

    await mkdir(join(PROJECT_ROOT, "test-artifacts"), { recursive: true });
    // From the top: a full-page shot of a scrolled page paints the sticky header mid-page.
    await page.evaluate(() => scrollTo(0, 0));
    await page.screenshot({ path: join(PROJECT_ROOT, "test-artifacts/dashboard.png"), fullPage: true });
  });

  it("a link opens the same view in a colleague's fresh tab, after sign-in", async () => {
    const link = `${dev.url}/admin?view=user&user=${encodeURIComponent("alice@example.com")}&range=30d&interception=seed-s3`;
    const other = await openPage(page.context());
    await other.goto(link);
    await other.waitForSelector("#sign-in:not([hidden])");
    await other.fill("#token", dev.vars.ADMIN_TOKEN!);
    await reloading(() => other.click("#sign-in-form button[type=submit]"), other);
    expect(await other.textContent(".view-title")).toContain("alice@example.com");
    expect(await other.inputValue("#range")).toBe("30d");
    expect(await other.inputValue("#user")).toBe("alice@example.com");
    expect(await other.isVisible("#stack")).toBe(false);
    expect(await other.textContent("#detail-id")).toBe("seed-s3");
    const models = await other.$$eval("#models-table tbody tr", (rows) =>
      rows.map((r) => [
        r.getAttribute("data-model"),
        r.querySelector('[data-col="cost"]')?.getAttribute("data-value"),
      ]),
    );
    expect(models).toEqual([
      ["claude-sonnet-4-5-20250929", "35850"],
      ["gpt-5", "15750"],
    ]);
    expect(await chartTotals("cost-chart", other)).toEqual({
      "claude-sonnet-4-5-20250929": 35850,
      "gpt-5": 15750,
    });
    const ids = await other.$$eval("#interceptions-table tbody tr", (rows) =>
      rows.map((r) => r.getAttribute("data-id")),
    );
    expect(ids).toEqual(["seed-s3", "seed-s2", "seed-s1"]);
    await other.screenshot({ path: join(PROJECT_ROOT, "test-artifacts/dashboard-user.png"), fullPage: true });
    await other.close();
    // No script errors and no CSP refusals ("Refused to …"). Failed loads are expected: the
    // wrong-token sign-in (401) and the browser's own favicon request (404).
    expect(consoleErrors.filter((e) => !e.startsWith("Failed to load resource"))).toEqual([]);
  });
});

interface SessionTurn {
  id: string;
  tokens: { input: number; output: number; cache_read: number; cache_write: number };
  cache: null | {
    read_tokens: number;
    write_tokens: number;
    expected_read_tokens: number;
    break: null | { cause: string; first_changed: string | null; missed_tokens: number; cost_micros: number };
  };
}

/** Sonnet 4.5 list prices, micro-dollars per token: a 5-minute cache write 3.75, a cache read 0.30. */
const sonnetRewriteMicros = (tokens: number) => Math.round(tokens * (3.75 - 0.3));

/** The session as the admin API answers it, once every turn's records reached D1 through the queue. */
async function analysedSession(id: string, turns: number): Promise<SessionTurn[]> {
  for (let attempt = 0; ; attempt++) {
    const response = await dev.admin(`/sessions/${id}`);
    const body = response.ok ? ((await response.json()) as { interceptions: SessionTurn[] }) : null;
    const ready = body?.interceptions.filter((i) => i.cache !== null) ?? [];
    if (ready.length === turns) return body!.interceptions;
    if (attempt > 100) throw new Error(`session ${id}: ${ready.length}/${turns} turns analysed`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The cells (data-col → data-value) of the rows of a table, keyed by a row attribute. */
function tableValues(selector: string, keyAttr: string, of: Page = page) {
  return of.$$eval(
    `${selector} tbody tr[${keyAttr}]`,
    (rows, attr) =>
      rows.map((row) => {
        const cells: Record<string, string> = { key: row.getAttribute(attr) ?? "" };
        for (const cell of Array.from(row.querySelectorAll("td[data-col]"))) {
          cells[cell.getAttribute("data-col")!] = cell.getAttribute("data-value") ?? cell.textContent ?? "";
        }
        return cells;
      }),
    keyAttr,
  );
}

describe("dashboard: prompt-cache breaks", () => {
  // Two Claude Code conversations through the real gateway: erin's tool list is reordered before
  // her third turn (the whole prefix is re-written), frank's system prompt changes its date line
  // before his third turn (the prefix from system[2] on is re-written).
  let erin: SessionTurn[];
  let frank: SessionTurn[];
  const ERIN = "erin@example.com";
  const FRANK = "frank@example.com";

  beforeAll(async () => {
    const erinTurns = new ClaudeCodeTurns(dev.url, (await dev.createKey(ERIN)).key, "sess-erin-cache");
    await erinTurns.turn("First.");
    await erinTurns.turn("Second.");
    erinTurns.tools = [...erinTurns.tools.slice(1), erinTurns.tools[0]!];
    await erinTurns.turn("Third, after an MCP server reconnected.");
    await erinTurns.turn("Fourth.");
    const frankTurns = new ClaudeCodeTurns(dev.url, (await dev.createKey(FRANK)).key, "sess-frank-cache");
    await frankTurns.turn("First.");
    await frankTurns.turn("Second.");
    frankTurns.environment = "Today's date is 2026-12-01.";
    await frankTurns.turn("Third, the next day.");
    [erin, frank] = await Promise.all([
      analysedSession("sess-erin-cache", 4),
      analysedSession("sess-frank-cache", 3),
    ]);
  }, 60_000);

  it("the seeded sessions broke the cache where and as the analysis says (the numbers the page must show)", () => {
    const [, second, third] = erin.map((t) => t.cache!);
    expect(third!.read_tokens).toBe(0);
    expect(third!.break).toMatchObject({ cause: "tools_changed", first_changed: "tools" });
    expect(third!.break!.missed_tokens).toBe(second!.read_tokens + second!.write_tokens);
    expect(third!.break!.cost_micros).toBe(sonnetRewriteMicros(third!.break!.missed_tokens));
    expect(erin.filter((t) => t.cache?.break)).toHaveLength(1);
    const frankBreak = frank[2]!.cache!.break!;
    expect(frankBreak).toMatchObject({ cause: "system_changed", first_changed: "system[2]" });
    expect(frankBreak.cost_micros).toBe(sonnetRewriteMicros(frankBreak.missed_tokens));
    expect(frankBreak.cost_micros).toBeLessThan(third!.break!.cost_micros);
  });

  it("the users table shows each user's breaks and their cost, linking to the cache-breaks view", async () => {
    await page.goto(`${dev.url}/admin`);
    await page.waitForSelector("body[data-loads]");
    await page.waitForSelector(`#users-table tr[data-user="${ERIN}"]`);
    const erinCost = erin[2]!.cache!.break!.cost_micros;
    const cell = `#users-table tr[data-user="${ERIN}"] td[data-col="cache_breaks"]`;
    expect(await page.getAttribute(cell, "data-value")).toBe("1");
    expect(await page.getAttribute(cell, "data-cost")).toBe(String(erinCost));
    expect(await page.textContent(cell)).toBe(`1 · $${(erinCost / 1e6).toFixed(4)}`);
    expect(
      await page.getAttribute(
        `#users-table tr[data-user="alice@example.com"] td[data-col="cache_breaks"]`,
        "data-value",
      ),
    ).toBe("0");
    await reloading(() => page.click(`${cell} a`));
    expect(query()).toEqual({ view: "cache", user: ERIN });
    expect(await tableValues("#cache-users", "data-user")).toEqual([
      expect.objectContaining({ key: ERIN, breaks: "1", cost: String(erinCost) }),
    ]);
  });

  it("the cache-breaks view ranks users and causes by cost, with the costliest breaks", async () => {
    // The view keeps the shared filters: back to all users.
    await reloading(() => page.selectOption("#user", ""));
    expect(query()).toEqual({ view: "cache" });
    const erinBreak = erin[2]!.cache!.break!;
    const frankBreak = frank[2]!.cache!.break!;
    expect(await page.getAttribute("#cache-breaks", "data-value")).toBe("2");
    expect(await page.textContent("#cache-break-cost b")).toBe(
      `$${((erinBreak.cost_micros + frankBreak.cost_micros) / 1e6).toFixed(4)}`,
    );
    expect(await page.getAttribute("#cache-turns", "data-value")).toBe("7");
    const users = await tableValues("#cache-users", "data-user");
    expect(users.map((u) => [u.key, u.breaks, u.cost, u.missed])).toEqual([
      [ERIN, "1", String(erinBreak.cost_micros), String(erinBreak.missed_tokens)],
      [FRANK, "1", String(frankBreak.cost_micros), String(frankBreak.missed_tokens)],
    ]);
    const causes = await tableValues("#cache-causes", "data-cause");
    expect(causes.map((c) => [c.key, c.breaks, c.cost])).toEqual([
      ["tools_changed", "1", String(erinBreak.cost_micros)],
      ["system_changed", "1", String(frankBreak.cost_micros)],
    ]);
    expect(await page.textContent('#cache-causes tr[data-cause="tools_changed"] td[data-col="cause"]')).toBe(
      "tools changed",
    );
    const costliest = await tableValues("#costliest-breaks", "data-id");
    expect(costliest.map((b) => [b.key, b.user, b.cause, b.first_changed, b.cost, b.session])).toEqual([
      [erin[2]!.id, ERIN, "tools_changed", "tools", String(erinBreak.cost_micros), "sess-erin-cache"],
      [
        frank[2]!.id,
        FRANK,
        "system_changed",
        "system[2]",
        String(frankBreak.cost_micros),
        "sess-frank-cache",
      ],
    ]);
    await page.screenshot({ path: join(PROJECT_ROOT, "test-artifacts/dashboard-cache.png"), fullPage: true });
  });

  it("a session shows each turn as cache read / write / uncached input, the break marked with its cause", async () => {
    await reloading(() => page.click('#costliest-breaks tr[data-id] td[data-col="session"] a'));
    expect(query()).toEqual({ view: "session", session: "sess-erin-cache", interception: erin[2]!.id });
    const bars = await page.$$eval("#cache-chart rect[data-turn]", (rects) =>
      rects.map((r) => [
        r.getAttribute("data-turn"),
        r.getAttribute("data-key"),
        Number(r.getAttribute("data-value")),
      ]),
    );
    const expected = erin.flatMap((t, i) =>
      (
        [
          ["cache read", t.tokens.cache_read],
          ["cache write", t.tokens.cache_write],
          ["uncached input", t.tokens.input],
        ] as const
      )
        .filter(([, v]) => v > 0)
        .map(([key, v]) => [String(i + 1), key, v]),
    );
    expect(bars).toEqual(expected);
    // Turn 3 read nothing: its bar is all write (and a little uncached input).
    expect(bars.filter(([turn, key]) => turn === "3" && key === "cache read")).toEqual([]);
    const brk = erin[2]!.cache!.break!;
    const marks = await page.$$eval("#cache-chart g.mark", (gs) =>
      gs.map((g) => [
        g.getAttribute("data-turn"),
        g.getAttribute("data-cause"),
        g.querySelector("text")?.textContent,
        g.querySelector("title")?.textContent,
      ]),
    );
    const usd = `$${(brk.cost_micros / 1e6).toFixed(4)}`;
    expect(marks).toEqual([
      ["3", "tools_changed", "tools changed", `cache break: tools changed at tools, ${usd}`],
    ]);
    expect(await page.getAttribute("#cache-chart line[data-tick]", "data-tick")).toBe(
      String(erin[2]!.cache!.expected_read_tokens),
    );
    const rows = await tableValues("#breaks-table", "data-turn");
    expect(rows).toEqual([
      {
        key: "3",
        cause: "tools_changed",
        first_changed: "tools",
        expected: String(erin[2]!.cache!.expected_read_tokens),
        read: "0",
        missed: String(brk.missed_tokens),
        cost: String(brk.cost_micros),
      },
    ]);
    expect(await page.textContent('#breaks-table td[data-col="cost"]')).toBe(
      `$${(brk.cost_micros / 1e6).toFixed(4)}`,
    );
    expect(await page.getAttribute("#cache-breaks", "data-value")).toBe("1");
    expect(await page.textContent("#cache-break-cost b")).toBe(`$${(brk.cost_micros / 1e6).toFixed(4)}`);
    expect(await page.textContent("#detail-id")).toBe(erin[2]!.id);
    await page.screenshot({
      path: join(PROJECT_ROOT, "test-artifacts/dashboard-session.png"),
      fullPage: true,
    });
  });

  it("the interceptions list links each turn to its session", async () => {
    await reloading(() => page.click('#nav a[href="/admin"]'));
    await reloading(() =>
      page.click(`#interceptions-table tr[data-id="${frank[2]!.id}"] td[data-col="session"] a`),
    );
    expect(query()).toEqual({ view: "session", session: "sess-frank-cache", interception: frank[2]!.id });
    expect(await tableValues("#breaks-table", "data-turn")).toEqual([
      expect.objectContaining({ key: "3", cause: "system_changed", first_changed: "system[2]" }),
    ]);
    expect(consoleErrors.filter((e) => !e.startsWith("Failed to load resource"))).toEqual([]);
  });
});

describe("dashboard: budgets", () => {
  const BOB = "bob@example.com";
  const CAROL = "carol@example.com";
  let rejectedId: string;

  // bob spent $0.00325 today (seed-s4; his other request is unpriced). A $0.004 daily budget
  // leaves $0.00075, less than the worst case of any priced request: the next one is refused.
  beforeAll(async () => {
    const put = await dev.admin(`/limits/${encodeURIComponent(BOB)}`, {
      method: "PUT",
      body: JSON.stringify({ budget_usd: 0.004, period: "day" }),
    });
    expect(put.status).toBe(200);
    const { key } = await dev.createKey(BOB);
    const response = await fetch(`${dev.url}/anthropic/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": key, "anthropic-version": "2023-06-01" },
      body: JSON.stringify({
        model: "claude-haiku-4-5",
        max_tokens: 1000,
        messages: [{ role: "user", content: "One more question" }],
      }),
    });
    expect(response.status).toBe(429);
    await response.text();
    rejectedId = response.headers.get("x-aibridge-interception-id") ?? "";
    for (let attempt = 0; ; attempt++) {
      const list = (await (await dev.admin("/interceptions?status=rejected")).json()) as {
        interceptions: { id: string }[];
      };
      if (list.interceptions.some((i) => i.id === rejectedId)) break;
      if (attempt > 100) throw new Error("the rejected request was not recorded");
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 60_000);

  it("shows each user's spend against their budget, and the requests a limit refused", async () => {
    await page.goto(`${dev.url}/admin?view=limits`);
    await page.waitForSelector("#limits-table");
    const rows = await tableValues("#limits-table", "data-user");
    expect(rows).toEqual([
      expect.objectContaining({ key: BOB, spent: "3250", budget: "4000", spend: "0.8125", rejected: "1" }),
    ]);
    const bob = `#limits-table tr[data-user="${BOB}"]`;
    expect(await page.textContent(`${bob} td[data-col="rejected"]`)).toBe("1 (budget_exceeded 1)");
    expect(await page.textContent(`${bob} td[data-col="policy"]`)).toBe("$0.0040 / day");
    expect(await page.getAttribute(`${bob} td[data-col="spend"] .share-bar rect.warn`, "width")).toBe(
      "81.25",
    );
    const refused = await tableValues("#rejected-table", "data-id");
    expect(refused).toEqual([
      expect.objectContaining({ key: rejectedId, user: BOB, reason: "budget_exceeded" }),
    ]);
    expect(
      await page.textContent(`#rejected-table tr[data-id="${rejectedId}"] td[data-col="message"]`),
    ).toMatch(/budget/i);
  });

  it("edits a user's limits in a form: the server's validation message is shown, a valid policy is saved", async () => {
    await reloading(() => page.click(`#limits-table tr[data-user="${BOB}"] a.edit`));
    expect(query()).toEqual({ view: "limits", edit: BOB });
    expect(await page.inputValue("#limit-budget_usd")).toBe("0.004");
    expect(await page.inputValue("#limit-period")).toBe("day");

    await page.fill("#limit-budget_usd", "-5");
    await page.click("#limits-save");
    await page.waitForFunction(() => document.querySelector("#limits-error")?.textContent);
    expect(await page.textContent("#limits-error")).toBe(
      "budget_usd must be a number of US dollars between 0 and 1e9.",
    );
    await page.fill("#limit-budget_usd", "0.01");
    await page.fill("#limit-allow", "(unclosed");
    await page.click("#limits-save");
    await page.waitForFunction(() => document.querySelector("#limits-error")?.textContent?.includes("allow"));
    await page.screenshot({
      path: join(PROJECT_ROOT, "test-artifacts/dashboard-limits-form.png"),
      fullPage: true,
    });
    // Nothing was saved by the refused attempts.
    const before = (await (await dev.admin(`/limits/${encodeURIComponent(BOB)}`)).json()) as {
      policy: unknown;
    };
    expect(before.policy).toEqual({ budget_usd: 0.004, period: "day" });

    await page.fill("#limit-allow", "^claude-");
    await reloading(() => page.click("#limits-save"));
    expect(query()).toEqual({ view: "limits" });
    const after = (await (await dev.admin(`/limits/${encodeURIComponent(BOB)}`)).json()) as {
      policy: unknown;
    };
    expect(after.policy).toEqual({ budget_usd: 0.01, period: "day", models: { allow: "^claude-" } });
    const bob = `#limits-table tr[data-user="${BOB}"]`;
    expect(await page.getAttribute(`${bob} td[data-col="budget"]`, "data-value")).toBe("10000");
    expect(await page.getAttribute(`${bob} td[data-col="spend"]`, "data-value")).toBe("0.3250");

    // A user without a policy yet.
    await reloading(() => page.click("#limits-add"));
    await page.fill("#limit-user", CAROL);
    await page.fill("#limit-budget_usd", "1");
    await page.selectOption("#limit-period", "month");
    await reloading(() => page.click("#limits-save"));
    const carol = await tableValues("#limits-table", "data-user");
    expect(carol.map((r) => [r.key, r.budget])).toEqual([
      [BOB, "10000"],
      [CAROL, "1000000"],
    ]);
    await page.screenshot({
      path: join(PROJECT_ROOT, "test-artifacts/dashboard-budgets.png"),
      fullPage: true,
    });

    // Removing carol's policy: she has no limits again.
    await reloading(() => page.click(`#limits-table tr[data-user="${CAROL}"] a.edit`));
    await reloading(() => page.click("#limits-delete"));
    expect((await tableValues("#limits-table", "data-user")).map((r) => r.key)).toEqual([BOB]);
    expect((await dev.admin(`/limits/${encodeURIComponent(CAROL)}`)).status).toBe(404);
    expect(consoleErrors.filter((e) => !e.startsWith("Failed to load resource"))).toEqual([]);
  });
});

describe("dashboard: redactions", () => {
  const GRACE = "grace@example.com";
  let id: string;

  // One request with two (fake) secrets in its prompt: the recorder stores markers, and counts.
  beforeAll(async () => {
    const { key } = await dev.createKey(GRACE);
    const response = await fetch(`${dev.url}/anthropic/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": key, "anthropic-version": "2023-06-01" },
      body: JSON.stringify({
        model: "claude-sonnet-4-5-20250929",
        max_tokens: 100,
        messages: [
          {
            role: "user",
            content: `Why is ${SECRETS.awsAccessKeyId.value} refused, and is ${SECRETS.anthropic.value} still valid?`,
          },
        ],
      }),
    });
    expect(response.status).toBe(200);
    await response.text();
    id = response.headers.get("x-aibridge-interception-id") ?? "";
    for (let attempt = 0; ; attempt++) {
      const answer = (await (await dev.admin(`/redactions?group_by=user&user=${GRACE}`)).json()) as {
        rows: unknown[];
      };
      if (answer.rows.length > 0) break;
      if (attempt > 100) throw new Error("the redactions were not recorded");
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 60_000);

  it("counts the secrets redacted per user and per kind, and per interception in its details", async () => {
    await page.goto(`${dev.url}/admin?view=redactions`);
    await page.waitForSelector("#redaction-users");
    expect(await page.getAttribute("#redaction-secrets", "data-value")).toBe("2");
    expect(await page.getAttribute("#redaction-interceptions", "data-value")).toBe("1");
    const users = await tableValues("#redaction-users", "data-user");
    expect(users[0]).toEqual({
      key: GRACE,
      user: GRACE,
      redactions: "2",
      interceptions: "1",
      redacted: "1",
      full: "0",
      none: "0",
      opted_down: "0",
    });
    const kinds = await tableValues("#redaction-kinds", "data-kind");
    expect(kinds.map((k) => [k.key, k.redactions, k.interceptions])).toEqual([
      ["anthropic_api_key", "1", "1"],
      ["aws_access_key_id", "1", "1"],
    ]);
    await page.screenshot({
      path: join(PROJECT_ROOT, "test-artifacts/dashboard-redactions.png"),
      fullPage: true,
    });

    await reloading(() => page.click(`#redaction-users tr[data-user="${GRACE}"] a`));
    expect(query()).toEqual({ view: "user", user: GRACE });
    const status = `#interceptions-table tr[data-id="${id}"] td[data-col="status"]`;
    expect(await page.getAttribute(status, "data-redactions")).toBe("2");
    expect(await page.textContent(status)).toBe("completed2 redacted");
    await reloading(() => page.click(`#interceptions-table tr[data-id="${id}"] td[data-col="model"]`));
    expect(await page.getAttribute("#detail-redactions", "data-value")).toBe("2");
    expect(await page.textContent("#detail-redactions")).toBe("anthropic_api_key × 1, aws_access_key_id × 1");
    const prompt = await page.textContent("#detail-prompts");
    expect(prompt).toContain("Why is ");
    expect(prompt).not.toContain(SECRETS.awsAccessKeyId.value);
    expect(prompt).not.toContain(SECRETS.anthropic.value);
    await page.screenshot({ path: join(PROJECT_ROOT, "test-artifacts/dashboard-redaction-panel.png") });
    expect(consoleErrors.filter((e) => !e.startsWith("Failed to load resource"))).toEqual([]);
  });
});
