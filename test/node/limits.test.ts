/**
 * Budgets under real concurrency and real disconnects: the Worker and its UserLimiter Durable Object
 * under `wrangler dev` (./wrangler-dev.ts), the fake Anthropic upstream, plain fetch over TCP.
 *
 * Worst case of one call (docs/limits.md), claude-sonnet-4-5 list prices (dearest input: cache
 * write 1h, $6; output $15 per MTok): (body bytes + 1000) × 6 + max_tokens × 15 micro-dollars.
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startFakeAnthropic } from "../fakes/anthropic";
import type { FakeServer } from "../fakes/server";
import { PROJECT_ROOT, startWranglerDev, type WranglerDev } from "./wrangler-dev";

const run = promisify(execFile);

let fake: FakeServer;
let dev: WranglerDev;

beforeAll(async () => {
  fake = await startFakeAnthropic();
  dev = await startWranglerDev({ vars: { ANTHROPIC_BASE_URL: fake.url } });
});

afterAll(async () => {
  await dev?.stop();
  await fake?.close();
});

function bound(text: string, maxTokens: number): number {
  return (Buffer.byteLength(text) + 1000) * 6 + maxTokens * 15;
}

async function limitState(user: string): Promise<Record<string, number | string | null>> {
  const response = await dev.admin(`/limits/${encodeURIComponent(user)}`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { state: Record<string, number | string | null> }).state;
}

/**
 * Waits until nothing of the user's is in flight. On timeout the error carries what the gateway
 * logged about the interception and any error it logged: a reservation left held is otherwise a
 * riddle (did the interception end, and did the reconcile reach the Durable Object?).
 */
async function settled(user: string, interceptionId?: string | null) {
  return vi
    .waitFor(
      async () => {
        const state = await limitState(user);
        if (state.in_flight !== 0) throw new Error(`in flight: ${JSON.stringify(state)}`);
        return state;
      },
      { timeout: 30_000, interval: 250 },
    )
    .catch((error: Error) => {
      const logged = dev
        .output()
        .split("\n")
        .filter((line) => (interceptionId && line.includes(interceptionId)) || /"level":"error"/.test(line));
      throw new Error(`${error.message}\nthe gateway logged:\n${logged.slice(-30).join("\n")}`);
    });
}

describe("budgets against wrangler dev", () => {
  it("200 concurrent requests against a budget that fits 10: 10 served, 190 refused with retry-after, spend ≤ budget, nothing recorded twice", async () => {
    const user = "crowd@example.com";
    const { key } = await dev.createKey(user);
    const text = JSON.stringify({
      model: "claude-sonnet-4-5",
      max_tokens: 100,
      stream: true,
      messages: [{ role: "user", content: "Hello there" }],
    });
    const worst = bound(text, 100);
    // Ten worst cases and half of an eleventh.
    const budgetMicros = worst * 10 + Math.floor(worst / 2);
    const put = await dev.admin(`/limits/${encodeURIComponent(user)}`, {
      method: "PUT",
      body: JSON.stringify({ budget_usd: budgetMicros / 1e6, period: "month" }),
    });
    expect(put.status).toBe(200);

    // "gated": the fake holds every admitted stream open until released, so all 200 are decided
    // while the admitted ones still hold their reservations.
    const traces = Array.from({ length: 200 }, () => randomUUID());
    const responses = await Promise.all(
      traces.map((trace) =>
        fetch(`${dev.url}/anthropic/v1/messages`, {
          method: "POST",
          headers: {
            "x-api-key": key,
            "content-type": "application/json",
            "x-fake-scenario": "gated",
            "x-fake-trace": trace,
          },
          body: text,
        }),
      ),
    );
    const served = responses.filter((r) => r.status === 200);
    const refused = responses.filter((r) => r.status === 429);
    expect(served).toHaveLength(10);
    expect(refused).toHaveLength(190);
    for (const response of refused) {
      expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
      const body = (await response.json()) as { error: { type: string; message: string } };
      expect(body.error.type).toBe("rate_limit_error");
      expect(body.error.message).toContain("Budget of $");
    }
    await Promise.all(
      traces.map((trace) => fetch(`${fake.url}/__fake/release/${trace}`, { method: "POST" })),
    );
    for (const response of served) expect(await response.text()).toContain("message_stop");

    const state = await settled(user);
    const rows = await vi.waitFor(
      async () => {
        const found = await dev.d1<{ status: string; n: number; usages: number; micros: number | null }>(
          `select i.status, count(distinct i.id) as n, count(t.id) as usages, sum(t.cost_micros) as micros
           from aibridge_interceptions i left join aibridge_token_usages t on t.interception_id = i.id
           where i.initiator_id = '${user}' and i.ended_at is not null group by i.status order by i.status`,
        );
        const total = found.reduce((sum, r) => sum + r.n, 0);
        if (total < 200) throw new Error(`only ${total} interceptions ended in D1`);
        return found;
      },
      { timeout: 60_000, interval: 500 },
    );
    const completed = rows.find((r) => r.status === "completed");
    const rejected = rows.find((r) => r.status === "rejected");
    expect(completed).toMatchObject({ n: 10, usages: 10 }); // one usage record each: nothing twice
    expect(rejected).toMatchObject({ n: 190, usages: 0 });
    const recorded = completed?.micros ?? 0;
    expect(recorded).toBeLessThanOrEqual(budgetMicros);
    expect(state.spent_usd).toBe(recorded / 1e6);
    expect(state.reserved_usd).toBe(0);
    // Only the admitted ten reached the upstream.
    const upstream = (await (await fetch(`${fake.url}/__fake/requests`)).json()) as {
      headers: Record<string, string>;
    }[];
    const seen = new Set<string>(traces);
    expect(upstream.filter((r) => seen.has(r.headers["x-fake-trace"] ?? "")).length).toBe(10);
  });

  it("200 blocking requests from 20 concurrent clients, reconciles interleaved with admissions: the spend never passes the budget", async () => {
    const user = "crowd-blocking@example.com";
    const { key } = await dev.createKey(user);
    const text = JSON.stringify({
      model: "claude-sonnet-4-5",
      max_tokens: 100,
      messages: [{ role: "user", content: "Hello there" }],
    });
    // Each answer really costs 25 × $3 + 15 × $15 per MTok = 300 micro-dollars: 200 of them would be
    // 60,000, over a budget of five worst cases (~41,000). Reservations must stop them in time.
    const budgetMicros = bound(text, 100) * 5;
    await dev.admin(`/limits/${encodeURIComponent(user)}`, {
      method: "PUT",
      body: JSON.stringify({ budget_usd: budgetMicros / 1e6, period: "month" }),
    });
    // 20 clients, 10 requests each, back to back: admissions interleave with reconciles.
    const ask = async () => {
      const response = await fetch(`${dev.url}/anthropic/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": key, "content-type": "application/json" },
        body: text,
      });
      await response.arrayBuffer();
      return response.status;
    };
    const statuses = (
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          const mine: number[] = [];
          for (let i = 0; i < 10; i++) mine.push(await ask());
          return mine;
        }),
      )
    ).flat();
    const served = statuses.filter((s) => s === 200).length;
    expect(served + statuses.filter((s) => s === 429).length).toBe(200);
    // Reconciled requests gave their unused worst case back, so far more than five fitted.
    expect(served).toBeGreaterThan(20);
    const state = await settled(user);
    const [row] = await vi.waitFor(
      async () => {
        const found = await dev.d1<{ n: number; micros: number }>(
          `select count(*) as n, coalesce(sum(t.cost_micros), 0) as micros from aibridge_token_usages t
           join aibridge_interceptions i on i.id = t.interception_id where i.initiator_id = '${user}'`,
        );
        if ((found[0]?.n ?? 0) < served) throw new Error("usage not all recorded yet");
        return found;
      },
      { timeout: 60_000, interval: 500 },
    );
    expect(row?.n).toBe(served);
    expect(row?.micros).toBe(served * 300);
    expect(row?.micros).toBeLessThanOrEqual(budgetMicros);
    expect(state.spent_usd).toBe((row?.micros ?? 0) / 1e6);
    console.log(`blocking crowd: ${served} served, spend ${row?.micros} of ${budgetMicros} micro-dollars`);
  });

  it("a streaming client that disconnects mid-stream: the reservation is reconciled to the drained usage", async () => {
    const user = "leaver@example.com";
    const { key } = await dev.createKey(user);
    await dev.admin(`/limits/${encodeURIComponent(user)}`, {
      method: "PUT",
      body: JSON.stringify({ budget_usd: 5, period: "day" }),
    });
    const controller = new AbortController();
    const trace = randomUUID();
    const response = await fetch(`${dev.url}/anthropic/v1/messages`, {
      method: "POST",
      headers: {
        "x-api-key": key,
        "content-type": "application/json",
        "x-fake-scenario": "slow",
        "x-fake-trace": trace,
      },
      body: JSON.stringify({
        model: "claude-sonnet-4-5",
        max_tokens: 8000,
        stream: true,
        messages: [{ role: "user", content: "write a lot" }],
      }),
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    const id = response.headers.get("x-aibridge-interception-id");
    const reader = response.body?.getReader();
    await reader?.read();
    await reader?.read();
    const during = await limitState(user);
    expect(during.in_flight).toBe(1);
    expect(Number(during.reserved_usd)).toBeGreaterThan(0);
    controller.abort();
    await reader?.cancel().catch(() => {});

    const state = await settled(user, id);
    const [usage] = await vi.waitFor(
      async () => {
        const found = await dev.d1<{ output_tokens: number; cost_micros: number }>(
          `select output_tokens, cost_micros from aibridge_token_usages where interception_id = '${id}'`,
        );
        if (found.length === 0) throw new Error("usage not recorded yet");
        return found;
      },
      { timeout: 60_000, interval: 500 },
    );
    expect(usage?.output_tokens).toBe(4242); // the drained final usage, not a partial count
    expect(state.spent_usd).toBe((usage?.cost_micros ?? 0) / 1e6);
    expect(state.reserved_usd).toBe(0);
    const [row] = await dev.d1<{ status: string }>(
      `select status from aibridge_interceptions where id = '${id}'`,
    );
    expect(row?.status).toBe("client_disconnected");
  });

  it("the CLI: set, list, clear, written to D1 and applied by the running gateway within its 5 s policy cache", async () => {
    const cli = async (...args: string[]) =>
      (
        await run(
          process.execPath,
          [join(PROJECT_ROOT, "scripts/limits.mjs"), ...args, "--persist-to", dev.persistTo],
          {
            cwd: PROJECT_ROOT,
          },
        )
      ).stdout;
    const user = "cli-limits@example.com";
    const { key } = await dev.createKey(user);
    const ask = async () => {
      const response = await fetch(`${dev.url}/anthropic/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": key, "content-type": "application/json" },
        body: JSON.stringify({
          model: "claude-sonnet-4-5",
          max_tokens: 5,
          messages: [{ role: "user", content: "hi" }],
        }),
      });
      await response.arrayBuffer();
      return response.status;
    };
    const becomes = (status: number) =>
      vi.waitFor(async () => expect(await ask()).toBe(status), { timeout: 8_000, interval: 250 });

    // A "*" default that limits something, so the user's Durable Object stays in use after clear.
    await dev.admin("/limits/*", { method: "PUT", body: JSON.stringify({ budget_usd: 100 }) });
    expect(await ask()).toBe(200);
    const out = await cli(
      "set",
      "--user",
      user,
      "--budget-usd",
      "50",
      "--period",
      "week",
      "--rpm",
      "60",
      "--tpm",
      "400000",
      "--allow",
      "^claude-",
      "--deny",
      "sonnet",
    );
    expect(out).toContain(`Set limits for ${user}`);
    await becomes(403);
    const listed = JSON.parse(await cli("list", "--json")) as { user: string; policy: unknown }[];
    const policy = {
      budget_usd: 50,
      period: "week",
      requests_per_minute: 60,
      tokens_per_minute: 400000,
      models: { allow: "^claude-", deny: "sonnet" },
    };
    expect(listed.find((l) => l.user === user)?.policy).toEqual(policy);
    const viaApi = (await (await dev.admin(`/limits/${encodeURIComponent(user)}`)).json()) as {
      policy: unknown;
    };
    expect(viaApi.policy).toEqual(policy);

    await expect(cli("set", "--user", user, "--period", "year")).rejects.toThrow(/--period must be one of/);
    expect(await cli("clear", "--user", user)).toContain(`Cleared limits for ${user}`);
    // The deletion left no row, yet the Durable Object gives up the old policy: the gateway's
    // fresh read of "*" is newer than the copy it held.
    await becomes(200);
    await dev.admin("/limits/*", { method: "DELETE" });
  });
});
