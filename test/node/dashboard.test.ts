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
import { EXPECTED_7D, seedSql, utcDay } from "../worker/admin-seed";
import { launchBrowser } from "./browser";
import { PROJECT_ROOT, startWranglerDev, type WranglerDev } from "./wrangler-dev";

const run = promisify(execFile);
let dev: WranglerDev;
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];

beforeAll(async () => {
  dev = await startWranglerDev();
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
