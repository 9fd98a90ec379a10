/**
 * List prices in US dollars per million tokens, standard (non-batch) processing.
 *
 * Sources: https://docs.anthropic.com/en/docs/about-claude/pricing and
 * https://platform.openai.com/docs/pricing, checked 2026-11-26. This build machine has no internet,
 * so the tables were checked against stored copies of those pages and of secondary tables that cite
 * them; verify against the live pages when updating, and use PRICING_OVERRIDES for anything
 * negotiated or newer than this file.
 *
 * Not modelled: batch discounts, long-context surcharges (Anthropic > 200K input, OpenAI > 270K),
 * data-residency multipliers, and per-call server tool fees (web search).
 *
 * Keys are model families: dated ids (claude-sonnet-4-5-20250929, gpt-4o-2024-08-06) are matched to
 * them by src/pricing/index.ts. Anthropic rows give both cache-write TTL prices; OpenAI has no
 * cache-write charge, only a cheaper "cached input" price, which is its cache-read price here.
 */

export interface AnthropicPrice {
  input: number;
  output: number;
  cache_write_5m: number;
  cache_write_1h: number;
  cache_read: number;
}

export interface OpenAIPrice {
  input: number;
  /** Absent where OpenAI publishes no cached price (the -pro models): cached input is full price. */
  cached_input?: number;
  output: number;
}

export const PRICES_CHECKED_ON = "2026-11-26";

export const ANTHROPIC_PRICES: Record<string, AnthropicPrice> = {
  "claude-opus-4-7": { input: 5, output: 25, cache_write_5m: 6.25, cache_write_1h: 10, cache_read: 0.5 },
  "claude-opus-4-6": { input: 5, output: 25, cache_write_5m: 6.25, cache_write_1h: 10, cache_read: 0.5 },
  "claude-opus-4-5": { input: 5, output: 25, cache_write_5m: 6.25, cache_write_1h: 10, cache_read: 0.5 },
  "claude-opus-4-1": { input: 15, output: 75, cache_write_5m: 18.75, cache_write_1h: 30, cache_read: 1.5 },
  "claude-opus-4-0": { input: 15, output: 75, cache_write_5m: 18.75, cache_write_1h: 30, cache_read: 1.5 },
  "claude-opus-4": { input: 15, output: 75, cache_write_5m: 18.75, cache_write_1h: 30, cache_read: 1.5 },
  "claude-sonnet-4-6": { input: 3, output: 15, cache_write_5m: 3.75, cache_write_1h: 6, cache_read: 0.3 },
  "claude-sonnet-4-5": { input: 3, output: 15, cache_write_5m: 3.75, cache_write_1h: 6, cache_read: 0.3 },
  "claude-sonnet-4-0": { input: 3, output: 15, cache_write_5m: 3.75, cache_write_1h: 6, cache_read: 0.3 },
  "claude-sonnet-4": { input: 3, output: 15, cache_write_5m: 3.75, cache_write_1h: 6, cache_read: 0.3 },
  "claude-3-7-sonnet": { input: 3, output: 15, cache_write_5m: 3.75, cache_write_1h: 6, cache_read: 0.3 },
  "claude-haiku-4-5": { input: 1, output: 5, cache_write_5m: 1.25, cache_write_1h: 2, cache_read: 0.1 },
  "claude-3-5-haiku": { input: 0.8, output: 4, cache_write_5m: 1, cache_write_1h: 1.6, cache_read: 0.08 },
  "claude-3-haiku": { input: 0.25, output: 1.25, cache_write_5m: 0.3, cache_write_1h: 0.5, cache_read: 0.03 },
};

export const OPENAI_PRICES: Record<string, OpenAIPrice> = {
  "gpt-5.4": { input: 2.5, cached_input: 0.25, output: 15 },
  "gpt-5.4-mini": { input: 0.75, cached_input: 0.075, output: 4.5 },
  "gpt-5.4-nano": { input: 0.2, cached_input: 0.02, output: 1.25 },
  "gpt-5.2": { input: 1.75, cached_input: 0.175, output: 14 },
  "gpt-5.2-pro": { input: 21, output: 168 },
  "gpt-5.1": { input: 1.25, cached_input: 0.125, output: 10 },
  "gpt-5.1-codex": { input: 1.25, cached_input: 0.125, output: 10 },
  "gpt-5.1-codex-mini": { input: 0.25, cached_input: 0.025, output: 2 },
  "gpt-5": { input: 1.25, cached_input: 0.125, output: 10 },
  "gpt-5-codex": { input: 1.25, cached_input: 0.125, output: 10 },
  "gpt-5-mini": { input: 0.25, cached_input: 0.025, output: 2 },
  "gpt-5-nano": { input: 0.05, cached_input: 0.005, output: 0.4 },
  "gpt-5-pro": { input: 15, output: 120 },
  "gpt-4.1": { input: 2, cached_input: 0.5, output: 8 },
  "gpt-4.1-mini": { input: 0.4, cached_input: 0.1, output: 1.6 },
  "gpt-4.1-nano": { input: 0.1, cached_input: 0.025, output: 0.4 },
  "gpt-4o": { input: 2.5, cached_input: 1.25, output: 10 },
  "gpt-4o-mini": { input: 0.15, cached_input: 0.075, output: 0.6 },
  o3: { input: 2, cached_input: 0.5, output: 8 },
  "o4-mini": { input: 1.1, cached_input: 0.275, output: 4.4 },
};
