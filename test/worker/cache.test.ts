/**
 * Prompt-cache analytics end to end: Claude Code- and Codex-shaped sessions go through the gateway
 * to fake upstreams that really simulate prompt caching (prefix match up to the breakpoints, TTLs on
 * a clock the test moves), and the admin API must say which turns broke the cache, why, where and
 * for how much. Cache numbers come from the simulated prefix, never from a script.
 */
import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { fingerprintRequest } from "../../src/analytics/fingerprint";
import worker from "../../src/index";
import type { RecordMessage } from "../../src/recorder/records";
import {
  advanceUpstreamClock,
  ClaudeCodeSession,
  CodexSession,
  claudeCodeTools,
  evictUpstreamCache,
} from "./cache-sessions";
import { admin, createKey, eventually, rows } from "./helpers";

interface TurnCache {
  read_tokens: number;
  write_tokens: number;
  expected_read_tokens: number;
  hit_ratio: number | null;
  wasted_write_tokens: number;
  break: null | {
    cause: string;
    first_changed: string | null;
    missed_tokens: number;
    cost_usd: number | null;
    reference: string;
  };
}

interface SessionAnswer {
  interceptions: { id: string; model: string; tokens: { input: number }; cache: TurnCache | null }[];
  totals: {
    cache: { hit_ratio: number | null; breaks: number; break_cost_usd: number; wasted_write_tokens: number };
  };
}

const USER = "cache-analyst@example.com";
let key: string;
/** Every break the sessions below produced, by cause (the aggregate endpoints must agree). */
const seen: Record<string, { count: number; cost: number }> = {};

beforeAll(async () => {
  key = (await createKey(USER)).key;
});

afterEach(() => {
  vi.useRealTimers();
});

/** The session's turns once every record reached D1 (fingerprints and usage travel on the queue). */
async function sessionTurns(sessionId: string, count: number) {
  return eventually(async () => {
    const response = await admin(`/sessions/${sessionId}`);
    if (response.status !== 200) throw new Error(`session: ${response.status}`);
    const body = (await response.json()) as SessionAnswer;
    const ready = body.interceptions.filter((i) => i.cache !== null);
    if (ready.length !== count) throw new Error(`${ready.length}/${count} turns analyzed`);
    return body;
  }, 20_000);
}

function record(answer: SessionAnswer) {
  for (const turn of answer.interceptions) {
    const brk = turn.cache?.break;
    if (!brk) continue;
    const entry = seen[brk.cause] ?? { count: 0, cost: 0 };
    entry.count += 1;
    entry.cost += brk.cost_usd ?? 0;
    seen[brk.cause] = entry;
  }
}

/** Sonnet 4.5 list prices (USD per MTok): 5-minute write 3.75, read 0.30. */
const sonnetRewrite = (tokens: number) => Math.round(tokens * (3.75 - 0.3)) / 1e6;

function expectCleanContinuation(previous: TurnCache, turn: TurnCache) {
  expect(turn.expected_read_tokens).toBe(previous.read_tokens + previous.write_tokens);
  expect(turn.read_tokens).toBe(turn.expected_read_tokens);
  expect(turn.break).toBeNull();
}

describe("Claude Code sessions", () => {
  it("a clean session has no breaks, and every turn reads what the one before it cached", async () => {
    const session = new ClaudeCodeSession(key);
    for (let i = 0; i < 5; i++) await session.turn(`Step ${i}: read the next file.`);
    const answer = await sessionTurns(session.sessionId, 5);
    const turns = answer.interceptions.map((i) => i.cache as TurnCache);
    expect(turns[0]).toMatchObject({ read_tokens: 0, expected_read_tokens: 0, break: null });
    expect(turns[0]?.write_tokens).toBeGreaterThan(5000);
    for (let i = 1; i < 5; i++) {
      expectCleanContinuation(turns[i - 1] as TurnCache, turns[i] as TurnCache);
      // Each turn writes only what it added: the previous turn's writes were all read back.
      expect(turns[i - 1]?.wasted_write_tokens).toBe(0);
      expect(turns[i]?.hit_ratio).toBeGreaterThan(0.8);
    }
    // The last turn's writes were never read by a later turn.
    expect(turns[4]?.wasted_write_tokens).toBe(turns[4]?.write_tokens);
    expect(answer.totals.cache).toMatchObject({ breaks: 0, break_cost_usd: 0 });
    expect(answer.totals.cache.hit_ratio).toBeGreaterThan(0.6);
  });

  it("reordered tools: tools_changed at `tools`, the whole prefix re-written", async () => {
    const session = new ClaudeCodeSession(key);
    await session.turn("First.");
    await session.turn("Second.");
    session.tools = [...session.tools.slice(1), session.tools[0] as Record<string, unknown>];
    await session.turn("Third, after an MCP server reconnected.");
    await session.turn("Fourth.");
    const answer = await sessionTurns(session.sessionId, 4);
    record(answer);
    const [, second, third, fourth] = answer.interceptions.map((i) => i.cache as TurnCache);
    expect(third?.read_tokens).toBe(0);
    expect(third?.expected_read_tokens).toBe((second?.read_tokens ?? 0) + (second?.write_tokens ?? 0));
    expect(third?.break).toMatchObject({ cause: "tools_changed", first_changed: "tools" });
    expect(third?.break?.missed_tokens).toBe(third?.expected_read_tokens);
    expect(third?.break?.cost_usd).toBe(sonnetRewrite(third?.expected_read_tokens ?? 0));
    expect(third?.break?.reference).toBe(session.interceptions[1]);
    // The turn before the break: its writes were never read back.
    expect(second?.wasted_write_tokens).toBe(second?.write_tokens);
    expectCleanContinuation(third as TurnCache, fourth as TurnCache);
    expect(answer.totals.cache.breaks).toBe(1);
  });

  it("changed system text: system_changed at the block that changed; the blocks before it still read", async () => {
    const session = new ClaudeCodeSession(key);
    await session.turn("First.");
    await session.turn("Second.");
    session.environment = "Today's date is 2026-12-01.";
    await session.turn("Third, the next day.");
    const answer = await sessionTurns(session.sessionId, 3);
    record(answer);
    const [, second, third] = answer.interceptions.map((i) => i.cache as TurnCache);
    expect(third?.break).toMatchObject({ cause: "system_changed", first_changed: "system[2]" });
    // The prefix through system[1] (its own breakpoint) was still read.
    expect(third?.read_tokens).toBeGreaterThan(1000);
    const missed = (second?.read_tokens ?? 0) + (second?.write_tokens ?? 0) - (third?.read_tokens ?? 0);
    expect(third?.break?.missed_tokens).toBe(missed);
    expect(third?.break?.cost_usd).toBe(sonnetRewrite(missed));
  });

  it("an edited early message: messages_changed at that message", async () => {
    const session = new ClaudeCodeSession(key);
    for (let i = 0; i < 3; i++) await session.turn(`Step ${i}.`);
    const edited = session.history[2] as { content: { text: string }[] };
    (edited.content[0] as { text: string }).text = "<system-reminder>compacted</system-reminder>";
    await session.turn("Step 3, after an edit of the history.");
    const answer = await sessionTurns(session.sessionId, 4);
    record(answer);
    const [, , third, fourth] = answer.interceptions.map((i) => i.cache as TurnCache);
    expect(fourth?.break).toMatchObject({ cause: "messages_changed", first_changed: "messages[2]" });
    const missed = (third?.read_tokens ?? 0) + (third?.write_tokens ?? 0) - (fourth?.read_tokens ?? 0);
    expect(missed).toBeGreaterThan(0);
    expect(fourth?.break?.cost_usd).toBe(sonnetRewrite(missed));
  });

  it("a model switch: model_changed, priced at the new model's rates; switching back reads the old cache", async () => {
    const session = new ClaudeCodeSession(key);
    await session.turn("First.");
    await session.turn("Second.");
    await session.turn("Third, on Opus.", { model: "claude-opus-4-1-20250805" });
    await session.turn("Fourth, back on Sonnet.");
    const answer = await sessionTurns(session.sessionId, 4);
    record(answer);
    const [, second, third, fourth] = answer.interceptions.map((i) => i.cache as TurnCache);
    expect(third?.read_tokens).toBe(0);
    expect(third?.break).toMatchObject({ cause: "model_changed", first_changed: "model" });
    const missed = (second?.read_tokens ?? 0) + (second?.write_tokens ?? 0);
    expect(third?.break?.missed_tokens).toBe(missed);
    // Opus 4.1: 5-minute write 18.75, read 1.50 per MTok.
    expect(third?.break?.cost_usd).toBe(Math.round(missed * (18.75 - 1.5)) / 1e6);
    // Back on Sonnet within the TTL: compared with the last Sonnet turn, and no break.
    expect(fourth?.break).toBeNull();
    expect(fourth?.expected_read_tokens).toBe(missed);
    expect(fourth?.read_tokens).toBe(missed);
  });

  it("a pause longer than the 5-minute TTL: expired; with 1-hour breakpoints the same pause is no break", async () => {
    const upstream = inject("anthropicUrl");
    const short = new ClaudeCodeSession(key);
    const long = new ClaudeCodeSession(key, "1h");
    await short.turn("First.");
    await short.turn("Second.");
    await long.turn("First.");
    await long.turn("Second.");
    // The gateway's clock (Date, which the Worker reads) and the fake provider's move together.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 6 * 60_000);
    await advanceUpstreamClock(upstream, short.sessionId, 6 * 60_000);
    await advanceUpstreamClock(upstream, long.sessionId, 6 * 60_000);
    await short.turn("Third, after lunch.");
    await long.turn("Third, after lunch.");
    vi.setSystemTime(Date.now() + 61 * 60_000);
    await advanceUpstreamClock(upstream, long.sessionId, 61 * 60_000);
    await long.turn("Fourth, after a meeting.");
    vi.useRealTimers();

    const shortAnswer = await sessionTurns(short.sessionId, 3);
    record(shortAnswer);
    const [, second, third] = shortAnswer.interceptions.map((i) => i.cache as TurnCache);
    expect(third?.break).toMatchObject({ cause: "expired", first_changed: null });
    const missed = (second?.read_tokens ?? 0) + (second?.write_tokens ?? 0);
    expect(third?.read_tokens).toBe(0);
    expect(third?.break?.cost_usd).toBe(sonnetRewrite(missed));

    const longAnswer = await sessionTurns(long.sessionId, 4);
    record(longAnswer);
    const [, lSecond, lThird, lFourth] = longAnswer.interceptions.map((i) => i.cache as TurnCache);
    expectCleanContinuation(lSecond as TurnCache, lThird as TurnCache);
    expect(lFourth?.break).toMatchObject({ cause: "expired", first_changed: null });
    // One-hour writes cost 6.00 per MTok on Sonnet 4.5.
    const lMissed = (lThird?.read_tokens ?? 0) + (lThird?.write_tokens ?? 0);
    expect(lFourth?.break?.cost_usd).toBe(Math.round(lMissed * (6 - 0.3)) / 1e6);
  });
});

describe("Claude Code sessions: what is not a prefix change", () => {
  it("an eviction nobody could see: unknown, with nothing changed", async () => {
    const session = new ClaudeCodeSession(key);
    await session.turn("First.");
    await session.turn("Second.");
    await evictUpstreamCache(inject("anthropicUrl"), session.sessionId);
    await session.turn("Third.");
    const answer = await sessionTurns(session.sessionId, 3);
    record(answer);
    const [, second, third] = answer.interceptions.map((i) => i.cache as TurnCache);
    expect(third?.break).toMatchObject({ cause: "unknown", first_changed: null });
    expect(third?.break?.cost_usd).toBe(
      sonnetRewrite((second?.read_tokens ?? 0) + (second?.write_tokens ?? 0)),
    );
  });

  it("side requests on another model with their own prompt are not breaks, and do not disturb the conversation", async () => {
    const session = new ClaudeCodeSession(key);
    await session.turn("First.");
    await session.sideRequest();
    await session.turn("Second.");
    await session.sideRequest();
    await session.turn("Third.");
    const answer = await sessionTurns(session.sessionId, 5);
    const turns = answer.interceptions.map((i) => i.cache as TurnCache);
    expect(answer.interceptions.map((i) => i.model.slice(0, 12))).toEqual([
      "claude-sonne",
      "claude-haiku",
      "claude-sonne",
      "claude-haiku",
      "claude-sonne",
    ]);
    expect(turns.map((t) => t.break)).toEqual([null, null, null, null, null]);
    expectCleanContinuation(turns[0] as TurnCache, turns[2] as TurnCache);
    expectCleanContinuation(turns[2] as TurnCache, turns[4] as TurnCache);
    expect(answer.totals.cache.breaks).toBe(0);
  });
});

describe("Codex sessions (OpenAI Responses, prompt_cache_key)", () => {
  it("finds no break in a clean session, then system_changed at `instructions` and messages_changed at an edited item", async () => {
    const session = new CodexSession(key);
    await session.turn("List the files.");
    await session.turn("Open the first one.");
    await session.turn("Now the second.");
    session.instructions = `${session.instructions} (updated)`;
    await session.turn("And the third.");
    (session.input[1] as { content: { text: string }[] }).content[0] = {
      text: "<environment_context>cwd changed</environment_context>",
    };
    await session.turn("And the fourth.");
    const answer = await sessionTurns(session.sessionId, 5);
    record(answer);
    const turns = answer.interceptions.map((i) => i.cache as TurnCache);
    for (let i = 1; i < 3; i++) {
      expect(turns[i]?.break).toBeNull();
      // OpenAI caches the whole previous prompt; reads come in 128-token steps.
      expect(turns[i]?.read_tokens).toBe(Math.floor((turns[i]?.expected_read_tokens ?? 0) / 128) * 128);
    }
    expect(turns[3]?.break).toMatchObject({ cause: "system_changed", first_changed: "instructions" });
    expect(turns[4]?.break).toMatchObject({ cause: "messages_changed", first_changed: "input[1]" });
    // gpt-5-codex: input 1.25, cached input 0.125 per MTok; OpenAI has no writes, misses are re-sent as input.
    const missed = turns[3]?.break?.missed_tokens ?? 0;
    expect(missed).toBe((turns[3]?.expected_read_tokens ?? 0) - (turns[3]?.read_tokens ?? 0));
    expect(turns[3]?.break?.cost_usd).toBe(Math.round(missed * (1.25 - 0.125)) / 1e6);
  });
});

describe("order of delivery", () => {
  it("gives the same answer when a session's records arrive in reverse order, one at a time", async () => {
    const session = new ClaudeCodeSession(key);
    await session.turn("First.");
    await session.turn("Second.");
    session.tools = session.tools.slice().reverse();
    await session.turn("Third.");
    await session.turn("Fourth.");
    const original = await sessionTurns(session.sessionId, 4);
    record(original);

    // The same records, under a new session id and new record ids, delivered newest first.
    const copy = `${session.sessionId}-replayed`;
    const ids = new Map(session.interceptions.map((id) => [id, crypto.randomUUID()]));
    const records: RecordMessage[] = [];
    for (const [oldId, newId] of ids) {
      const [i] = await rows<Record<string, unknown>>(
        "select * from aibridge_interceptions where id = ?",
        oldId,
      );
      const [f] = await rows<Record<string, unknown>>(
        "select * from aibridge_cache_fingerprints where interception_id = ?",
        oldId,
      );
      const usages = await rows<Record<string, unknown>>(
        "select * from aibridge_token_usages where interception_id = ?",
        oldId,
      );
      const info = {
        id: newId,
        initiatorId: i?.initiator_id,
        apiKeyId: i?.api_key_id,
        provider: i?.provider,
        providerName: i?.provider_name,
        model: i?.model,
        client: i?.client,
        userAgent: i?.user_agent,
        clientSessionId: copy,
        correlatingToolCallId: null,
        credentialKind: i?.credential_kind,
        credentialHint: i?.credential_hint,
        streaming: true,
        startedAt: i?.started_at,
        metadata: null,
      };
      records.push({ kind: "interception_started", ...info } as RecordMessage);
      records.push({
        kind: "interception_ended",
        ...info,
        endedAt: i?.ended_at,
        status: "completed",
        stopReason: "end_turn",
        errorType: null,
        errorMessage: null,
      } as RecordMessage);
      for (const u of usages) {
        records.push({
          kind: "token_usage",
          id: crypto.randomUUID(),
          interceptionId: newId,
          providerResponseId: null,
          inputTokens: u.input_tokens,
          outputTokens: u.output_tokens,
          cacheReadInputTokens: u.cache_read_input_tokens,
          cacheWriteInputTokens: u.cache_write_input_tokens,
          extraTokenTypes: JSON.parse(String(u.extra_token_types ?? "null")),
          rawUsage: null,
          costMicros: u.cost_micros,
          createdAt: u.created_at,
        } as RecordMessage);
      }
      records.push({
        kind: "cache_fingerprint",
        id: newId,
        sessionId: copy,
        initiatorId: f?.initiator_id,
        client: f?.client,
        model: f?.model,
        api: f?.api,
        startedAt: f?.started_at,
        layout: f?.layout,
        breakpoints: JSON.parse(String(f?.breakpoints)),
        anchors: f?.anchors,
        chain: f?.chain,
        segments: f?.segments,
        defaultTtlSeconds: f?.default_ttl_seconds,
      } as RecordMessage);
    }
    for (const [n, body] of records.reverse().entries()) {
      const batch = createMessageBatch("aibridge-records", [
        { id: `r${n}`, timestamp: new Date(), attempts: 1, body },
      ]);
      const ctx = createExecutionContext();
      await worker.queue(batch, env);
      expect((await getQueueResult(batch, ctx)).ackAll).toBe(true);
    }
    // Redelivery of a fingerprint changes nothing either.
    const again = createMessageBatch("aibridge-records", [
      { id: "again", timestamp: new Date(), attempts: 2, body: records[0] as RecordMessage },
    ]);
    await worker.queue(again, env);

    const replayed = await sessionTurns(copy, 4);
    const strip = (answer: SessionAnswer) =>
      answer.interceptions.map((i) => {
        const cache = i.cache as TurnCache;
        return {
          ...cache,
          break: cache.break
            ? { ...cache.break, reference: ids.has(cache.break.reference) ? "ref" : "ref" }
            : null,
        };
      });
    expect(strip(replayed)).toEqual(strip(original));
    expect(strip(replayed)[2]?.break).toMatchObject({ cause: "tools_changed", first_changed: "tools" });
    expect(replayed.totals.cache).toEqual(original.totals.cache);
  });
});

describe("fingerprints", () => {
  it("ignore where the breakpoints sit, and stay small for a 1,000-message conversation", () => {
    const messages = Array.from({ length: 1000 }, (_, i) => ({
      role: i % 2 ? "assistant" : "user",
      content: [{ type: "text", text: `message ${i} ${"x".repeat(200)}` }],
    }));
    const withBreakpoint = (at: number) =>
      JSON.stringify({
        model: "claude-sonnet-4-5",
        tools: claudeCodeTools(),
        system: [{ type: "text", text: "s", cache_control: { type: "ephemeral" } }],
        messages: messages.map((m, i) =>
          i === at
            ? { ...m, content: [{ ...m.content[0], cache_control: { type: "ephemeral", ttl: "1h" } }] }
            : m,
        ),
      });
    const a = fingerprintRequest("messages", withBreakpoint(998));
    const b = fingerprintRequest("messages", withBreakpoint(999));
    expect(a?.chain).toBe(b?.chain);
    expect(a?.layout).toBe("tools,system[1],messages[1000]");
    expect(a?.breakpoints).toEqual([
      [1, 300],
      [1000, 3600],
    ]);
    expect(b?.breakpoints).toEqual([
      [1, 300],
      [1001, 3600],
    ]);
    // 1,002 segments × 4 bytes, base64.
    expect(a?.chain.length).toBe(Math.ceil((1002 * 4) / 3) * 4);
  });

  it("read Chat Completions and Responses bodies in OpenAI's order, and refuse what is not JSON", () => {
    const chat = fingerprintRequest(
      "chat_completions",
      '{"model":"gpt-4o","messages":[{"role":"system","content":"s"},{"role":"user","content":"u"}],"tools":[{"type":"function","function":{"name":"f"}}]}',
    );
    expect(chat).toMatchObject({
      layout: "tools,messages[2]",
      segments: 3,
      breakpoints: [],
      defaultTtlSeconds: 300,
    });
    const responses = fingerprintRequest(
      "responses",
      '{"model":"gpt-5","input":"hi","instructions":"be brief","prompt_cache_retention":"24h"}',
    );
    expect(responses).toMatchObject({ layout: "instructions,input", segments: 2, defaultTtlSeconds: 86400 });
    // Whitespace between members is not content; a changed value is.
    const spaced = fingerprintRequest(
      "chat_completions",
      '{ "model": "gpt-4o", "messages": [ { "role": "user", "content": "u" } ] }',
    );
    const tight = fingerprintRequest(
      "chat_completions",
      '{"model":"gpt-4o","messages":[{"role":"user","content":"u"}]}',
    );
    const other = fingerprintRequest(
      "chat_completions",
      '{"model":"gpt-4o","messages":[{"role":"user","content":"v"}]}',
    );
    expect(spaced?.chain).toBe(tight?.chain);
    expect(other?.chain).not.toBe(tight?.chain);
    expect(fingerprintRequest("messages", "not json")).toBeNull();
    expect(fingerprintRequest("embeddings", "{}")).toBeNull();
  });
});

describe("aggregates", () => {
  it("/admin/v1/usage rows and /admin/v1/cache agree with the sessions' breaks", async () => {
    const total = Object.values(seen).reduce((sum, s) => sum + s.count, 0);
    const cost = Object.values(seen).reduce((sum, s) => sum + s.cost, 0);
    expect(total).toBeGreaterThanOrEqual(7);

    const usage = (await (await admin(`/usage?group_by=user&user=${encodeURIComponent(USER)}`)).json()) as {
      rows: { user: string; cache_breaks: number; cache_break_cost_usd: number }[];
      totals: { cache_breaks: number };
    };
    // The replayed copy of one session counts too (it is a session of its own): one more tools break.
    const replayed = 1;
    expect(usage.rows[0]?.cache_breaks).toBe(total + replayed);
    expect(usage.totals.cache_breaks).toBe(total + replayed);

    const byCause = (await (await admin("/cache?group_by=cause")).json()) as {
      rows: { cause: string; breaks: number; break_cost_usd: number }[];
      breaks: { cause: string; cost_usd: number; session_id: string }[];
    };
    for (const [cause, { count }] of Object.entries(seen)) {
      expect(byCause.rows.find((r) => r.cause === cause)?.breaks).toBe(
        count + (cause === "tools_changed" ? replayed : 0),
      );
    }
    // Worst first.
    const costs = byCause.rows.map((r) => r.break_cost_usd);
    expect(costs).toEqual([...costs].sort((x, y) => y - x));
    expect(byCause.breaks[0]?.cost_usd).toBe(Math.max(...byCause.breaks.map((b) => b.cost_usd)));

    const byUser = (await (await admin("/cache?group_by=user")).json()) as {
      rows: { user: string; breaks: number; break_cost_usd: number }[];
    };
    const mine = byUser.rows.find((r) => r.user === USER);
    expect(mine?.breaks).toBe(total + replayed);
    expect(mine?.break_cost_usd).toBeGreaterThan(cost);

    expect((await admin("/cache?group_by=nope")).status).toBe(400);
  });
});
