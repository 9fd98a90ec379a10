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
