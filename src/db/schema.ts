/**
 * D1 schema. Table names follow coder/aibridge so its users feel at home. Times are unix epoch
 * milliseconds (integers: compact, index-friendly, `date(x / 1000, 'unixepoch')` for days).
 * migrations/ is generated from this file by `npm run db:generate` (drizzle-kit); never hand-edit it.
 */
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const users = sqliteTable("aibridge_users", {
  /** The initiator id: an email or any stable user id chosen by the admin. */
  id: text("id").primaryKey(),
  createdAt: integer("created_at").notNull(),
});

export const apiKeys = sqliteTable(
  "aibridge_api_keys",
  {
    id: text("id").primaryKey(),
    userId: text("user_id").notNull(),
    name: text("name"),
    /** The key's public prefix (`aib_` + first characters): lets people recognise a key in lists. */
    keyPrefix: text("key_prefix").notNull(),
    /** SHA-256 of the whole key, hex. The key itself is never stored. */
    keyHash: text("key_hash").notNull().unique(),
    createdAt: integer("created_at").notNull(),
    lastUsedAt: integer("last_used_at"),
    revokedAt: integer("revoked_at"),
  },
  (t) => [index("api_keys_user_idx").on(t.userId)],
);

export const interceptions = sqliteTable(
  "aibridge_interceptions",
  {
    id: text("id").primaryKey(),
    initiatorId: text("initiator_id").notNull(),
    apiKeyId: text("api_key_id"),
    /** API family: anthropic | openai. */
    provider: text("provider").notNull(),
    /** Which API of the provider: messages | chat_completions | responses. */
    providerName: text("provider_name").notNull(),
    /** The provider instance the client addressed (PROVIDERS name; anthropic | openai by default). */
    instance: text("instance"),
    /** The instance that answered: the addressed one, or a fallback (null when none answered). */
    upstreamInstance: text("upstream_instance"),
    /** True when a fallback instance answered because the addressed one failed before the first byte. */
    fallback: integer("fallback", { mode: "boolean" }).notNull().default(false),
    model: text("model").notNull(),
    client: text("client").notNull(),
    userAgent: text("user_agent"),
    clientSessionId: text("client_session_id"),
    correlatingToolCallId: text("correlating_tool_call_id"),
    credentialKind: text("credential_kind").notNull(),
    credentialHint: text("credential_hint"),
    streaming: integer("streaming", { mode: "boolean" }).notNull(),
    startedAt: integer("started_at").notNull(),
    endedAt: integer("ended_at"),
    /** started | completed | failed | client_disconnected | rejected (refused by a limit, never sent upstream) */
    status: text("status").notNull(),
    stopReason: text("stop_reason"),
    errorType: text("error_type"),
    errorMessage: text("error_message"),
    metadata: text("metadata", { mode: "json" }),
    /** 1 once this interception's request is counted in aibridge_usage_rollups (src/recorder/rollups.ts). */
    rolledUp: integer("rolled_up").notNull().default(0),
    /**
     * The rollups' instance key this interception is counted under (null until folded). It differs
     * from the current one only when a fallback's end record arrives after the start was folded: the
     * next fold moves the interception's counts (src/recorder/rollup-sql.mjs).
     */
    rollupInstance: text("rollup_instance"),
    /** What was recorded of the content: redacted | full | none (docs/redaction.md). */
    recordContent: text("record_content"),
    /** Who chose it: config | policy | header (the request's x-aibridge-record opt-down). */
    recordContentSource: text("record_content_source"),
    /** Secrets replaced by markers in this interception's records, by kind: {"aws_access_key_id": 2}. */
    redactions: text("redactions", { mode: "json" }).$type<Record<string, number>>(),
    /** The sum of `redactions`, for cheap totals. */
    redactionCount: integer("redaction_count"),
  },
  (t) => [
    index("interceptions_initiator_started_idx").on(t.initiatorId, t.startedAt),
    index("interceptions_started_idx").on(t.startedAt),
    index("interceptions_session_idx").on(t.clientSessionId, t.startedAt),
  ],
);

export const tokenUsages = sqliteTable(
  "aibridge_token_usages",
  {
    id: text("id").primaryKey(),
    interceptionId: text("interception_id").notNull(),
    providerResponseId: text("provider_response_id"),
    /** Normalized: input tokens excluding cache reads and writes. */
    inputTokens: integer("input_tokens").notNull(),
    outputTokens: integer("output_tokens").notNull(),
    cacheReadInputTokens: integer("cache_read_input_tokens").notNull(),
    cacheWriteInputTokens: integer("cache_write_input_tokens").notNull(),
    /** Other counts by type: cache_write_5m, cache_write_1h, reasoning, web_search_requests, … */
    extraTokenTypes: text("extra_token_types", { mode: "json" }).$type<Record<string, number>>(),
    /** The usage object exactly as the provider sent it, so cost can always be recomputed. */
    rawUsage: text("raw_usage", { mode: "json" }),
    /** Cost in micro-dollars; null when the model has no known price. */
    costMicros: integer("cost_micros"),
    /**
     * True when the provider's final usage never arrived (stream cut, disconnect drain bound) and
     * the counts were estimated from what was seen; estimate_method says how (src/usage/estimate.ts).
     */
    estimated: integer("estimated", { mode: "boolean" }).notNull().default(false),
    estimateMethod: text("estimate_method"),
    createdAt: integer("created_at").notNull(),
    /** 1 once this row's tokens and cost are added to aibridge_usage_rollups (src/recorder/rollups.ts). */
    rolledUp: integer("rolled_up").notNull().default(0),
  },
  (t) => [
    index("token_usages_interception_idx").on(t.interceptionId),
    index("token_usages_created_idx").on(t.createdAt),
  ],
);

export const userPrompts = sqliteTable(
  "aibridge_user_prompts",
  {
    id: text("id").primaryKey(),
    interceptionId: text("interception_id").notNull(),
    providerResponseId: text("provider_response_id"),
    prompt: text("prompt").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    index("user_prompts_interception_idx").on(t.interceptionId),
    index("user_prompts_created_idx").on(t.createdAt),
  ],
);

export const toolUsages = sqliteTable(
  "aibridge_tool_usages",
  {
    id: text("id").primaryKey(),
    interceptionId: text("interception_id").notNull(),
    providerResponseId: text("provider_response_id"),
    providerToolCallId: text("provider_tool_call_id"),
    tool: text("tool").notNull(),
    /** Set for injected MCP tools: the server the gateway called. */
    serverUrl: text("server_url"),
    /** Tool arguments as the model produced them (JSON text, kept verbatim). */
    input: text("input").notNull(),
    injected: integer("injected", { mode: "boolean" }).notNull(),
    invocationError: text("invocation_error"),
    createdAt: integer("created_at").notNull(),
    /** R2 pointer when `input` lives in the CONTENT bucket (src/recorder/content.ts); `input` is then "". */
    contentRef: text("content_ref"),
  },
  (t) => [
    index("tool_usages_interception_idx").on(t.interceptionId),
    index("tool_usages_created_idx").on(t.createdAt),
  ],
);

export const modelThoughts = sqliteTable(
  "aibridge_model_thoughts",
  {
    id: text("id").primaryKey(),
    interceptionId: text("interception_id").notNull(),
    content: text("content").notNull(),
    /** thinking (Anthropic) | reasoning_summary (OpenAI Responses) | … */
    source: text("source").notNull(),
    createdAt: integer("created_at").notNull(),
    /** R2 pointer when `content` lives in the CONTENT bucket (src/recorder/content.ts); `content` is then "". */
    contentRef: text("content_ref"),
  },
  (t) => [
    index("model_thoughts_interception_idx").on(t.interceptionId),
    index("model_thoughts_created_idx").on(t.createdAt),
  ],
);

/**
 * Records the consumer could not write after every retry (they came through the dead-letter queue).
 * Kept whole for inspection and replay instead of being dropped.
 */
export const deadLetters = sqliteTable(
  "aibridge_dead_letters",
  {
    id: text("id").primaryKey(),
    kind: text("kind"),
    body: text("body").notNull(),
    attempts: integer("attempts").notNull(),
    receivedAt: integer("received_at").notNull(),
  },
  (t) => [index("dead_letters_received_idx").on(t.receivedAt)],
);

/**
 * The rest of a text too long for one D1 row (D1 caps a row at 2 MB): a prompt, tool input or
 * thought keeps its first part in its own row, and the following parts live here in order, so the
 * text is stored whole. Readers append `content` by `seq` (see docs/queries.md).
 */
export const recordParts = sqliteTable(
  "aibridge_record_parts",
  {
    id: text("id").primaryKey(),
    /** The id of the prompt, tool usage or thought row the text belongs to. */
    recordId: text("record_id").notNull(),
    /** prompt | input | content */
    field: text("field").notNull(),
    /** 1, 2, …: part 0 is in the record's own row. */
    seq: integer("seq").notNull(),
    content: text("content").notNull(),
    createdAt: integer("created_at").notNull(),
    /** R2 pointer when `content` lives in the CONTENT bucket (src/recorder/content.ts); `content` is then "". */
    contentRef: text("content_ref"),
  },
  (t) => [
    index("record_parts_record_idx").on(t.recordId, t.field, t.seq),
    index("record_parts_created_idx").on(t.createdAt),
  ],
);

/**
 * Usage pre-aggregated per UTC day and per hour × user × provider × model × client × instance, so usage
 * questions read O(buckets × users) rows instead of O(requests). Maintained by the queue consumer
 * in the same transaction as the raw rows (src/recorder/rollups.ts says how it stays exact under
 * at-least-once, unordered delivery) and rebuildable from the raw rows. Buckets are dated by the
 * interception's started_at, like the raw usage answers.
 */
export const usageRollups = sqliteTable(
  "aibridge_usage_rollups",
  {
    /** day | hour */
    span: text("span").notNull(),
    /** Start of the UTC day or hour, epoch ms. */
    bucket: integer("bucket").notNull(),
    initiatorId: text("initiator_id").notNull(),
    provider: text("provider").notNull(),
    model: text("model").notNull(),
    client: text("client").notNull(),
    /**
     * The provider instance that answered, else the one addressed, else the API family (what
     * /admin/v1/usage?group_by=instance shows). "" on rows kept from before this column existed
     * (read as the API family); the upgrade rebuilds the days the raw rows still cover.
     */
    instance: text("instance").notNull().default(""),
    /** Interceptions started in the bucket (failed ones included). */
    requests: integer("requests").notNull().default(0),
    /** Of those, the ones with at least one token-usage row (what /v1/me calls requests). */
    usageRequests: integer("usage_requests").notNull().default(0),
    /** Token-usage rows, and how many of them had a price. */
    usages: integer("usages").notNull().default(0),
    pricedUsages: integer("priced_usages").notNull().default(0),
    inputTokens: integer("input_tokens").notNull().default(0),
    outputTokens: integer("output_tokens").notNull().default(0),
    cacheReadTokens: integer("cache_read_tokens").notNull().default(0),
    cacheWriteTokens: integer("cache_write_tokens").notNull().default(0),
    cacheWrite5mTokens: integer("cache_write_5m_tokens").notNull().default(0),
    cacheWrite1hTokens: integer("cache_write_1h_tokens").notNull().default(0),
    reasoningTokens: integer("reasoning_tokens").notNull().default(0),
    /** Requests with at least one estimated usage row, and estimated usage rows (issue 13's flag). */
    estimatedRequests: integer("estimated_requests").notNull().default(0),
    estimatedUsages: integer("estimated_usages").notNull().default(0),
    /** Sum of the priced usages' cost, micro-dollars. */
    costMicros: integer("cost_micros").notNull().default(0),
    /** Latest started_at counted in the bucket. */
    lastSeen: integer("last_seen"),
  },
  (t) => [
    primaryKey({ columns: [t.span, t.bucket, t.initiatorId, t.provider, t.model, t.client, t.instance] }),
    // One user's day rows (the limiter's period spend, /v1/me): not a scan of every user's days.
    index("usage_rollups_user_idx").on(t.initiatorId, t.span, t.bucket),
  ],
);

/**
 * One row per bridged request: the fingerprint of its cacheable prefix (src/analytics/), from which
 * the admin API works out, at query time, each turn's expected cache read and why a cache broke.
 * The chain holds 4 bytes per segment (base64), so a 1,000-message turn is about 5 KB.
 */
export const cacheFingerprints = sqliteTable(
  "aibridge_cache_fingerprints",
  {
    interceptionId: text("interception_id").primaryKey(),
    /** The client's session id (null: grouped by user and model at query time). */
    sessionId: text("session_id"),
    initiatorId: text("initiator_id").notNull(),
    client: text("client").notNull(),
    model: text("model").notNull(),
    /** messages | chat_completions | responses */
    api: text("api").notNull(),
    startedAt: integer("started_at").notNull(),
    /** Segment groups in order, e.g. `tools,system[3],messages[40]`. */
    layout: text("layout").notNull(),
    /** [[segment index, ttl seconds], …] of the cache_control breakpoints. */
    breakpoints: text("breakpoints", { mode: "json" }).$type<[number, number][]>().notNull(),
    /** Hex hashes of the tools, system/instructions and first message: "continues the same conversation". */
    anchors: text("anchors").notNull(),
    /** Chained 32-bit segment hashes, base64. */
    chain: text("chain").notNull(),
    segments: integer("segments").notNull(),
    defaultTtlSeconds: integer("default_ttl_seconds").notNull(),
  },
  (t) => [
    index("cache_fingerprints_session_idx").on(t.sessionId, t.startedAt),
    index("cache_fingerprints_started_idx").on(t.startedAt),
  ],
);

/**
 * Per-user limits (budget, rate limits, model policy; see docs/limits.md). `user_id` "*" is the
 * default for users without their own row. `policy` is the validated JSON as the admin sent it;
 * `updated_at` is when it last changed.
 */
export const limits = sqliteTable("aibridge_limits", {
  userId: text("user_id").primaryKey(),
  policy: text("policy", { mode: "json" }).notNull(),
  updatedAt: integer("updated_at").notNull(),
});
