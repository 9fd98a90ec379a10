/**
 * The records the gateway keeps, as they travel on the RECORDS queue. Every record carries a stable
 * id (UUIDv7, time-ordered), so the consumer's inserts are idempotent under at-least-once delivery.
 * The six kinds mirror coder/aibridge's Recorder; `key_used` moves API-key last-used stamps off the
 * request path too.
 */
import type { CacheFingerprintRecord } from "../analytics/record";

/** rejected: refused by a per-user limit (src/limits) before anything reached the upstream. */
export type InterceptionStatus = "started" | "completed" | "failed" | "client_disconnected" | "rejected";
export type CredentialKind = "centralized" | "byok";

/** Everything known when an interception opens. Repeated on the end record (see below). */
export interface InterceptionInfo {
  id: string;
  initiatorId: string;
  apiKeyId: string | null;
  provider: string;
  providerName: string;
  /** The provider instance the client addressed (its path segment); absent in older records. */
  instance?: string | null;
  model: string;
  client: string;
  userAgent: string | null;
  clientSessionId: string | null;
  correlatingToolCallId: string | null;
  credentialKind: CredentialKind;
  credentialHint: string | null;
  streaming: boolean;
  startedAt: number;
  metadata: Record<string, unknown> | null;
}

export interface InterceptionStarted extends InterceptionInfo {
  kind: "interception_started";
}

/**
 * The end record repeats the start fields: queues do not keep order, and an end that arrives first
 * must still be able to create a complete row.
 */
export interface InterceptionEnded extends InterceptionInfo {
  kind: "interception_ended";
  endedAt: number;
  status: Exclude<InterceptionStatus, "started">;
  stopReason: string | null;
  errorType: string | null;
  errorMessage: string | null;
  /** The instance that answered (null when none did), and whether it was a fallback. */
  upstreamInstance?: string | null;
  fallback?: boolean;
  /** What was recorded of the content: redacted | full | none (src/redaction); absent on old messages. */
  recordContent?: string;
  /** Who chose that mode: config | policy | header. */
  recordContentSource?: string;
  /** Secrets replaced by markers, by kind (null: none found). */
  redactions?: Record<string, number> | null;
}

export interface TokenUsage {
  kind: "token_usage";
  id: string;
  interceptionId: string;
  providerResponseId: string | null;
  inputTokens: number;
  outputTokens: number;
  cacheReadInputTokens: number;
  cacheWriteInputTokens: number;
  extraTokenTypes: Record<string, number> | null;
  rawUsage: unknown;
  costMicros: number | null;
  /** Set when the counts are an estimate (the provider's final usage never arrived): how. */
  estimateMethod?: string | null;
  createdAt: number;
}

export interface UserPrompt {
  kind: "prompt";
  id: string;
  interceptionId: string;
  providerResponseId: string | null;
  prompt: string;
  createdAt: number;
}

export interface ToolUsage {
  kind: "tool_usage";
  id: string;
  interceptionId: string;
  providerResponseId: string | null;
  providerToolCallId: string | null;
  tool: string;
  serverUrl: string | null;
  input: string;
  injected: boolean;
  invocationError: string | null;
  createdAt: number;
  /** Set when `input` was moved to R2 (src/recorder/content.ts); `input` is then "". */
  contentRef?: string | null;
}

export interface ModelThought {
  kind: "model_thought";
  id: string;
  interceptionId: string;
  content: string;
  source: string;
  createdAt: number;
  /** Set when `content` was moved to R2 (src/recorder/content.ts); `content` is then "". */
  contentRef?: string | null;
}

export interface KeyUsed {
  kind: "key_used";
  /** The api key id; last_used_at only ever moves forward, so replays are harmless. */
  id: string;
  usedAt: number;
}

/** A further part of a text too long for one D1 row (see splitLongTexts in producer.ts). */
export interface RecordPart {
  kind: "record_part";
  id: string;
  recordId: string;
  field: "prompt" | "input" | "content";
  seq: number;
  content: string;
  createdAt: number;
  /** Set when `content` was moved to R2 (src/recorder/content.ts); `content` is then "". */
  contentRef?: string | null;
}

export type RecordMessage =
  | InterceptionStarted
  | InterceptionEnded
  | TokenUsage
  | UserPrompt
  | ToolUsage
  | ModelThought
  | KeyUsed
  | RecordPart
  | CacheFingerprintRecord;

/**
 * One queue message carrying several records (usually all of one interception's end): Queues bill
 * and the local broker works per message, and an interception ends with 3–6 records. A message
 * body is either this or a single record (what earlier versions sent, still accepted).
 */
export interface RecordPack {
  kind: "records";
  records: RecordMessage[];
}

/** The records a queue message body carries. */
export function recordsOf(body: RecordMessage | RecordPack): RecordMessage[] {
  return body.kind === "records" ? body.records : [body];
}
