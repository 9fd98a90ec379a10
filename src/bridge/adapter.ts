/**
 * What the bridge needs to know about one provider API. Each API (Anthropic Messages, OpenAI Chat
 * Completions, OpenAI Responses, …) implements this in its own folder; the bridge itself never
 * looks inside a provider's JSON.
 */
import type { Actor, UpstreamCredential } from "../auth/actor";
import type { Config } from "../config";
import type { SseEvent } from "../sse/decoder";
import type { Interception } from "./interception";

export interface RequestFacts {
  streaming: boolean;
  clientSessionId: string | null;
  correlatingToolCallId: string | null;
  /** The user's prompt: the text of the last user message, or null when there is none. */
  prompt: string | null;
}

/** The end state a parser saw in the provider's own response. */
export interface ResponseOutcome {
  stopReason: string | null;
  /** Set when the provider reported an error (in a blocking body or as a stream error event). */
  error?: { type: string; message: string } | null;
  /** A response that is not finished yet (OpenAI background): its usage comes later (src/background). */
  pendingResponseId?: string | null;
}

export interface StreamParser {
  onEvent(event: SseEvent): void;
  /** Called once after the last event; returns what the stream ended with. */
  finish(): ResponseOutcome;
}

export interface StreamRewriter {
  /** What the client sees for an upstream chunk, when the gateway had to change the request. */
  clientBytes(chunk: Uint8Array): Uint8Array | string | null;
  clientTail(): string | null;
}

export interface ProviderAdapter {
  provider: string;
  providerName: string;
  /** Which credential header this API's clients use (for actor resolution). */
  credentialStyle: "anthropic" | "openai";
  /** This API's URL on an instance (`baseUrl`), with the client's query string (`search`, "" or "?…"). */
  upstreamUrl(baseUrl: string, search: string): string;
  /** The credential sent upstream; throws ConfigError when the gateway's own key is not configured. */
  credential(config: Config, actor: Actor): UpstreamCredential;
  /** Headers to add upstream when the client left them out (e.g. anthropic-version). */
  defaultHeaders?(incoming: Headers): Record<string, string>;
  describeRequest(json: Record<string, unknown>, headers: Headers): RequestFacts;
  /**
   * The body to send upstream. Absent or returning null = the client's bytes, untouched. APIs return
   * new bytes only when the gateway must change the request (and then also a rewriter for the stream).
   */
  prepareBody?(
    json: Record<string, unknown>,
    bytes: Uint8Array,
  ): { bytes: Uint8Array; rewriter?: () => StreamRewriter } | null;
  /** Records usage, tool calls and thoughts from a blocking (JSON) response. */
  recordBlocking(body: unknown, interception: Interception): ResponseOutcome;
  /** A parser that records usage, tool calls and thoughts from a stream, event by event. */
  streamParser(interception: Interception): StreamParser;
  /** The provider's error type and message in an upstream error body (for the record). */
  describeError(status: number, body: string): { type: string; message: string };
  errorResponse(status: number, message: string, type?: string): Response;
  streamErrorEvent(message: string): string;
}
