/**
 * OpenAI usage → normalized token counts. Unlike Anthropic, OpenAI's input count *includes* the
 * cached part (prompt_tokens ⊇ cached_tokens; input_tokens ⊇ cached_tokens), so input excluding
 * cache = total − cached. Reasoning, audio and prediction tokens are already inside the output (or
 * input) totals and are kept as extra types for cost breakdowns, never added on top.
 */
import type { TokenUsageInput } from "../../bridge/interception";

type Counts = Record<string, number | null | undefined> | null | undefined;

export interface ChatUsage {
  prompt_tokens?: number | null;
  completion_tokens?: number | null;
  prompt_tokens_details?: Counts;
  completion_tokens_details?: Counts;
  [other: string]: unknown;
}

export interface ResponsesUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  input_tokens_details?: Counts;
  output_tokens_details?: Counts;
  [other: string]: unknown;
}

export function normalizeChatUsage(usage: ChatUsage, providerResponseId: string | null): TokenUsageInput {
  const cached = usage.prompt_tokens_details?.cached_tokens ?? 0;
  return {
    providerResponseId,
    inputTokens: Math.max(0, (usage.prompt_tokens ?? 0) - cached),
    outputTokens: usage.completion_tokens ?? 0,
    cacheReadInputTokens: cached,
    cacheWriteInputTokens: 0,
    extraTokenTypes: extras({
      reasoning: usage.completion_tokens_details?.reasoning_tokens,
      input_audio: usage.prompt_tokens_details?.audio_tokens,
      output_audio: usage.completion_tokens_details?.audio_tokens,
      accepted_prediction: usage.completion_tokens_details?.accepted_prediction_tokens,
      rejected_prediction: usage.completion_tokens_details?.rejected_prediction_tokens,
    }),
    rawUsage: usage,
  };
}

export function normalizeResponsesUsage(
  usage: ResponsesUsage,
  providerResponseId: string | null,
): TokenUsageInput {
  const cached = usage.input_tokens_details?.cached_tokens ?? 0;
  return {
    providerResponseId,
    inputTokens: Math.max(0, (usage.input_tokens ?? 0) - cached),
    outputTokens: usage.output_tokens ?? 0,
    cacheReadInputTokens: cached,
    cacheWriteInputTokens: 0,
    extraTokenTypes: extras({ reasoning: usage.output_tokens_details?.reasoning_tokens }),
    rawUsage: usage,
  };
}

function extras(counts: Record<string, number | null | undefined>): Record<string, number> | null {
  const kept: Record<string, number> = {};
  for (const [type, count] of Object.entries(counts))
    if (typeof count === "number" && count > 0) kept[type] = count;
  return Object.keys(kept).length > 0 ? kept : null;
}
