/**
 * Per-user limits end to end in workerd: the official SDKs (or raw fetch) → the real Worker → the
 * real UserLimiter Durable Object (SQLite) → the fake upstreams, records through the real queue into
 * D1. Time is moved on the Durable Object's own clock (setTestClock, enabled here only by the
 * LIMITS_TEST_CLOCK binding in vitest.config.ts), never slept.
 *
 * Prices used (src/pricing/prices.ts, claude-sonnet-4-5): input $3, cache write 1h $6 (the dearest
 * input), output $15 per MTok. The worst case of a call (docs/limits.md) is therefore
 * (body bytes + 1000) × 6 + max_tokens × 15 micro-dollars.
 */
import {
  createExecutionContext,
  env,
  listDurableObjectIds,
  SELF,
  waitOnExecutionContext,
} from "cloudflare:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { describe, expect, inject, it } from "vitest";
import worker from "../../src/index";
import { utf8Length } from "../../src/limits/admission";
import { inputTokenBound, outputTokenBound, worstCaseMicros } from "../../src/limits/bound";
import type { LimitState } from "../../src/limits/limiter";
import { LAYOUT } from "../../src/metrics/layout";
import { findPrice } from "../../src/pricing";
import { admin, createKey, endedInterception, eventually, fakeRequests, GATEWAY, rows } from "./helpers";

const MODEL = "claude-sonnet-4-5";
const MAX_TOKENS = 100;

function body(extra: Record<string, unknown> = {}) {
  return JSON.stringify({
    model: MODEL,
    max_tokens: MAX_TOKENS,
    messages: [{ role: "user", content: "Hello there" }],
    ...extra,
  });
}

/** The documented worst case of one Anthropic call with `text` as its body, in micro-dollars. */
function bound(text: string, maxTokens = MAX_TOKENS): number {
  return (new TextEncoder().encode(text).byteLength + 1000) * 6 + maxTokens * 15;
}

const namespace = () => {
  if (!env.LIMITER) throw new Error("LIMITER binding missing");
  return env.LIMITER;
};
const limiter = (user: string) => namespace().get(namespace().idFromName(user));

async function setClock(user: string, iso: string | null) {
  await limiter(user).setTestClock(iso === null ? null : Date.parse(iso));
}

async function putPolicy(user: string, policy: unknown): Promise<Response> {
  return admin(`/limits/${encodeURIComponent(user)}`, { method: "PUT", body: JSON.stringify(policy) });
}

async function state(user: string): Promise<LimitState> {
  const response = await admin(`/limits/${encodeURIComponent(user)}`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { state: LimitState }).state;
}

/** Waits until every reservation of the user has been reconciled. */
async function settled(user: string): Promise<LimitState> {
  return eventually(async () => {
    const s = await state(user);
    if (s.in_flight !== 0) throw new Error(`still in flight: ${JSON.stringify(s)}`);
    return s;
  });
}

async function messages(key: string, text = body(), headers: Record<string, string> = {}) {
  return SELF.fetch(`${GATEWAY}/anthropic/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": key, "content-type": "application/json", ...headers },
    body: text,
  });
}

async function recordedCostMicros(user: string): Promise<number> {
  const [row] = await rows<{ micros: number }>(
    `select coalesce(sum(t.cost_micros), 0) as micros from aibridge_token_usages t
     join aibridge_interceptions i on i.id = t.interception_id where i.initiator_id = ?`,
    user,
  );
  return row?.micros ?? 0;
}

function anthropicSdk(key: string, headers: Record<string, string> = {}) {
  return new Anthropic({
    baseURL: `${GATEWAY}/anthropic`,
    apiKey: key,
    maxRetries: 0,
    defaultHeaders: headers,
    fetch: SELF.fetch.bind(SELF),
  });
}

function openaiSdk(key: string, headers: Record<string, string> = {}) {
  return new OpenAI({
    baseURL: `${GATEWAY}/openai/v1`,
    apiKey: key,
    maxRetries: 0,
    defaultHeaders: headers,
    fetch: SELF.fetch.bind(SELF),
  });
}

async function upstreamSaw(trace: string): Promise<number> {
  const all = [...(await fakeRequests(inject("anthropicUrl"))), ...(await fakeRequests(inject("openaiUrl")))];
  return all.filter((r) => r.headers["x-fake-trace"] === trace).length;
}

describe("the upper bound (src/limits/bound.ts)", () => {
  it("counts body bytes exactly (UTF-8), adds the overhead and media allowances, and takes each API's output cap", () => {
    for (const text of ["plain", "naïve café", "🌍 emoji", "lone \ud800 surrogate", "end \udc00"]) {
      expect(utf8Length(text)).toBe(new TextEncoder().encode(text).byteLength);
    }
    const image = '{"type":"image","source":{}} {"type": "input_image"} {"type":"image_url"}';
    expect(inputTokenBound({ model: "m", bodyBytes: 10, json: {}, text: image })).toBe(10 + 1000 + 3 * 5000);
    expect(inputTokenBound({ model: "m", bodyBytes: 10, json: {}, text: '{"type":"document"}' })).toBe(
      10 + 1000 + 300_000,
    );
    expect(outputTokenBound("claude-sonnet-4-5", { max_tokens: 77 })).toBe(77);
    expect(outputTokenBound("gpt-4o", { max_completion_tokens: 50, n: 3 })).toBe(150);
    expect(outputTokenBound("gpt-5", { max_output_tokens: 9 })).toBe(9);
    expect(outputTokenBound("gpt-4o-2024-08-06", {})).toBe(16_384);
    expect(outputTokenBound("some-new-model", {})).toBe(128_000);
    const price = findPrice("claude-sonnet-4-5");
    expect(price).not.toBeNull();
    if (price) {
      // Dearest input (cache write 1h, $6) for every input token; output at $15.
      expect(
        worstCaseMicros(
          { model: "claude-sonnet-4-5", bodyBytes: 100, json: { max_tokens: 10 }, text: "" },
          price,
        ),
      ).toBe(1100 * 6 + 10 * 15);
    }
  });
});

describe("admin API for limits", () => {
  it("validates, stores in D1, reads back with state, deletes", async () => {
    const user = "policy-admin@example.com";
    for (const [bad, says] of [
      [{ budget_usd: -1 }, "budget_usd"],
      [{ period: "year" }, "period"],
      [{ requests_per_minute: 1.5 }, "requests_per_minute"],
      [{ models: { allow: "(" } }, "models.allow"],
      [{ record_content: "partial" }, "record_content"],
      [{ budget: 5 }, 'Unknown field "budget"'],
      [[1], "JSON object"],
    ] as const) {
      const response = await putPolicy(user, bad);
      expect(response.status, JSON.stringify(bad)).toBe(400);
      expect(((await response.json()) as { error: string }).error).toContain(says);
    }
    expect((await admin(`/limits/${user}`)).status).toBe(404);

    const policy = {
      budget_usd: 50,
      period: "week",
      requests_per_minute: 60,
      tokens_per_minute: 400000,
      models: { allow: "^claude-(sonnet|haiku)", deny: "opus" },
      record_content: "redacted",
    };
    const put = await putPolicy(user, policy);
    expect(put.status).toBe(200);
    const [row] = await rows<{ policy: string }>(
      "select policy from aibridge_limits where user_id = ?",
      user,
    );
    expect(JSON.parse(row?.policy ?? "null")).toEqual(policy);

    const got = (await (await admin(`/limits/${user}`)).json()) as Record<string, unknown>;
    expect(got).toMatchObject({ user, source: "user", policy, rejected: { total: 0 } });
    expect(got.state).toMatchObject({
      period: "week",
      budget_usd: 50,
      spent_usd: 0,
      reserved_usd: 0,
      remaining_usd: 50,
      requests_last_minute: 0,
      tokens_last_minute: 0,
    });
    const s = got.state as LimitState;
    // ISO week: starts on a Monday at 00:00 UTC, ends 7 days later.
    expect(new Date(s.period_start ?? "").getUTCDay()).toBe(1);
    expect(Date.parse(s.resets_at ?? "") - Date.parse(s.period_start ?? "")).toBe(7 * 86_400_000);

    const list = (await (await admin("/limits")).json()) as { users: { user: string }[] };
    expect(list.users.map((u) => u.user)).toContain(user);

    expect((await admin(`/limits/${user}`, { method: "DELETE" })).status).toBe(200);
    expect((await admin(`/limits/${user}`, { method: "DELETE" })).status).toBe(404);
    expect(await rows("select * from aibridge_limits where user_id = ?", user)).toHaveLength(0);
  });
});

describe("users without limits", () => {
  it("a user with no policy (and no *) pays no Durable Object round trip; nor does record_content alone", async () => {
    const { key } = await createKey("free@example.com");
    expect((await messages(key)).status).toBe(200);
    const { key: key2 } = await createKey("content-only@example.com");
    expect((await putPolicy("content-only@example.com", { record_content: "none" })).status).toBe(200);
    const contentOnly = await messages(key2);
    expect(contentOnly.status).toBe(200);
    // The policy's record_content reaches the recorder (src/redaction, through loadPolicy).
    const { interception } = await endedInterception(
      contentOnly.headers.get("x-aibridge-interception-id") ?? "",
    );
    expect(interception).toMatchObject({ record_content: "none", record_content_source: "policy" });
    // Their own view works too, and needs no Durable Object either.
    const me = (await (await SELF.fetch(`${GATEWAY}/v1/me`, { headers: { "x-api-key": key } })).json()) as {
      user: string;
      policy: unknown;
      state: unknown;
      usage: { period: string };
    };
    expect(me).toMatchObject({
      user: "free@example.com",
      policy: null,
      state: null,
      usage: { period: "month" },
    });
    const ids = await listDurableObjectIds(namespace());
    const ns = namespace();
    for (const user of ["free@example.com", "content-only@example.com"]) {
      expect(ids.some((id) => id.equals(ns.idFromName(user)))).toBe(false);
    }
  });
});

describe("budget", () => {
  it("admits while spent + reserved + worst case ≤ budget; reconciles to the recorded cost; refuses with 429 and retry-after", async () => {
    const user = "budget@example.com";
    const { key } = await createKey(user);
    const text = body();
    // Room for one worst case and 100 micro-dollars more: the second request cannot fit.
    const budgetMicros = bound(text) + 100;
    await putPolicy(user, { budget_usd: budgetMicros / 1e6, period: "month" });

    const first = await messages(key, text);
    expect(first.status).toBe(200);
    await first.text();
    // Near the limit: the answer says how much is left and when it resets.
    expect(first.headers.get("x-aibridge-budget-remaining-usd")).toBe((100 / 1e6).toFixed(6));
    const reset = first.headers.get("x-aibridge-budget-reset") ?? "";
    const now = new Date();
    expect(reset).toBe(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString());

    const s = await settled(user);
    const recorded = await eventually(async () => {
      const micros = await recordedCostMicros(user);
      if (micros === 0) throw new Error("no usage recorded yet");
      return micros;
    });
    expect(recorded).toBe(25 * 3 + 15 * 15); // the fake's usage: 25 input, 15 output tokens
    expect(s.spent_usd).toBe(recorded / 1e6);
    expect(s.reserved_usd).toBe(0);

    const trace = crypto.randomUUID();
    const refused = await anthropicSdk(key, { "x-fake-trace": trace })
      .messages.create(JSON.parse(text))
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.RateLimitError);
    const error = refused as InstanceType<typeof Anthropic.RateLimitError>;
    expect(error.status).toBe(429);
    expect((error.error as { error: { type: string } }).error.type).toBe("rate_limit_error");
    expect(error.message).toContain("Budget of $");
    expect(error.message).toContain(reset);
    const retryAfter = Number(error.headers?.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(Math.abs(retryAfter - (Date.parse(reset) - Date.now()) / 1000)).toBeLessThan(60);
    expect(await upstreamSaw(trace)).toBe(0);

    const id = error.headers?.get("x-aibridge-interception-id") ?? "";
    const { interception } = await endedInterception(id);
    expect(interception).toMatchObject({ status: "rejected", error_type: "budget_exceeded" });
    const listed = (await (await admin(`/limits/${user}`)).json()) as { rejected: unknown };
    expect(listed.rejected).toEqual({ total: 1, by_reason: { budget_exceeded: 1 } });
  });

  it("OpenAI: an exhausted budget is insufficient_quota (429), the model policy permission_denied (403)", async () => {
    const user = "budget-openai@example.com";
    const { key } = await createKey(user);
    await putPolicy(user, { budget_usd: 0.000001, models: { deny: "mini" } });
    const client = openaiSdk(key);
    const quota = await client.chat.completions
      .create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e);
    expect(quota).toBeInstanceOf(OpenAI.RateLimitError);
    const q = quota as InstanceType<typeof OpenAI.RateLimitError>;
    expect(q.code).toBe("insufficient_quota");
    expect(q.type).toBe("insufficient_quota");
    expect(Number(q.headers?.get("retry-after"))).toBeGreaterThan(0);
    const denied = await client.responses
      .create({ model: "gpt-4o-mini", input: "hi" })
      .catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((denied as InstanceType<typeof OpenAI.PermissionDeniedError>).code).toBe("model_not_allowed");
  });

  it("a model without a price is refused under a budget (403): its cost could not be bounded", async () => {
    const user = "unpriced@example.com";
    const { key } = await createKey(user);
    await putPolicy(user, { budget_usd: 100 });
    const response = await messages(key, body({ model: "mystery-model-7" }));
    expect(response.status).toBe(403);
    const json = (await response.json()) as { error: { type: string; message: string } };
    expect(json.error.type).toBe("permission_error");
    expect(json.error.message).toContain("no known price");
  });

  it("streaming: the worst case is held while the stream runs and reconciled to the recorded cost at its end", async () => {
    const user = "stream-budget@example.com";
    const { key } = await createKey(user);
    await putPolicy(user, { budget_usd: 10, period: "day" });
    const text = body({ stream: true });
    const trace = crypto.randomUUID();
    const response = await messages(key, text, { "x-fake-scenario": "gated", "x-fake-trace": trace });
    expect(response.status).toBe(200);
    const held = await state(user);
    expect(held.in_flight).toBe(1);
    expect(held.reserved_usd).toBe(bound(text) / 1e6);
    expect(held.remaining_usd).toBe((10e6 - bound(text)) / 1e6);
    await fetch(`${inject("anthropicUrl")}/__fake/release/${trace}`, { method: "POST" });
    await response.text();
    const after = await settled(user);
    const recorded = await eventually(async () => {
      const micros = await recordedCostMicros(user);
      if (micros === 0) throw new Error("no usage recorded yet");
      return micros;
    });
    expect(after.reserved_usd).toBe(0);
    expect(after.spent_usd).toBe(recorded / 1e6);
  });

  it("upstream 5xx: the reservation is released, nothing is spent", async () => {
    const user = "upstream-fail@example.com";
    const { key } = await createKey(user);
    await putPolicy(user, { budget_usd: 1 });
    const response = await messages(key, body(), { "x-fake-scenario": "status-500" });
    expect(response.status).toBe(500);
    await response.text();
    const s = await settled(user);
    expect(s).toMatchObject({ spent_usd: 0, reserved_usd: 0, remaining_usd: 1 });
    const { interception } = await endedInterception(
      response.headers.get("x-aibridge-interception-id") ?? "",
    );
    expect(interception.status).toBe("failed");
  });
});

describe("periods, rate windows and policy changes (the Durable Object's clock is injected)", () => {
  it("period rollover: refused at 23:59:30 until midnight, admitted again after it", async () => {
    const user = "rollover@example.com";
    const { key } = await createKey(user);
    await setClock(user, "2030-01-31T23:59:30Z");
    const text = body();
    await putPolicy(user, { budget_usd: (bound(text) + 100) / 1e6, period: "day" });
    expect((await messages(key, text)).status).toBe(200);
    await settled(user);
    const refused = await messages(key, text);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("30");
    expect(await refused.text()).toContain("2030-02-01T00:00:00.000Z");

    await setClock(user, "2030-02-01T00:00:05Z");
    const next = await messages(key, text);
    expect(next.status).toBe(200);
    await next.text();
    const s = await settled(user);
    expect(s.period_start).toBe("2030-02-01T00:00:00.000Z");
    expect(s.resets_at).toBe("2030-02-02T00:00:00.000Z");
    expect(s.spent_usd).toBe((25 * 3 + 15 * 15) / 1e6);
    await setClock(user, null);
  });

  it("requests per minute: the third request in a minute is refused until the first leaves the window", async () => {
    const user = "rpm@example.com";
    const { key } = await createKey(user);
    await putPolicy(user, { requests_per_minute: 2 });
    await setClock(user, "2030-03-01T10:00:00Z");
    expect((await messages(key)).status).toBe(200);
    await setClock(user, "2030-03-01T10:00:20Z");
    expect((await messages(key)).status).toBe(200);
    const refused = await anthropicSdk(key)
      .messages.create(JSON.parse(body()))
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.RateLimitError);
    const error = refused as InstanceType<typeof Anthropic.RateLimitError>;
    expect(error.headers?.get("retry-after")).toBe("40");
    expect(error.message).toContain("2 requests per minute");
    expect((await state(user)).requests_last_minute).toBe(2);

    await setClock(user, "2030-03-01T10:01:00.001Z");
    expect((await messages(key)).status).toBe(200);
    await setClock(user, null);
  });

  it("tokens per minute (OpenAI): refused once the window's recorded tokens reach the limit, rate_limit_exceeded", async () => {
    const user = "tpm@example.com";
    const { key } = await createKey(user);
    await putPolicy(user, { tokens_per_minute: 100 });
    await setClock(user, "2030-04-01T08:00:00Z");
    const client = openaiSdk(key);
    const ask = () =>
      client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
    await ask(); // 50 + 9 tokens
    await settled(user);
    await ask(); // the window holds 59 < 100: admitted, then 118
    const s = await settled(user);
    expect(s.tokens_last_minute).toBe(118);
    await setClock(user, "2030-04-01T08:00:10Z");
    const refused = await ask().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    const error = refused as InstanceType<typeof OpenAI.RateLimitError>;
    expect(error.code).toBe("rate_limit_exceeded");
    expect(error.type).toBe("tokens");
    // 118 − the first request's 59 = 59 < 100: the window frees when the first leaves it (50 s).
    expect(error.headers?.get("retry-after")).toBe("50");

    await setClock(user, "2030-04-01T08:01:00.001Z");
    await expect(ask()).resolves.toBeTruthy();
    await setClock(user, null);
  });

  it("a budget set mid-period starts from what D1 already recorded for the user this period", async () => {
    const user = "late-budget@example.com";
    const { key } = await createKey(user);
    const before = await messages(key);
    expect(before.status).toBe(200);
    await before.text();
    const recorded = await eventually(async () => {
      const micros = await recordedCostMicros(user);
      if (micros === 0) throw new Error("usage not recorded yet");
      return micros;
    });
    await putPolicy(user, { budget_usd: 1, period: "day" });
    const s = await state(user);
    expect(s.spent_usd).toBe(recorded / 1e6);
    expect(s.remaining_usd).toBe((1e6 - recorded) / 1e6);
  });

  it("a policy change mid-period applies to the next request", async () => {
    const user = "change@example.com";
    const { key } = await createKey(user);
    await putPolicy(user, { budget_usd: 0.000001 });
    expect((await messages(key)).status).toBe(429);
    await putPolicy(user, { budget_usd: 5 });
    expect((await messages(key)).status).toBe(200);
    await putPolicy(user, { budget_usd: 5, models: { deny: "sonnet" } });
    expect((await messages(key)).status).toBe(403);
    await admin(`/limits/${user}`, { method: "DELETE" });
    expect((await messages(key)).status).toBe(200);
  });
});

describe("model allow/deny on all three APIs", () => {
  it("refuses with 403 in each API's shape, records the refusal, and never reaches the upstream", async () => {
    const user = "models@example.com";
    const { key } = await createKey(user);
    await putPolicy(user, { models: { allow: "^(claude-sonnet|gpt-4o)", deny: "mini|opus" } });
    const trace = crypto.randomUUID();
    const headers = { "x-fake-trace": trace };

    const ok = await anthropicSdk(key).messages.create(JSON.parse(body()));
    expect(ok.type).toBe("message");
    const opus = await anthropicSdk(key, headers)
      .messages.create({ ...JSON.parse(body()), model: "claude-opus-4-1" })
      .catch((e: unknown) => e);
    expect(opus).toBeInstanceOf(Anthropic.PermissionDeniedError);
    const opusError = opus as InstanceType<typeof Anthropic.PermissionDeniedError>;
    expect((opusError.error as { error: { type: string } }).error.type).toBe("permission_error");
    expect(opusError.message).toContain("claude-opus-4-1 is not allowed");

    const openai = openaiSdk(key, headers);
    await expect(
      openai.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }),
    ).resolves.toBeTruthy();
    for (const attempt of [
      () =>
        openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
      () => openai.responses.create({ model: "gpt-4o-mini", input: "hi" }),
      () => openai.responses.create({ model: "o3", input: "hi" }),
    ]) {
      const refused = await attempt().catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(OpenAI.PermissionDeniedError);
      const error = refused as InstanceType<typeof OpenAI.PermissionDeniedError>;
      expect(error.type).toBe("permission_denied");
      expect(error.code).toBe("model_not_allowed");
    }
    await expect(openai.responses.create({ model: "gpt-4o", input: "hi" })).resolves.toBeTruthy();
    expect(await upstreamSaw(trace)).toBe(2); // the two allowed OpenAI calls only

    const rejected = await eventually(async () => {
      const found = await rows<{ model: string; error_type: string; provider_name: string }>(
        "select model, error_type, provider_name from aibridge_interceptions where initiator_id = ? and status = 'rejected' and ended_at is not null order by started_at",
        user,
      );
      if (found.length < 4) throw new Error(`only ${found.length} rejected so far`);
      return found;
    });
    expect(rejected.map((r) => [r.provider_name, r.model])).toEqual([
      ["messages", "claude-opus-4-1"],
      ["chat_completions", "gpt-4o-mini"],
      ["responses", "gpt-4o-mini"],
      ["responses", "o3"],
    ]);
    expect(new Set(rejected.map((r) => r.error_type))).toEqual(new Set(["model_not_allowed"]));
  });

  it("a refusal is counted in metrics: interception_end with status rejected and a limit_rejected event", async () => {
    const user = "metrics-limits@example.com";
    const { key } = await createKey(user);
    await putPolicy(user, { models: { deny: "sonnet" } });
    const points: AnalyticsEngineDataPoint[] = [];
    const ctx = createExecutionContext();
    const response = await worker.fetch(
      new Request(`${GATEWAY}/anthropic/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": key, "content-type": "application/json" },
        body: body(),
      }),
      { ...env, METRICS: { writeDataPoint: (p: AnalyticsEngineDataPoint) => points.push(p) } },
      ctx,
    );
    expect(response.status).toBe(403);
    await waitOnExecutionContext(ctx);
    const statusAt = LAYOUT.interception_end.blobs.indexOf("status") + 1;
    const end = points.find((p) => p.indexes?.[0] === "interception_end");
    expect(end?.blobs?.[statusAt]).toBe("rejected");
    const event = points.find((p) => p.indexes?.[0] === "gateway_event");
    expect(event?.blobs?.slice(1)).toEqual(["limit_rejected", "model_not_allowed"]);
  });
});

describe("when the Durable Object cannot answer", () => {
  it("fails closed: 503 in the provider's shape, recorded as rejected (limits_unavailable), nothing sent upstream", async () => {
    const user = "limiter-down@example.com";
    const { key } = await createKey(user);
    await putPolicy(user, { budget_usd: 5 });
    const down = {
      idFromName: (name: string) => namespace().idFromName(name),
      get: () => ({
        admit: async () => {
          throw new Error("Durable Object unavailable");
        },
      }),
    };
    const trace = crypto.randomUUID();
    const ctx = createExecutionContext();
    const response = await worker.fetch(
      new Request(`${GATEWAY}/anthropic/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": key, "content-type": "application/json", "x-fake-trace": trace },
        body: body(),
      }),
      { ...env, LIMITER: down as unknown as typeof env.LIMITER },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("1");
    expect(((await response.json()) as { error: { type: string } }).error.type).toBe("api_error");
    expect(await upstreamSaw(trace)).toBe(0);
    const { interception } = await endedInterception(
      response.headers.get("x-aibridge-interception-id") ?? "",
    );
    expect(interception).toMatchObject({ status: "rejected", error_type: "limits_unavailable" });
  });
});

describe("GET /v1/me", () => {
  it("shows the caller's own policy, state and usage this period, agreeing with the admin API and D1", async () => {
    const user = "me@example.com";
    const { key } = await createKey(user);
    await putPolicy(user, { budget_usd: 5, period: "month", requests_per_minute: 100 });
    for (const scenario of ["default", "thinking"]) {
      const r = await messages(key, body(), { "x-fake-scenario": scenario });
      expect(r.status).toBe(200);
      await r.text();
    }
    await settled(user);
    const recorded = await eventually(async () => {
      const [row] = await rows<{ n: number; micros: number }>(
        `select count(*) as n, sum(t.cost_micros) as micros from aibridge_token_usages t
         join aibridge_interceptions i on i.id = t.interception_id where i.initiator_id = ?`,
        user,
      );
      if (!row || row.n < 2) throw new Error("usage not recorded yet");
      return row.micros;
    });

    const viaHeaders: Record<string, string>[] = [
      { "x-api-key": key },
      { authorization: `Bearer ${key}` },
      { "x-aibridge-key": key },
    ];
    for (const headers of viaHeaders) {
      const response = await SELF.fetch(`${GATEWAY}/v1/me`, { headers });
      expect(response.status).toBe(200);
      const me = (await response.json()) as {
        user: string;
        policy: unknown;
        state: LimitState;
        usage: { cost_usd: number; requests: number; tokens: unknown };
      };
      expect(me.user).toBe(user);
      expect(me.policy).toEqual({ budget_usd: 5, period: "month", requests_per_minute: 100 });
      expect(me.usage.cost_usd).toBe(recorded / 1e6);
      expect(me.usage.requests).toBe(2);
      expect(me.usage.tokens).toEqual({ input: 25 + 60, output: 15 + 120, cache_read: 0, cache_write: 0 });
      expect(me.state.spent_usd).toBe(recorded / 1e6);
      const adminView = (await (await admin(`/limits/${user}`)).json()) as { state: LimitState };
      expect(adminView.state.spent_usd).toBe(me.state.spent_usd);
      expect(adminView.state.remaining_usd).toBe(me.state.remaining_usd);
      expect(JSON.stringify(me)).not.toContain("budget@example.com"); // nothing about others
    }
    expect((await SELF.fetch(`${GATEWAY}/v1/me`, { headers: { "x-api-key": "aib_nope" } })).status).toBe(401);
    expect((await SELF.fetch(`${GATEWAY}/v1/me`)).status).toBe(401);
  });
});

describe("the * default", () => {
  it("applies to users without their own policy; their own policy wins; deleting * frees them", async () => {
    const { key: follower } = await createKey("star-follower@example.com");
    const { key: owner } = await createKey("star-owner@example.com");
    await putPolicy("star-owner@example.com", { budget_usd: 5 });
    expect((await messages(follower)).status).toBe(200);
    await putPolicy("*", { models: { deny: "sonnet" } });
    const refused = await messages(follower);
    expect(refused.status).toBe(403);
    expect((await messages(owner)).status).toBe(200);

    const got = (await (await admin("/limits/star-follower%40example.com")).json()) as { source: string };
    expect(got.source).toBe("*");
    const list = (await (await admin("/limits")).json()) as {
      default: unknown;
      users: { user: string; source: string }[];
    };
    expect(list.default).toEqual({ models: { deny: "sonnet" } });
    expect(list.users.find((u) => u.user === "star-follower@example.com")?.source).toBe("*");
    expect(list.users.find((u) => u.user === "star-owner@example.com")?.source).toBe("user");

    expect((await admin("/limits/*", { method: "DELETE" })).status).toBe(200);
    expect((await messages(follower)).status).toBe(200);
  });
});
