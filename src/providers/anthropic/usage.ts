/**
 * Anthropic usage → normalized token counts. `input_tokens` already excludes cache reads and
 * writes (they are additional). Cache writes may be split by TTL in `cache_creation`. Server tool
 * use (web search / web fetch) is counted as extra types.
 */
import type { TokenUsageInput } from "../../bridge/interception";

export interface AnthropicUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation?: {
    ephemeral_5m_input_tokens?: number | null;
    ephemeral_1h_input_tokens?: number | null;
  } | null;
  server_tool_use?: Record<string, number | null | undefined> | null;
  [other: string]: unknown;
}

export function normalizeUsage(usage: AnthropicUsage, providerResponseId: string | null): TokenUsageInput {
  const extra: Record<string, number> = {};
  const split = usage.cache_creation;
  if (split) {
    if (split.ephemeral_5m_input_tokens) extra.cache_write_5m = split.ephemeral_5m_input_tokens;
    if (split.ephemeral_1h_input_tokens) extra.cache_write_1h = split.ephemeral_1h_input_tokens;
  }
  for (const [name, count] of Object.entries(usage.server_tool_use ?? {})) {
    if (typeof count === "number" && count > 0) extra[name] = count;
  }
  return {
    providerResponseId,
    inputTokens: usage.input_tokens ?? 0,
    outputTokens: usage.output_tokens ?? 0,
    cacheReadInputTokens: usage.cache_read_input_tokens ?? 0,
    cacheWriteInputTokens: usage.cache_creation_input_tokens ?? 0,
    extraTokenTypes: Object.keys(extra).length > 0 ? extra : null,
    rawUsage: usage,
  };
}

/**
 * Streaming: message_start carries input and cache counts (its output_tokens is a placeholder);
 * message_delta carries the cumulative output_tokens and may repeat input/cache counts, which are
 * then authoritative. Merging = later non-null fields win; never add start and delta outputs.
 */
export function mergeUsage(start: AnthropicUsage | null, delta: AnthropicUsage | null): AnthropicUsage {
  const merged: AnthropicUsage = { ...(start ?? {}) };
  for (const [key, value] of Object.entries(delta ?? {})) {
    if (value !== null && value !== undefined) merged[key] = value;
  }
  return merged;
}
