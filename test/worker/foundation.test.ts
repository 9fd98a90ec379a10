/**
 * The foundation: gateway keys (create, use, revoke, cache bound), the record pipeline
 * (queue → consumer → D1: idempotent, out of order, retried, dead-lettered, oversized, queue down)
 * and configuration errors. Everything runs on the real local Queue and D1 of the Worker under test.
 */
import {
  createExecutionContext,
  createMessageBatch,
  env,
  getQueueResult,
  SELF,
  waitOnExecutionContext,
} from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { hashKey, KEY_CACHE_TTL_MS } from "../../src/auth/keys";
import worker from "../../src/index";
import { sendRecords } from "../../src/recorder/producer";
import type { RecordMessage } from "../../src/recorder/records";
import { admin, createKey, endedInterception, eventually, GATEWAY, rows } from "./helpers";

const message = (content: string) => ({
  model: "claude-sonnet-4-5",
  max_tokens: 10,
  messages: [{ role: "user", content }],
});

function anthropicRequest(headers: Record<string, string>, body: unknown = message("Hi there")) {
  return SELF.fetch(`${GATEWAY}/anthropic/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

function interceptionInfo(id: string) {
  return {
    id,
    initiatorId: "carol@example.com",
    apiKeyId: "key-1",
    provider: "anthropic",
    providerName: "messages",
    model: "claude-sonnet-4-5",
    client: "curl",
    userAgent: "curl/8",
    clientSessionId: null,
    correlatingToolCallId: null,
    credentialKind: "centralized" as const,
    credentialHint: null,
    streaming: false,
    startedAt: 1_700_000_000_000,
    metadata: null,
  };
}

function recordSet(interceptionId: string): RecordMessage[] {
  return [
    { kind: "interception_started", ...interceptionInfo(interceptionId) },
    {
      kind: "token_usage",
      id: `${interceptionId}-usage`,
      interceptionId,
      providerResponseId: "msg_1",
      inputTokens: 10,
      outputTokens: 20,
      cacheReadInputTokens: 30,
      cacheWriteInputTokens: 40,
      extraTokenTypes: { cache_write_5m: 40 },
      rawUsage: { input_tokens: 10 },
      costMicros: null,
      createdAt: 1_700_000_000_500,
    },
    {
      kind: "prompt",
      id: `${interceptionId}-prompt`,
      interceptionId,
      providerResponseId: null,
      prompt: "hello",
      createdAt: 1_700_000_000_100,
    },
    {
      kind: "interception_ended",
      ...interceptionInfo(interceptionId),
      endedAt: 1_700_000_001_000,
      status: "completed",
      stopReason: "end_turn",
      errorType: null,
      errorMessage: null,
    },
  ];
}

async function deliver(records: RecordMessage[], overrides: Partial<typeof env> = {}, attempts = 1) {
  const batch = createMessageBatch(
    "aibridge-records",
    records.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts, body })),
  );
  // The delay each retry asked for (getQueueResult reports which messages, not their delays).
  const delays: Record<string, number | undefined> = {};
  for (const message of batch.messages) {
    const retry = message.retry.bind(message);
    Object.defineProperty(message, "retry", {
      value: (options?: QueueRetryOptions) => {
        delays[message.id] = options?.delaySeconds;
        retry(options);
      },
    });
  }
  const ctx = createExecutionContext();
  await worker.queue(batch, { ...env, ...overrides });
  return { ...(await getQueueResult(batch, ctx)), delays };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("gateway keys", () => {
  it("creates a key shown once, stores only its hash, and accepts it in x-api-key and Bearer", async () => {
    const { id, key } = await createKey("alice@example.com", "laptop");
    expect(key).toMatch(/^aib_[A-Za-z0-9_-]{43}$/);
    const [stored] = await rows<Record<string, unknown>>("select * from aibridge_api_keys where id = ?", id);
    expect(stored?.key_hash).toBe(await hashKey(key));
    expect(JSON.stringify(stored)).not.toContain(key.slice(4));

    expect((await anthropicRequest({ "x-api-key": key })).status).toBe(200);
    expect((await anthropicRequest({ authorization: `Bearer ${key}` })).status).toBe(200);

    const listed = await (await admin("/keys?user=alice@example.com")).json<{
      keys: Record<string, unknown>[];
    }>();
    expect(listed.keys).toHaveLength(1);
    expect(listed.keys[0]).toMatchObject({
      id,
      userId: "alice@example.com",
      name: "laptop",
      keyPrefix: key.slice(0, 10),
    });
    expect(JSON.stringify(listed)).not.toContain(key);
    // last_used_at travels through the queue too.
    await eventually(async () => {
      const [row] = await rows<{ last_used_at: number | null }>(
        "select last_used_at from aibridge_api_keys where id = ?",
        id,
      );
      expect(row?.last_used_at).toBeGreaterThan(0);
    });
  });

  it("refuses missing, unknown and revoked keys with 401 in Anthropic's shape", async () => {
    const missing = await anthropicRequest({});
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ type: "error", error: { type: "authentication_error" } });

    const unknown = await anthropicRequest({ "x-api-key": "aib_not-a-real-key-000000000000000000000000000" });
    expect(unknown.status).toBe(401);
    expect(await unknown.json()).toMatchObject({
      type: "error",
      error: { type: "authentication_error", message: expect.stringMatching(/invalid or revoked/i) },
    });

    const { id, key } = await createKey("dave@example.com");
    expect((await anthropicRequest({ "x-api-key": key })).status).toBe(200);
    expect((await admin(`/keys/${id}`, { method: "DELETE" })).status).toBe(200);
    const revoked = await anthropicRequest({ "x-api-key": key });
    expect(revoked.status).toBe(401);
    expect((await admin("/keys/no-such-key", { method: "DELETE" })).status).toBe(404);
  });

  it("a key revoked elsewhere (another isolate, the CLI) stops working within the cache bound", async () => {
    const { id, key } = await createKey("erin@example.com");
    expect((await anthropicRequest({ "x-api-key": key })).status).toBe(200);
    // Revoke behind this isolate's back: straight in D1, as the CLI or another isolate would.
    await env.DB.prepare("update aibridge_api_keys set revoked_at = ? where id = ?")
      .bind(Date.now(), id)
      .run();
    expect((await anthropicRequest({ "x-api-key": key })).status).toBe(200); // still cached
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + KEY_CACHE_TTL_MS + 1);
    expect(KEY_CACHE_TTL_MS).toBeLessThanOrEqual(60_000);
    expect((await anthropicRequest({ "x-api-key": key })).status).toBe(401);
  });

  it("caches keys by the presented string, long strings by their hash, and never mixes the two", async () => {
    const { key, id } = await createKey("fay@example.com");
    expect((await anthropicRequest({ "x-api-key": key })).status).toBe(200);
    expect((await anthropicRequest({ "x-api-key": key })).status).toBe(200); // from the cache
    // A long key (none is issued so long; written straight to D1 here) is cached as "#" + its hash.
    // Presenting that cache entry's name, or a key's bare hash, must never find the entry.
    const long = `aib_${"x".repeat(20_000)}`;
    const row = await env.DB.prepare("select user_id from aibridge_api_keys where id = ?").bind(id).first();
    await env.DB.prepare(
      "insert into aibridge_api_keys (id, user_id, key_prefix, key_hash, created_at) values (?, ?, ?, ?, ?)",
    )
      .bind(`${id}-long`, row?.user_id, "aib_xxxxxx", await hashKey(long), Date.now())
      .run();
    for (let i = 0; i < 2; i++) expect((await anthropicRequest({ "x-api-key": long })).status).toBe(200);
    for (const guess of [`#${await hashKey(long)}`, await hashKey(long), await hashKey(key)]) {
      expect((await anthropicRequest({ "x-api-key": guess })).status).toBe(401);
    }
  });

  it("guards the admin API with ADMIN_TOKEN", async () => {
    expect((await SELF.fetch(`${GATEWAY}/admin/v1/keys`)).status).toBe(401);
    const wrong = await SELF.fetch(`${GATEWAY}/admin/v1/keys`, {
      headers: { authorization: "Bearer wrong-token-wrong-token" },
    });
    expect(wrong.status).toBe(401);
    expect((await admin("/keys", { method: "POST", body: "{}" })).status).toBe(400);
  });
});

describe("record pipeline", () => {
  it("writes a batch to D1, and the same batch delivered twice leaves one set of rows", async () => {
    const records = recordSet("018f0000-0000-7000-8000-000000000001");
    const first = await deliver(records);
    expect(first.ackAll).toBe(true);
    await deliver(records);
    const id = "018f0000-0000-7000-8000-000000000001";
    const { interception, tokens, prompts } = await endedInterception(id);
    expect(interception).toMatchObject({
      status: "completed",
      stop_reason: "end_turn",
      initiator_id: "carol@example.com",
    });
    expect(tokens).toHaveLength(1);
    expect(tokens[0]).toMatchObject({
      input_tokens: 10,
      output_tokens: 20,
      cache_read_input_tokens: 30,
      cache_write_input_tokens: 40,
    });
    expect(JSON.parse(tokens[0]!.extra_token_types as string)).toEqual({ cache_write_5m: 40 });
    expect(prompts).toHaveLength(1);
  });

  it("accepts an interception's end before its start", async () => {
    const id = "018f0000-0000-7000-8000-000000000002";
    const [started, , , ended] = recordSet(id);
    await deliver([ended!]);
    await deliver([started!]);
    const [row] = await rows<Record<string, unknown>>(
      "select * from aibridge_interceptions where id = ?",
      id,
    );
    expect(row).toMatchObject({
      status: "completed",
      ended_at: 1_700_000_001_000,
      started_at: 1_700_000_000_000,
    });
  });

  it("retries with backoff when D1 fails, without holding back the records that can be written", async () => {
    const id = "018f0000-0000-7000-8000-000000000003";
    // D1 refuses any write that includes the prompt record (m2): the batch as a whole, and m2 alone.
    const failingDb = new Proxy(env.DB, {
      get(target, property) {
        const value = Reflect.get(target, property);
        if (property === "batch") {
          return (statements: { params?: unknown[] }[]) =>
            statements.some((s) => JSON.stringify(s.params ?? []).includes(`${id}-prompt`))
              ? Promise.reject(new Error("D1 is down"))
              : (value as D1Database["batch"]).call(target, statements as D1PreparedStatement[]);
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const records = recordSet(id);
    expect(records[2]).toMatchObject({ kind: "prompt", id: `${id}-prompt` });
    const result = await deliver(records, { DB: failingDb, RECORDS_RETRY_BASE_SECONDS: "3" });
    expect(result.ackAll).toBe(false);
    expect(result.explicitAcks.sort()).toEqual(["m0", "m1", "m3"]);
    // First retry after the base delay; later attempts double it, capped at 5 minutes.
    expect(result.retryMessages).toEqual([{ msgId: "m2" }]);
    expect(result.delays).toEqual({ m2: 3 });
    expect((await rows("select id from aibridge_token_usages where id = ?", `${id}-usage`)).length).toBe(1);
    expect((await rows("select status from aibridge_interceptions where id = ?", id))[0]).toEqual({
      status: "completed",
    });
    expect(await rows("select id from aibridge_user_prompts where id = ?", `${id}-prompt`)).toEqual([]);

    const third = await deliver([records[2]!], { DB: failingDb, RECORDS_RETRY_BASE_SECONDS: "3" }, 3);
    expect(third.delays).toEqual({ m0: 12 });
    const late = await deliver([records[2]!], { DB: failingDb, RECORDS_RETRY_BASE_SECONDS: "3" }, 10);
    expect(late.delays).toEqual({ m0: 300 });
  });

  it("refuses a RECORDS_RETRY_BASE_SECONDS that is not a whole number of seconds, like every setting", async () => {
    await expect(
      deliver(recordSet("018f0000-0000-7000-8000-00000000000a"), { RECORDS_RETRY_BASE_SECONDS: "soon" }),
    ).rejects.toThrow(/RECORDS_RETRY_BASE_SECONDS/);
  });

  it("sends a record that keeps failing to the dead-letter queue, where it is kept whole", async () => {
    // A token usage without its interception id violates NOT NULL: D1 refuses it on every try.
    const poisoned = {
      ...recordSet("x")[1]!,
      id: "poisoned-usage",
      interceptionId: null,
    } as unknown as RecordMessage;
    const good = recordSet("018f0000-0000-7000-8000-000000000004")[0]!;
    await env.RECORDS.sendBatch([{ body: poisoned }, { body: good }]);
    const [dead] = await eventually(async () => {
      const found = await rows<Record<string, unknown>>("select * from aibridge_dead_letters");
      expect(found).toHaveLength(1);
      return found;
    }, 30_000);
    expect(dead).toMatchObject({ kind: "token_usage" });
    expect(JSON.parse(dead!.body as string)).toMatchObject({ id: "poisoned-usage" });
    // The good record in the same batch was not held back.
    expect(await rows("select id from aibridge_interceptions where id = ?", good.id)).toHaveLength(1);
  }, 40_000);

  it("a packed message with a bad record still lands its good records; the pack is kept whole as a dead letter", async () => {
    const good = recordSet("018f0000-0000-7000-8000-00000000000b")[0]!;
    const poisoned = {
      ...recordSet("y")[1]!,
      id: "poisoned-usage-in-pack",
      interceptionId: null,
    } as unknown as RecordMessage;
    await env.RECORDS.send({ kind: "records", records: [good, poisoned] });
    const dead = await eventually(async () => {
      const found = await rows<Record<string, unknown>>(
        "select * from aibridge_dead_letters where body like '%poisoned-usage-in-pack%'",
      );
      expect(found).toHaveLength(1);
      return found[0]!;
    }, 30_000);
    expect(dead).toMatchObject({ kind: "records" });
    expect(JSON.parse(dead.body as string).records.map((r: { id: string }) => r.id)).toEqual([
      good.id,
      "poisoned-usage-in-pack",
    ]);
    // The good record of the same message was written on the first try, not held back with it.
    expect(await rows("select id from aibridge_interceptions where id = ?", good.id)).toHaveLength(1);
  }, 40_000);

  it("stores a record bigger than a queue message whole", async () => {
    const { key } = await createKey("frank@example.com");
    const prompt = `${"Large pasted log line with unicode ✓ — ".repeat(8000)}END`;
    const response = await anthropicRequest({ "x-api-key": key }, message(prompt));
    expect(response.status).toBe(200);
    const { prompts } = await endedInterception(response.headers.get("x-aibridge-interception-id")!);
    expect(new TextEncoder().encode(prompt).byteLength).toBeGreaterThan(128 * 1024);
    expect(prompts[0]?.prompt).toBe(prompt);
  });

  it("stores a text longer than a D1 row (2 MB) whole, in parts, and the admin API shows it whole", async () => {
    const { key } = await createKey("grace@example.com");
    // 1.2 M characters of 3-byte UTF-8 (and a 4-byte one at each part boundary): about 3.6 MB.
    const prompt = `${"✓".repeat(499_999)}😀${"✓".repeat(499_999)}😀${"é✓".repeat(100_000)}END`;
    const response = await anthropicRequest({ "x-api-key": key }, message(prompt));
    expect(response.status).toBe(200);
    const id = response.headers.get("x-aibridge-interception-id")!;
    const { prompts } = await endedInterception(id);
    expect(prompts).toHaveLength(1);
    const parts = await rows<{ seq: number; content: string }>(
      "select seq, content from aibridge_record_parts where record_id = ? and field = 'prompt' order by seq",
      prompts[0]!.id,
    );
    expect(parts.map((p) => p.seq)).toEqual([1, 2]);
    expect((prompts[0]!.prompt as string) + parts.map((p) => p.content).join("")).toBe(prompt);
    const detailResponse = await admin(`/interceptions/${id}`);
    expect(detailResponse.status, (await detailResponse.clone().text()).slice(0, 300)).toBe(200);
    const detail = await detailResponse.json<{ prompts: { prompt: string }[] }>();
    expect(detail.prompts[0]?.prompt).toBe(prompt);
  }, 60_000);

  it("falls back to D1 when the queue refuses records, so the interception start is not lost", async () => {
    const refusingQueue = {
      send: () => Promise.reject(new Error("queue unavailable")),
      sendBatch: () => Promise.reject(new Error("queue unavailable")),
    } as unknown as Queue<unknown>;
    const id = "018f0000-0000-7000-8000-000000000005";
    const outcome = await sendRecords({ RECORDS: refusingQueue, DB: env.DB }, recordSet(id));
    expect(outcome).toEqual({ queued: 0, directOversized: 0, directFallback: 4 });
    const { interception, tokens } = await endedInterception(id);
    expect(interception.status).toBe("completed");
    expect(tokens).toHaveLength(1);
    // Replaying through the queue later must not double-count.
    await deliver(recordSet(id));
    expect(await rows("select id from aibridge_token_usages where interception_id = ?", id)).toHaveLength(1);
  });
});

describe("configuration", () => {
  it("answers a bad value with a clear 500 naming the variable, never its value", async () => {
    const ctx = createExecutionContext();
    const badEnv = { ...env, ANTHROPIC_BASE_URL: "not a url at all" };
    const response = await worker.fetch(
      new Request(`${GATEWAY}/anthropic/v1/messages`, { method: "POST", body: "{}" }),
      badEnv,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(response.status).toBe(500);
    const body = await response.json<{ type: string; error: { message: string } }>();
    expect(body.type).toBe("error");
    expect(body.error.message).toContain("ANTHROPIC_BASE_URL");
    expect(body.error.message).not.toContain("not a url at all");

    const shortAdmin = await worker.fetch(
      new Request(`${GATEWAY}/admin/v1/keys`, { headers: { authorization: "Bearer short" } }),
      { ...env, ADMIN_TOKEN: "short" },
      createExecutionContext(),
    );
    expect(shortAdmin.status).toBe(500);
    const text = await shortAdmin.text();
    expect(text).toContain("ADMIN_TOKEN");
  });
});
