/** OpenAI Chat Completions (POST /v1/chat/completions) and Responses (POST /v1/responses) for the bridge. */
import type { Actor, UpstreamCredential } from "../../auth/actor";
import type { ProviderAdapter, ResponseOutcome } from "../../bridge/adapter";
import type { Interception } from "../../bridge/interception";
import { type Config, ConfigError } from "../../config";
import { openaiChatStreamError, openaiError, openaiErrorType, openaiResponsesStreamError } from "./errors";
import { UsageChunkRemover, withIncludeUsage } from "./include-usage";
import { type ChatToolCall, recordChatToolCall } from "./items";
import { describeChatRequest, describeResponsesRequest } from "./request";
import {
  ChatStreamParser,
  describeOpenAIError,
  type ResponseBody,
  ResponsesStreamParser,
  recordResponse,
} from "./stream";
import { type ChatUsage, normalizeChatUsage } from "./usage";

export function openaiCredential(config: Config, actor: Actor): UpstreamCredential {
  if (actor.byokCredential) return actor.byokCredential;
  if (!config.openaiApiKey) {
    throw new ConfigError("OPENAI_API_KEY", "is not set (and the request brought no key of its own)");
  }
  return { header: "authorization", value: `Bearer ${config.openaiApiKey}` };
}

function describeError(status: number, body: string): { type: string; message: string } {
  try {
    const parsed = JSON.parse(body) as { error?: { type?: string; code?: string; message?: string } };
    if (parsed.error) return describeOpenAIError(parsed.error, openaiErrorType(status));
  } catch {
    // not JSON: fall through to the status
  }
  return { type: openaiErrorType(status), message: body.slice(0, 500) };
}

const shared = {
  provider: "openai",
  credentialStyle: "openai",
  credential: openaiCredential,
  describeError,
  errorResponse: openaiError,
} as const;

interface ChatCompletion {
  id?: string;
  error?: { type?: string; code?: string; message?: string };
  usage?: ChatUsage;
  choices?: {
    finish_reason?: string | null;
    message?: { tool_calls?: ChatToolCall[]; function_call?: { name?: string; arguments?: string } };
  }[];
}

export const openaiChatCompletions: ProviderAdapter = {
  ...shared,
  providerName: "chat_completions",
  upstreamUrl: (baseUrl, search) => `${baseUrl}/chat/completions${search}`,
  describeRequest: describeChatRequest,

  prepareBody(json, bytes) {
    const changed = withIncludeUsage(json, bytes);
    return changed ? { bytes: changed, rewriter: () => new UsageChunkRemover() } : null;
  },

  recordBlocking(body: unknown, interception: Interception): ResponseOutcome {
    const completion = body as ChatCompletion;
    if (completion.error)
      return { stopReason: null, error: describeOpenAIError(completion.error, "server_error") };
    const id = completion.id ?? null;
    for (const choice of completion.choices ?? []) {
      for (const call of choice.message?.tool_calls ?? []) recordChatToolCall(interception, call, id);
      // The deprecated single function call, still returned to clients that send `functions`.
      const legacy = choice.message?.function_call;
      if (legacy) recordChatToolCall(interception, { function: legacy }, id);
    }
    if (completion.usage) interception.recordTokenUsage(normalizeChatUsage(completion.usage, id));
    return { stopReason: completion.choices?.[0]?.finish_reason ?? null };
  },

  streamParser: (interception) => new ChatStreamParser(interception),
  streamErrorEvent: openaiChatStreamError,
};

/**
 * Responses. `previous_response_id`, `store: false` and `include` are the client's business and
 * travel untouched. `background: true` without streaming answers at once with status "queued"
 * and no usage: the interception ends "completed" with stop reason "queued" and no token row, since
 * the output and usage only exist later at OpenAI (GET /responses/{id} is passthrough, not
 * recorded). `background: true` with `stream: true` is a normal stream and is recorded in full.
 */
export const openaiResponses: ProviderAdapter = {
  ...shared,
  providerName: "responses",
  upstreamUrl: (baseUrl, search) => `${baseUrl}/responses${search}`,
  describeRequest: describeResponsesRequest,
  recordBlocking: (body, interception) => recordResponse(interception, body as ResponseBody),
  streamParser: (interception) => new ResponsesStreamParser(interception),
  streamErrorEvent: openaiResponsesStreamError,
};
