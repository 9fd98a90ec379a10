/**
 * Cost of one token-usage record. Prices are US dollars per million tokens, so a token count times
 * a price is exactly micro-dollars: cost is computed in micro-dollars and rounded once per record.
 * A model with no known price gets null (the admin API counts those as "unpriced"), never zero.
 */
import type { Price, PriceOverrides } from "./overrides";
import { ANTHROPIC_PRICES, OPENAI_PRICES } from "./prices";

/** The token columns of aibridge_token_usages that cost depends on. */
export interface UsageCounts {
  inputTokens: number;
  outputTokens: number;
  cacheReadInputTokens: number;
  cacheWriteInputTokens: number;
  extraTokenTypes?: Record<string, number> | null;
}

const BUILT_IN: Record<string, Price> = {};
for (const [model, p] of Object.entries(ANTHROPIC_PRICES)) {
  BUILT_IN[model] = {
    input: p.input,
    output: p.output,
    cacheWrite5m: p.cache_write_5m,
    cacheWrite1h: p.cache_write_1h,
    cacheRead: p.cache_read,
  };
}
for (const [model, p] of Object.entries(OPENAI_PRICES)) {
  // OpenAI bills no cache writes (normalized cache_write is always 0 there); if one ever appears it
  // is charged as plain input rather than guessed cheaper.
  BUILT_IN[model] = {
    input: p.input,
    output: p.output,
    cacheWrite5m: p.input,
    cacheWrite1h: p.input,
    cacheRead: p.cached_input ?? p.input,
  };
}

/**
 * The family a model id belongs to: lower-cased, without a release date suffix
 * (claude-sonnet-4-5-20250929, gpt-4o-2024-08-06, Vertex's claude-sonnet-4-5@20250929) or -latest.
 * Only the date is stripped: gpt-5-pro must never fall back to gpt-5's price.
 */
export function modelFamily(model: string): string {
  return model
    .trim()
    .toLowerCase()
    .replace(/(@|-)(\d{8}|\d{4}-\d{2}-\d{2})$/, "")
    .replace(/-latest$/, "");
}

/** Override for the exact id, then for its family, then the built-in table; null when unknown. */
export function findPrice(model: string, overrides: PriceOverrides = {}): Price | null {
  const exact = model.trim().toLowerCase();
  const family = modelFamily(model);
  return overrides[exact] ?? overrides[family] ?? BUILT_IN[exact] ?? BUILT_IN[family] ?? null;
}

/**
 * Micro-dollars for one usage record. Cache writes split by TTL (extra cache_write_5m /
 * cache_write_1h, from Anthropic's cache_creation) are priced per TTL; writes without a split are
 * priced at the 5-minute rate, which is what Anthropic bills when no TTL is given.
 */
export function costMicros(usage: UsageCounts, price: Price): number {
  const extra = usage.extraTokenTypes ?? {};
  const write1h = extra.cache_write_1h ?? 0;
  const write5m = Math.max(extra.cache_write_5m ?? 0, usage.cacheWriteInputTokens - write1h);
  return Math.round(
    usage.inputTokens * price.input +
      usage.outputTokens * price.output +
      usage.cacheReadInputTokens * price.cacheRead +
      write5m * price.cacheWrite5m +
      write1h * price.cacheWrite1h,
  );
}

/** Cost of a usage record, or null for a model without a price. */
export function priceUsage(model: string, usage: UsageCounts, overrides: PriceOverrides = {}): number | null {
  const price = findPrice(model, overrides);
  return price ? costMicros(usage, price) : null;
}
