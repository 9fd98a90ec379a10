/**
 * The admin API as the dashboard reads it (/admin/v1, bearer token from sessionStorage), with the
 * shapes of the answers it uses. The page itself holds no data.
 */
const API = "/admin/v1";
const TOKEN_KEY = "aibridge-admin-token";

export const token = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (value: string): void => sessionStorage.setItem(TOKEN_KEY, value),
  clear: (): void => sessionStorage.removeItem(TOKEN_KEY),
};

/** Thrown for a 401: the page signs out; views need not show it. */
export class Unauthorized extends Error {}

export async function api<T>(path: string, params?: Record<string, string | null | undefined>): Promise<T> {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params ?? {})) if (value) query.set(name, value);
  const url = `${API}${path}${query.size > 0 ? `?${query}` : ""}`;
  const response = await fetch(url, { headers: { authorization: `Bearer ${token.get()}` } });
  if (response.status === 401) throw new Unauthorized("That admin token was not accepted.");
  const body = (await response.json()) as T & { error?: string };
  if (!response.ok) throw new Error(body.error ?? `HTTP ${response.status}`);
  return body;
}

/** A refusal with the API's own message (e.g. a 400 naming the bad field): forms show it. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** A change (PUT, POST, DELETE) with a JSON body; the answer's JSON, or ApiError with its message. */
export async function send<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${token.get()}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${API}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) throw new Unauthorized("That admin token was not accepted.");
  const answer = (await response.json().catch(() => ({}))) as T & { error?: string };
  if (!response.ok) throw new ApiError(answer.error ?? `HTTP ${response.status}`, response.status);
  return answer;
}

/** One row of GET /usage (the group_by dimensions are extra string fields). */
export interface UsageRow {
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
  total_tokens: number;
  cost_micros: number | null;
  unpriced_usages: number;
  cache_hit_ratio: number | null;
  last_seen: string | null;
  /** Prompt-cache breaks of the row's turns and what they cost (docs/cache.md). */
  cache_breaks?: number;
  cache_break_cost_usd?: number;
  user?: string;
  model?: string;
  day?: string;
  client?: string;
}

export interface UsageResponse {
  from: string;
  to: string;
  rows: UsageRow[];
  totals: UsageRow;
}

export interface InterceptionSummary {
  id: string;
  user: string;
  provider: string;
  api: string;
  model: string;
  client: string;
  session_id: string | null;
  status: string;
  stop_reason: string | null;
  started_at: string;
  duration_ms: number | null;
  tokens: { input: number; output: number; cache_read: number; cache_write: number };
  cost_micros: number | null;
  unpriced_usages: number;
  tools: { tool: string; injected: boolean }[];
  prompt: string | null;
  /** Why it failed or was refused (a limit's reason for status "rejected"). */
  error?: { type: string; message: string | null } | null;
  /** What was stored of its content and the secrets hidden (docs/redaction.md). */
  recording?: Recording | null;
}

export interface InterceptionList {
  interceptions: InterceptionSummary[];
  next_cursor: string | null;
}

export interface InterceptionDetail extends InterceptionSummary {
  token_usages: {
    input_tokens: number;
    output_tokens: number;
    cache_read_input_tokens: number;
    cache_write_input_tokens: number;
    extra_token_types: unknown;
    cost_micros: number | null;
  }[];
  prompts: { prompt: string }[];
  tools: (InterceptionSummary["tools"][number] & { input: string; invocation_error: string | null })[];
  thoughts: { source: string; content: string }[];
}

/** Why a turn read less from the prompt cache than the turn before it left there (docs/cache.md). */
export interface CacheBreak {
  cause: string;
  first_changed: string | null;
  missed_tokens: number;
  cost_micros: number | null;
  cost_usd: number | null;
  reference: string;
  gap_seconds: number;
}

/** A turn's prompt-cache view; null for a turn without a fingerprint or usage. */
export interface TurnCache {
  read_tokens: number;
  write_tokens: number;
  expected_read_tokens: number;
  hit_ratio: number | null;
  wasted_write_tokens: number;
  break: CacheBreak | null;
}

export interface SessionResponse {
  session_id: string;
  users: string[];
  interceptions: (InterceptionSummary & { cache: TurnCache | null })[];
  totals: {
    requests: number;
    input_tokens: number;
    output_tokens: number;
    cache_read_tokens: number;
    cache_write_tokens: number;
    cost_micros: number | null;
    unpriced_usages: number;
    cache: { hit_ratio: number | null; breaks: number; break_cost_usd: number; wasted_write_tokens: number };
  };
}

/** One group of GET /cache (the group_by dimension is an extra string field). */
export interface CacheGroup {
  turns: number;
  breaks: number;
  break_cost_usd: number;
  missed_tokens: number;
  wasted_write_tokens: number;
  hit_ratio: number | null;
  user?: string;
  cause?: string;
  client?: string;
}

export interface CacheResponse {
  from: string;
  to: string | null;
  rows: CacheGroup[];
  totals: { turns: number; breaks: number; break_cost_usd: number; wasted_write_tokens: number };
  /** The costliest breaks, worst first. */
  breaks: (CacheBreak & {
    interception_id: string;
    session_id: string | null;
    user: string;
    client: string;
    model: string;
    started_at: string;
    cache: { read_tokens: number; write_tokens: number; expected_read_tokens: number };
  })[];
}

/** A user's limits as stored (docs/limits.md); every field optional. */
export interface LimitPolicy {
  budget_usd?: number;
  period?: "day" | "week" | "month";
  requests_per_minute?: number;
  tokens_per_minute?: number;
  models?: { allow?: string; deny?: string };
  record_content?: "redacted" | "full" | "none";
}

/** One user in GET /limits: the effective policy, the live state, refusals this period. */
export interface UserLimits {
  user: string;
  source: "user" | "*" | null;
  policy: LimitPolicy | null;
  state: {
    period: string | null;
    period_start: string | null;
    resets_at: string | null;
    budget_usd: number | null;
    spent_usd: number;
    reserved_usd: number;
    remaining_usd: number | null;
    in_flight: number;
    requests_last_minute: number;
    tokens_last_minute: number;
  } | null;
  rejected: { total: number; by_reason: Record<string, number> };
}

export interface LimitsResponse {
  default: LimitPolicy | null;
  users: UserLimits[];
}

/** GET /redactions (docs/redaction.md): counts only, never values. */
export interface RedactionsResponse {
  from: string;
  to: string | null;
  rows: { user?: string; kind?: string; redactions: number; interceptions_with_redactions: number }[];
  recording: {
    user: string;
    interceptions: number;
    redacted: number;
    full: number;
    none: number;
    opted_down: number;
  }[];
}

/** What was stored of an interception's content and the secrets hidden, per kind. */
export interface Recording {
  content: string | null;
  source: string | null;
  redactions: Record<string, number> | null;
}
