/**
 * Reading OpenAI streams event by event. Chat: every tool call (parallel ones too) assembled per
 * choice and index from argument pieces, the finish reason, the usage chunk, `{"error":…}` chunks.
 * Responses: output items recorded when done (or, for a stream cut short, from what the deltas
 * assembled), usage from the terminal event, and response.failed / response.incomplete / error.
 * A stream that ends without its usage (chat's usage chunk, Responses' terminal event) is recorded
 * as an estimate from the request's text and the streamed deltas (src/usage/estimate.ts).
 */
import type { ResponseOutcome, StreamParser } from "../../bridge/adapter";
import type { Interception } from "../../bridge/interception";
import type { SseEvent } from "../../sse/decoder";
import { jsonIntegerAt, jsonStringEnd, jsonStringValue } from "../../sse/json-string";
import { jsonStringFieldLength, requestAndDeltasEstimate } from "../../usage/estimate";
import { type ChatToolCall, type ResponseItem, recordChatToolCall, recordResponseItem } from "./items";
import { type ChatUsage, normalizeChatUsage, normalizeResponsesUsage, type ResponsesUsage } from "./usage";

type ErrorBody = { type?: string | null; code?: string | null; message?: string | null };

export function describeOpenAIError(error: ErrorBody | null | undefined, fallbackType: string) {
  return { type: error?.type || error?.code || fallbackType, message: error?.message ?? "" };
}

interface ChatChunk {
  id?: string;
  error?: ErrorBody;
  usage?: ChatUsage | null;
  choices?: {
    index?: number;
    finish_reason?: string | null;
    delta?: {
      content?: string | null;
      refusal?: string | null;
      tool_calls?: (ChatToolCall & { index?: number })[];
    };
  }[];
}

export class ChatStreamParser implements StreamParser {
  private id: string | null = null;
  private usage: ChatUsage | null = null;
  private stopReason: string | null = null;
  private error: { type: string; message: string } | null = null;
  private outputChars = 0;
  /** Keyed by choice index and tool-call index: pieces of one call share both. */
  private readonly calls = new Map<string, Required<Pick<ChatToolCall, "function">> & ChatToolCall>();

  constructor(private readonly interception: Interception) {}

  onEvent(event: SseEvent): void {
    if (event.data === "[DONE]") return;
    if (this.onContentChunk(event.data)) return;
    let chunk: ChatChunk;
    try {
      chunk = JSON.parse(event.data);
    } catch {
      return;
    }
    if (chunk.error) {
      this.error = describeOpenAIError(chunk.error, "server_error");
      return;
    }
    this.id ??= chunk.id ?? null;
    if (chunk.usage) this.usage = chunk.usage;
    for (const choice of chunk.choices ?? []) {
      if (choice.finish_reason && (choice.index ?? 0) === 0) this.stopReason = choice.finish_reason;
      const delta = choice.delta;
      this.outputChars += (delta?.content?.length ?? 0) + (delta?.refusal?.length ?? 0);
      for (const piece of delta?.tool_calls ?? []) {
        this.outputChars += (piece.function?.arguments?.length ?? 0) + (piece.custom?.input?.length ?? 0);
        this.addPiece(choice.index ?? 0, piece);
      }
    }
  }

  /**
   * A chunk that carries only text (the bulk of a stream), counted without JSON.parse: after the
   * first chunk (which gives the id), one choice whose delta is just `content`, no finish reason,
   * no usage, no error. Keys are found by their quoted names, which cannot occur inside a JSON
   * string unescaped. Anything else returns false and is parsed in full.
   */
  private onContentChunk(data: string): boolean {
    if (this.id === null) return false;
    const at = data.indexOf(CONTENT);
    if (at < 0 || data.indexOf('"delta":') !== at) return false;
    const from = at + CONTENT.length;
    const end = jsonStringEnd(data, from);
    if (end < 0 || data.charCodeAt(end + 1) !== 125 /* } */) return false;
    if (
      data.indexOf('"delta":', end) >= 0 ||
      data.indexOf('"finish_reason":null', end) < 0 ||
      data.indexOf('"usage":{') >= 0 ||
      data.indexOf('"error"') >= 0
    )
      return false;
    const content = jsonStringValue(data, from, end);
    if (content === undefined) return false;
    this.outputChars += content.length;
    return true;
  }

  finish(): ResponseOutcome {
    for (const call of this.calls.values()) recordChatToolCall(this.interception, call, this.id);
    this.calls.clear();
    if (this.usage) this.interception.recordTokenUsage(normalizeChatUsage(this.usage, this.id));
    else if (this.id !== null)
      this.interception.recordTokenUsage(
        requestAndDeltasEstimate(this.interception.requestTextChars, this.id, this.outputChars),
      );
    this.usage = null;
    return { stopReason: this.stopReason, error: this.error };
  }

  private addPiece(choice: number, piece: ChatToolCall & { index?: number }): void {
    const key = `${choice}:${piece.index ?? 0}`;
    let call = this.calls.get(key);
    if (!call) {
      call = { id: null, type: piece.type, function: { name: undefined, arguments: "" } };
      this.calls.set(key, call);
    }
    if (piece.id) call.id = piece.id;
    if (piece.function?.name) call.function.name = piece.function.name;
    if (piece.function?.arguments) call.function.arguments += piece.function.arguments;
    if (piece.custom) {
      call.custom ??= { input: "" };
      if (piece.custom.name) call.custom.name = piece.custom.name;
      if (piece.custom.input) call.custom.input += piece.custom.input;
    }
  }
}

export interface ResponseBody {
  id?: string;
  status?: string;
  output?: ResponseItem[];
  usage?: ResponsesUsage | null;
  error?: ErrorBody | null;
  incomplete_details?: { reason?: string | null } | null;
}

/**
 * Records a whole response (a blocking body, or the response in a stream's terminal event) and
 * says how it ended. Items whose ids are in `recorded` were already recorded from the stream.
 */
export function recordResponse(
  interception: Interception,
  response: ResponseBody,
  recorded: ReadonlySet<string> = new Set(),
): ResponseOutcome {
  const id = response.id ?? null;
  for (const item of response.output ?? []) {
    if (typeof item.id === "string" && recorded.has(item.id)) continue;
    recordResponseItem(interception, item, id);
  }
  if (response.usage) interception.recordTokenUsage(normalizeResponsesUsage(response.usage, id));
  if (response.status === "failed") {
    return { stopReason: "failed", error: describeOpenAIError(response.error, "response_failed") };
  }
  if (response.status === "incomplete") {
    return { stopReason: response.incomplete_details?.reason ?? "incomplete" };
  }
  // Background: accepted, not done; the gateway follows it to its end (src/background/follow.ts).
  if ((response.status === "queued" || response.status === "in_progress") && id && !response.usage) {
    return { stopReason: response.status, pendingResponseId: id };
  }
  return { stopReason: response.status ?? null };
}

interface PendingItem {
  item: ResponseItem;
  /** Assembled from *_arguments.delta / custom_tool_call_input.delta pieces. */
  input: string;
  summary: string[];
}

const CONTENT = '"delta":{"content":"';
const OUTPUT_INDEX = '"output_index":';
const DELTA = '"delta":"';

const DELTA_EVENTS = new Set([
  "response.function_call_arguments.delta",
  "response.custom_tool_call_input.delta",
  "response.mcp_call_arguments.delta",
]);

export class ResponsesStreamParser implements StreamParser {
  private responseId: string | null = null;
  private outcome: ResponseOutcome | null = null;
  private error: { type: string; message: string } | null = null;
  private readonly pending = new Map<number, PendingItem>();
  private readonly recorded = new Set<string>();
  private outputChars = 0;

  constructor(private readonly interception: Interception) {}

  onEvent(event: SseEvent): void {
    // Text deltas are the bulk of a stream and carry nothing to record but their length.
    if (event.event === "response.output_text.delta") {
      this.outputChars += jsonStringFieldLength(event.data, "delta");
      return;
    }
    if (event.event && DELTA_EVENTS.has(event.event) && this.onInputDelta(event.event, event.data)) return;
    let data: Record<string, unknown>;
    try {
      data = JSON.parse(event.data);
    } catch {
      return;
    }
    const type = typeof data.type === "string" ? data.type : event.event;
    const index = typeof data.output_index === "number" ? data.output_index : -1;
    if (typeof data.delta === "string") this.outputChars += data.delta.length;
    if (type && DELTA_EVENTS.has(type)) {
      const pending = this.pending.get(index);
      if (pending && typeof data.delta === "string") pending.input += data.delta;
      return;
    }
    switch (type) {
      case "response.created":
      case "response.in_progress":
        this.responseId = (data.response as ResponseBody | undefined)?.id ?? this.responseId;
        break;
      case "response.output_item.added":
        this.pending.set(index, { item: data.item as ResponseItem, input: "", summary: [] });
        break;
      case "response.reasoning_summary_text.delta": {
        const pending = this.pending.get(index);
        const part = typeof data.summary_index === "number" ? data.summary_index : 0;
        if (pending && typeof data.delta === "string")
          pending.summary[part] = (pending.summary[part] ?? "") + data.delta;
        break;
      }
      case "response.output_item.done": {
        const item = data.item as ResponseItem | undefined;
        this.pending.delete(index);
        if (!item) break;
        recordResponseItem(this.interception, item, this.responseId);
        if (typeof item.id === "string") this.recorded.add(item.id);
        break;
      }
      case "response.completed":
      case "response.incomplete":
      case "response.failed": {
        const response = (data.response ?? {}) as ResponseBody;
        this.responseId = response.id ?? this.responseId;
        this.outcome = recordResponse(this.interception, response, this.recorded);
        for (const item of response.output ?? []) if (typeof item.id === "string") this.recorded.add(item.id);
        this.pending.clear();
        break;
      }
      case "error":
        // The event's own `type` is just "error": its code says what went wrong.
        this.error = describeOpenAIError(
          { code: data.code as string, message: data.message as string },
          "stream_error",
        );
        break;
    }
  }

  /**
   * A tool-input delta (`{"type":…,"output_index":N,"delta":"…",…}`, flat), read without
   * JSON.parse: its output index and delta string sliced out. False (then parsed in full) for any
   * other shape.
   */
  private onInputDelta(type: string, data: string): boolean {
    if (data.indexOf(`"type":"${type}"`) < 0) return false;
    const indexAt = data.indexOf(OUTPUT_INDEX);
    const index = indexAt < 0 ? null : jsonIntegerAt(data, indexAt + OUTPUT_INDEX.length);
    const deltaAt = data.indexOf(DELTA);
    if (!index || deltaAt < 0 || data.lastIndexOf("{", deltaAt) !== 0) return false;
    const from = deltaAt + DELTA.length;
    const end = jsonStringEnd(data, from);
    // Flat: no object opens outside the delta string either.
    const delta = end < 0 || data.indexOf("{", end) >= 0 ? undefined : jsonStringValue(data, from, end);
    if (delta === undefined) return false;
    this.outputChars += delta.length;
    const pending = this.pending.get(index[0]);
    if (pending) pending.input += delta;
    return true;
  }

  finish(): ResponseOutcome {
    // A stream cut short (disconnect drain limits, upstream failure): record what was assembled.
    for (const { item, input, summary } of this.pending.values()) {
      if (typeof item.id === "string" && this.recorded.has(item.id)) continue;
      const assembled: ResponseItem = { ...item };
      if (input && item.type === "custom_tool_call") assembled.input = input;
      else if (input) assembled.arguments = input;
      if (summary.length > 0) assembled.summary = summary.map((text) => ({ type: "summary_text", text }));
      recordResponseItem(this.interception, assembled, this.responseId);
    }
    this.pending.clear();
    // No terminal event: the provider's usage never arrived.
    if (!this.outcome && this.responseId !== null)
      this.interception.recordTokenUsage(
        requestAndDeltasEstimate(this.interception.requestTextChars, this.responseId, this.outputChars),
      );
    const outcome = this.outcome ?? { stopReason: null };
    return { stopReason: outcome.stopReason, error: this.error ?? outcome.error ?? null };
  }
}
