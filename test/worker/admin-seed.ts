/**
 * Seeded usage shared by the admin API, usage CLI, docs/queries.md and dashboard tests, plus the
 * totals for it computed by hand (not by the code under test). Times are relative to "today"
 * (UTC midnight) so every test's 7-day window holds the same rows.
 *
 * Hand-computed costs, prices in USD per million tokens = micro-dollars per token:
 *   s1 alice sonnet-4-5  1000×3 + 500×15 + 10000×0.30 + 1000×3.75 (5m) + 1000×6 (1h) = 23250
 *   s2 alice sonnet-4-5  200×3 + 300×15 + 20000×0.30 + 400×3.75 (no split: 5m price)  = 12600
 *   s3 alice gpt-5       4000×1.25 + 1000×10 + 6000×0.125 (cached input)              = 15750
 *   s4 bob   haiku-4-5   1000×1 + 200×5 + 1000×1.25 (5m)                               =  3250
 *   s5 bob   my-local-llama: no price → null, counted as unpriced
 *   s6 carol opus-4-1    100×15 + 100×75 + 1000×1.50                                  = 10500
 *   s7 carol sonnet-4-5, 10 days ago: 1000×3 + 1000×15                                = 18000 (outside 7d)
 *   s8 carol sonnet-4-5, 90 days ago (content older than CONTENT_RETENTION_DAYS=30)      = 18000
 */
import { priceUsage } from "../../src/pricing/cost";
import type { RecordMessage } from "../../src/recorder/records";

export const DAY_MS = 86_400_000;

interface Seed {
  id: string;
  user: string;
  model: string;
  provider: "anthropic" | "openai";
  api: string;
  client: string;
  session: string | null;
  daysAgo: number;
  minute: number;
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  extra: Record<string, number> | null;
  prompt: string;
  tools: string[];
}

const anthropic = { provider: "anthropic", api: "messages" } as const;
export const SEEDS: Seed[] = [
  {
    id: "seed-s1",
    user: "alice@example.com",
    model: "claude-sonnet-4-5-20250929",
    ...anthropic,
    client: "claude-code",
    session: "sess-alice-1",
    daysAgo: 2,
    minute: 10,
    input: 1000,
    output: 500,
    cacheRead: 10000,
    cacheWrite: 2000,
    extra: { cache_write_5m: 1000, cache_write_1h: 1000 },
    prompt: "Refactor the parser into small functions",
    tools: ["Read", "Edit"],
  },
  {
    id: "seed-s2",
    user: "alice@example.com",
    model: "claude-sonnet-4-5-20250929",
    ...anthropic,
    client: "claude-code",
    session: "sess-alice-1",
    daysAgo: 1,
    minute: 20,
    input: 200,
    output: 300,
    cacheRead: 20000,
    cacheWrite: 400,
    extra: null,
    prompt: "Now run the tests",
    tools: ["Bash"],
  },
  {
    id: "seed-s3",
    user: "alice@example.com",
    model: "gpt-5",
    provider: "openai",
    api: "responses",
    client: "codex",
    session: "sess-alice-2",
    daysAgo: 1,
    minute: 30,
    input: 4000,
    output: 1000,
    cacheRead: 6000,
    cacheWrite: 0,
    extra: { reasoning: 400 },
    prompt: "Explain this stack trace",
    tools: ["shell"],
  },
  {
    id: "seed-s4",
    user: "bob@example.com",
    model: "claude-haiku-4-5",
    ...anthropic,
    client: "claude-code",
    session: "sess-bob-1",
    daysAgo: 0,
    minute: 5,
    input: 1000,
    output: 200,
    cacheRead: 0,
    cacheWrite: 1000,
    extra: { cache_write_5m: 1000 },
    prompt: "Summarise README.md",
    tools: ["Read"],
  },
  {
    id: "seed-s5",
    user: "bob@example.com",
    model: "my-local-llama",
    provider: "openai",
    api: "chat_completions",
    client: "curl",
    session: null,
    daysAgo: 0,
    minute: 6,
    input: 100,
    output: 50,
    cacheRead: 0,
    cacheWrite: 0,
    extra: null,
    prompt: "Say hi",
    tools: [],
  },
  {
    id: "seed-s6",
    user: "carol@example.com",
    model: "claude-opus-4-1-20250805",
    ...anthropic,
    client: "anthropic-sdk",
    session: null,
    daysAgo: 2,
    minute: 40,
    input: 100,
    output: 100,
    cacheRead: 1000,
    cacheWrite: 0,
    extra: null,
    prompt: "Review this design",
    tools: [],
  },
  {
    id: "seed-s7",
    user: "carol@example.com",
    model: "claude-sonnet-4-5",
    ...anthropic,
    client: "claude-code",
    session: null,
    daysAgo: 10,
    minute: 0,
    input: 1000,
    output: 1000,
    cacheRead: 0,
    cacheWrite: 0,
    extra: null,
    prompt: "An older question",
    tools: [],
  },
  {
    id: "seed-s8",
    user: "carol@example.com",
    model: "claude-sonnet-4-5",
    ...anthropic,
    client: "claude-code",
    session: null,
    daysAgo: 90,
    minute: 0,
    input: 1000,
    output: 1000,
    cacheRead: 0,
    cacheWrite: 0,
    extra: null,
    prompt: "A very old question",
    tools: [],
  },
];

/** Hand-computed totals for the last 7 days (s1–s6). */
export const EXPECTED_7D = {
  byUser: {
    "alice@example.com": {
      requests: 3,
      input_tokens: 5200,
      output_tokens: 1800,
      cache_read_tokens: 36000,
      cache_write_tokens: 2400,
      cost_micros: 51600,
      unpriced_usages: 0,
    },
    "bob@example.com": {
      requests: 2,
      input_tokens: 1100,
      output_tokens: 250,
      cache_read_tokens: 0,
      cache_write_tokens: 1000,
      cost_micros: 3250,
      unpriced_usages: 1,
    },
    "carol@example.com": {
      requests: 1,
      input_tokens: 100,
      output_tokens: 100,
      cache_read_tokens: 1000,
      cache_write_tokens: 0,
      cost_micros: 10500,
      unpriced_usages: 0,
    },
  },
  byModel: {
    "claude-sonnet-4-5-20250929": { requests: 2, cost_micros: 35850, unpriced_usages: 0 },
    "gpt-5": { requests: 1, cost_micros: 15750, unpriced_usages: 0 },
    "claude-haiku-4-5": { requests: 1, cost_micros: 3250, unpriced_usages: 0 },
    "my-local-llama": { requests: 1, cost_micros: null, unpriced_usages: 1 },
    "claude-opus-4-1-20250805": { requests: 1, cost_micros: 10500, unpriced_usages: 0 },
  },
  /** Cost by days ago. */
  byDay: { 2: 33750, 1: 28350, 0: 3250 },
  totals: {
    requests: 6,
    input_tokens: 6400,
    output_tokens: 2150,
    cache_read_tokens: 37000,
    cache_write_tokens: 3400,
    cache_write_5m_tokens: 2000,
    cache_write_1h_tokens: 1000,
    reasoning_tokens: 400,
    cost_micros: 65350,
    unpriced_usages: 1,
  },
  /** alice: 36000 cache reads / (5200 + 36000 + 2400) input. */
  aliceCacheHitRatio: 36000 / 43600,
  /** Tool calls in the window, most used first. */
  tools: [
    ["Read", 2],
    ["Bash", 1],
    ["Edit", 1],
    ["shell", 1],
  ],
};

export function startOfTodayUtc(now = Date.now()): number {
  return Math.floor(now / DAY_MS) * DAY_MS;
}

export function seedTime(seed: Seed, now = Date.now()): number {
  return startOfTodayUtc(now) - seed.daysAgo * DAY_MS + seed.minute * 60_000;
}

export function utcDay(daysAgo: number, now = Date.now()): string {
  return new Date(startOfTodayUtc(now) - daysAgo * DAY_MS).toISOString().slice(0, 10);
}

/** The seeds as the records the gateway sends through the queue (cost priced by src/pricing). */
export function seedRecords(now = Date.now()): RecordMessage[] {
  const records: RecordMessage[] = [];
  for (const seed of SEEDS) {
    const startedAt = seedTime(seed, now);
    const info = {
      id: seed.id,
      initiatorId: seed.user,
      apiKeyId: null,
      provider: seed.provider,
      providerName: seed.api,
      model: seed.model,
      client: seed.client,
      userAgent: `${seed.client}/1.0`,
      clientSessionId: seed.session,
      correlatingToolCallId: null,
      credentialKind: "centralized" as const,
      credentialHint: null,
      streaming: true,
      startedAt,
      metadata: null,
    };
    const usage = {
      inputTokens: seed.input,
      outputTokens: seed.output,
      cacheReadInputTokens: seed.cacheRead,
      cacheWriteInputTokens: seed.cacheWrite,
      extraTokenTypes: seed.extra,
    };
    records.push({ kind: "interception_started", ...info });
    records.push({
      kind: "token_usage",
      id: `${seed.id}-usage`,
      interceptionId: seed.id,
      providerResponseId: `resp-${seed.id}`,
      ...usage,
      rawUsage: { seeded: true },
      costMicros: priceUsage(seed.model, usage),
      createdAt: startedAt + 1000,
    });
    records.push({
      kind: "prompt",
      id: `${seed.id}-prompt`,
      interceptionId: seed.id,
      providerResponseId: `resp-${seed.id}`,
      prompt: seed.prompt,
      createdAt: startedAt + 1,
    });
    seed.tools.forEach((tool, i) => {
      records.push({
        kind: "tool_usage",
        id: `${seed.id}-tool-${i}`,
        interceptionId: seed.id,
        providerResponseId: `resp-${seed.id}`,
        providerToolCallId: `call_${seed.id}_${i}`,
        tool,
        serverUrl: null,
        input: JSON.stringify({ step: i, tool }),
        injected: false,
        invocationError: null,
        createdAt: startedAt + 2000 + i,
      });
    });
    if (seed.id === "seed-s1") {
      records.push({
        kind: "model_thought",
        id: `${seed.id}-thought`,
        interceptionId: seed.id,
        content: "The parser mixes lexing and parsing; split them first.",
        source: "thinking",
        createdAt: startedAt + 500,
      });
    }
    records.push({
      kind: "interception_ended",
      ...info,
      endedAt: startedAt + 5000,
      status: "completed",
      stopReason: "end_turn",
      errorType: null,
      errorMessage: null,
    });
  }
  return records;
}

/** The same records as SQL for `wrangler d1 execute --file` (local D1 state for node tests). */
export function seedSql(now = Date.now()): string {
  const q = (value: unknown): string => {
    if (value === null || value === undefined) return "null";
    if (typeof value === "number") return String(value);
    if (typeof value === "boolean") return value ? "1" : "0";
    const text = typeof value === "string" ? value : JSON.stringify(value);
    return `'${text.replace(/'/g, "''")}'`;
  };
  const insert = (table: string, row: Record<string, unknown>) =>
    `insert into ${table} (${Object.keys(row).join(", ")}) values (${Object.values(row).map(q).join(", ")});`;
  const lines: string[] = [];
  const ended = new Map<string, Extract<RecordMessage, { kind: "interception_ended" }>>();
  for (const r of seedRecords(now)) if (r.kind === "interception_ended") ended.set(r.id, r);
  for (const r of seedRecords(now)) {
    if (r.kind === "interception_started") {
      const end = ended.get(r.id)!;
      lines.push(
        insert("aibridge_interceptions", {
          id: r.id,
          initiator_id: r.initiatorId,
          api_key_id: r.apiKeyId,
          provider: r.provider,
          provider_name: r.providerName,
          model: r.model,
          client: r.client,
          user_agent: r.userAgent,
          client_session_id: r.clientSessionId,
          credential_kind: r.credentialKind,
          streaming: r.streaming,
          started_at: r.startedAt,
          ended_at: end.endedAt,
          status: end.status,
          stop_reason: end.stopReason,
        }),
      );
    } else if (r.kind === "token_usage") {
      lines.push(
        insert("aibridge_token_usages", {
          id: r.id,
          interception_id: r.interceptionId,
          provider_response_id: r.providerResponseId,
          input_tokens: r.inputTokens,
          output_tokens: r.outputTokens,
          cache_read_input_tokens: r.cacheReadInputTokens,
          cache_write_input_tokens: r.cacheWriteInputTokens,
          extra_token_types: r.extraTokenTypes,
          raw_usage: r.rawUsage,
          cost_micros: r.costMicros,
          created_at: r.createdAt,
        }),
      );
    } else if (r.kind === "prompt") {
      lines.push(
        insert("aibridge_user_prompts", {
          id: r.id,
          interception_id: r.interceptionId,
          provider_response_id: r.providerResponseId,
          prompt: r.prompt,
          created_at: r.createdAt,
        }),
      );
    } else if (r.kind === "tool_usage") {
      lines.push(
        insert("aibridge_tool_usages", {
          id: r.id,
          interception_id: r.interceptionId,
          provider_response_id: r.providerResponseId,
          provider_tool_call_id: r.providerToolCallId,
          tool: r.tool,
          server_url: r.serverUrl,
          input: r.input,
          injected: r.injected,
          invocation_error: r.invocationError,
          created_at: r.createdAt,
        }),
      );
    } else if (r.kind === "model_thought") {
      lines.push(
        insert("aibridge_model_thoughts", {
          id: r.id,
          interception_id: r.interceptionId,
          content: r.content,
          source: r.source,
          created_at: r.createdAt,
        }),
      );
    }
  }
  return `${lines.join("\n")}\n`;
}
