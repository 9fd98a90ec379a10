/** Anthropic Messages (POST /v1/messages) for the bridge. */
import type { Actor, UpstreamCredential } from "../../auth/actor";
import type { ProviderAdapter, ResponseOutcome } from "../../bridge/adapter";
import type { Interception } from "../../bridge/interception";
import { type Config, ConfigError } from "../../config";
import { anthropicError, anthropicErrorType, anthropicStreamError } from "./errors";
import { describeMessagesRequest } from "./request";
import { MessagesStreamParser } from "./stream";
import { type AnthropicUsage, normalizeUsage } from "./usage";

/** Anthropic rejects requests without it; plain curl users rarely know. Never overrides the client's. */
export const DEFAULT_ANTHROPIC_VERSION = "2023-06-01";

export function anthropicCredential(config: Config, actor: Actor): UpstreamCredential {
  if (actor.byokCredential) return actor.byokCredential;
  if (!config.anthropicApiKey) {
    throw new ConfigError("ANTHROPIC_API_KEY", "is not set (and the request brought no key of its own)");
  }
  return { header: "x-api-key", value: config.anthropicApiKey };
}

export const anthropicMessages: ProviderAdapter = {
  provider: "anthropic",
  providerName: "messages",
  credentialStyle: "anthropic",
  // Claude Code sends ?beta=true: the query string must reach the upstream.
  upstreamUrl: (baseUrl, search) => `${baseUrl}/v1/messages${search}`,
  credential: anthropicCredential,
  defaultHeaders: () => ({ "anthropic-version": DEFAULT_ANTHROPIC_VERSION }),
  describeRequest: describeMessagesRequest,

  recordBlocking(body: unknown, interception: Interception): ResponseOutcome {
    const message = body as {
      id?: string;
      type?: string;
      stop_reason?: string | null;
      usage?: AnthropicUsage;
      content?: Record<string, unknown>[];
      error?: { type?: string; message?: string };
    };
    if (message.type === "error") {
      return {
        stopReason: null,
        error: { type: message.error?.type ?? "api_error", message: message.error?.message ?? "error" },
      };
    }
    const id = message.id ?? null;
    if (message.usage) interception.recordTokenUsage(normalizeUsage(message.usage, id));
    for (const block of message.content ?? []) {
      if (block.type === "tool_use" || block.type === "server_tool_use") {
        interception.recordToolUsage({
          providerResponseId: id,
          providerToolCallId: typeof block.id === "string" ? block.id : null,
          tool: typeof block.name === "string" ? block.name : "unknown",
          serverUrl: null,
          input: JSON.stringify(block.input ?? {}),
          injected: false,
          invocationError: null,
        });
      } else if (block.type === "thinking" && typeof block.thinking === "string") {
        interception.recordThought(block.thinking, "thinking");
      }
    }
    return { stopReason: message.stop_reason ?? null };
  },

  streamParser: (interception) => new MessagesStreamParser(interception),

  describeError(status, body) {
    try {
      const parsed = JSON.parse(body) as { error?: { type?: string; message?: string } };
      if (parsed.error?.type) return { type: parsed.error.type, message: parsed.error.message ?? "" };
    } catch {
      // not JSON: fall through to the status
    }
    return { type: anthropicErrorType(status), message: body.slice(0, 500) };
  },

  errorResponse: anthropicError,
  streamErrorEvent: (message) => anthropicStreamError(message),
};
