/**
 * Reads an Anthropic Messages stream event by event and records what it says: usage (start and
 * final delta merged, see usage.ts), every tool_use block (parallel ones too, input assembled from
 * input_json_delta pieces), thinking text, stop reason, and error events. A message whose final
 * usage (message_delta) never arrived is recorded as an estimate: message_start's exact input and
 * cache counts, output from the characters of the text, thinking and tool-input deltas seen.
 */
import type { ResponseOutcome, StreamParser } from "../../bridge/adapter";
import type { Interception } from "../../bridge/interception";
import type { SseEvent } from "../../sse/decoder";
import { jsonStringEnd, jsonStringValue } from "../../sse/json-string";
import {
  jsonStringFieldLength,
  METHOD_START_AND_DELTAS,
  requestAndDeltasEstimate,
  tokensFromChars,
} from "../../usage/estimate";
import { type AnthropicUsage, mergeUsage, normalizeUsage } from "./usage";

const DELTA_PREFIX = '{"type":"content_block_delta","index":';
/** The deltas read by slicing: what follows the index, up to the one string each carries. */
const TEXT = ',"delta":{"type":"text_delta","text":"';
const THINKING = ',"delta":{"type":"thinking_delta","thinking":"';
const INPUT = ',"delta":{"type":"input_json_delta","partial_json":"';
const SIGNATURE = ',"delta":{"type":"signature_delta","signature":"';
const DELTA_TYPE_AT = ',"delta":{"type":"'.length;

interface OpenBlock {
  type: string;
  id?: string;
  name?: string;
  text: string;
  /** input given whole in content_block_start (non-streamed tool input). */
  initialInput?: unknown;
}

export class MessagesStreamParser implements StreamParser {
  private messageId: string | null = null;
  private startUsage: AnthropicUsage | null = null;
  private deltaUsage: AnthropicUsage | null = null;
  /** Characters of output seen in this message's deltas: the estimate's basis if usage is cut off. */
  private outputChars = 0;
  private sawDelta = false;
  private stopReason: string | null = null;
  private error: { type: string; message: string } | null = null;
  private readonly blocks = new Map<number, OpenBlock>();

  constructor(private readonly interception: Interception) {}

  onEvent(event: SseEvent): void {
    // Only events that carry something to record are parsed; deltas of text are the bulk of a
    // stream and are skipped without JSON.parse.
    // Deltas first, by their data alone (its "type" is what counts, and comparing the event name
    // costs as much as the check): they are nearly every event of a stream.
    if (this.onDeltaText(event.data)) return;
    const type = event.event;
    if (type === "ping") return;
    if (type === "content_block_delta" && event.data.slice(0, 96).includes('"type":"text_delta"')) {
      this.outputChars += jsonStringFieldLength(event.data, "text");
      this.sawDelta = true;
      return;
    }
    let data: Record<string, unknown>;
    try {
      data = JSON.parse(event.data);
    } catch {
      return;
    }
    switch (data.type ?? type) {
      case "message_start": {
        const message = data.message as { id?: string; usage?: AnthropicUsage } | undefined;
        this.flushMessage();
        this.messageId = message?.id ?? null;
        this.startUsage = message?.usage ?? null;
        break;
      }
      case "content_block_start": {
        const block = data.content_block as Record<string, unknown> | undefined;
        if (!block || typeof data.index !== "number") break;
        this.blocks.set(data.index, {
          type: String(block.type),
          id: typeof block.id === "string" ? block.id : undefined,
          name: typeof block.name === "string" ? block.name : undefined,
          text: typeof block.thinking === "string" ? block.thinking : "",
          initialInput: block.input,
        });
        break;
      }
      case "content_block_delta": {
        const block = typeof data.index === "number" ? this.blocks.get(data.index) : undefined;
        const delta = data.delta as { type?: string; partial_json?: string; thinking?: string } | undefined;
        if (!delta) break;
        const piece =
          delta.type === "input_json_delta"
            ? (delta.partial_json ?? "")
            : delta.type === "thinking_delta"
              ? (delta.thinking ?? "")
              : delta.type === "text_delta"
                ? String((delta as { text?: unknown }).text ?? "")
                : "";
        this.outputChars += piece.length;
        this.sawDelta = true;
        if (!block) break;
        if (delta.type === "input_json_delta" || delta.type === "thinking_delta") block.text += piece;
        break;
      }
      case "content_block_stop": {
        if (typeof data.index === "number") this.closeBlock(data.index);
        break;
      }
      case "message_delta": {
        const delta = data.delta as { stop_reason?: string | null } | undefined;
        if (delta?.stop_reason) this.stopReason = delta.stop_reason;
        if (data.usage) this.deltaUsage = mergeUsage(this.deltaUsage, data.usage as AnthropicUsage);
        break;
      }
      case "message_stop":
        this.flushMessage();
        break;
      case "error": {
        const error = data.error as { type?: string; message?: string } | undefined;
        this.error = { type: error?.type ?? "api_error", message: error?.message ?? "stream error" };
        break;
      }
    }
  }

  /**
   * A content_block_delta in the exact shape the API sends, read without JSON.parse: its index and
   * the one string it carries, sliced out (src/sse/json-string.ts). Returns false, and the event
   * is parsed in full, for any other shape.
   */
  private onDeltaText(data: string): boolean {
    // lastIndexOf(x, at) === at is a native "x is written at `at`" (startsWith is several times slower).
    if (data.lastIndexOf(DELTA_PREFIX, 0) !== 0) return false;
    let at = DELTA_PREFIX.length;
    let index = 0;
    for (let c = data.charCodeAt(at); c >= 48 && c <= 57 && at < 48; c = data.charCodeAt(++at))
      index = index * 10 + c - 48;
    if (at === DELTA_PREFIX.length) return false;
    // The delta's type, told apart by its first letters: text_delta, thinking_delta, input_json_delta, signature_delta.
    const first = data.charCodeAt(at + DELTA_TYPE_AT);
    const kind =
      first === 116 /* t */
        ? data.charCodeAt(at + DELTA_TYPE_AT + 1) === 101 /* e */
          ? TEXT
          : THINKING
        : first === 105 /* i */
          ? INPUT
          : first === 115 /* s */
            ? SIGNATURE
            : null;
    if (!kind || data.lastIndexOf(kind, at) !== at) return false;
    at += kind.length;
    const end = jsonStringEnd(data, at);
    // Nothing may follow the string but the two closing braces: then it is the delta's only field.
    if (
      end < 0 ||
      end + 3 !== data.length ||
      data.charCodeAt(end + 1) !== 125 ||
      data.charCodeAt(end + 2) !== 125
    )
      return false;
    this.sawDelta = true;
    if (kind === SIGNATURE) return true;
    if (kind === TEXT) {
      // Only counted, escapes as written (as jsonStringFieldLength does): an estimate's basis.
      this.outputChars += end - at;
      return true;
    }
    const piece = jsonStringValue(data, at, end);
    if (piece === undefined) return false;
    this.outputChars += piece.length;
    const block = this.blocks.get(index);
    if (block) block.text += piece;
    return true;
  }

  finish(): ResponseOutcome {
    for (const index of [...this.blocks.keys()]) this.closeBlock(index);
    this.flushMessage();
    return { stopReason: this.stopReason, error: this.error };
  }

  private closeBlock(index: number): void {
    const block = this.blocks.get(index);
    if (!block) return;
    this.blocks.delete(index);
    if (block.type === "tool_use" || block.type === "server_tool_use") {
      const input = block.text !== "" ? block.text : JSON.stringify(block.initialInput ?? {});
      this.interception.recordToolUsage({
        providerResponseId: this.messageId,
        providerToolCallId: block.id ?? null,
        tool: block.name ?? "unknown",
        serverUrl: null,
        input,
        injected: false,
        invocationError: null,
      });
    } else if (block.type === "thinking") {
      this.interception.recordThought(block.text, "thinking");
    }
  }

  /**
   * Records the usage of the message seen so far, once (a stream may be cut before message_stop).
   * Without message_delta's usage the output count is message_start's placeholder: estimated instead.
   */
  private flushMessage(): void {
    const outputChars = this.outputChars;
    const sawDelta = this.sawDelta;
    this.outputChars = 0;
    this.sawDelta = false;
    if (this.deltaUsage) {
      this.interception.recordTokenUsage(
        normalizeUsage(mergeUsage(this.startUsage, this.deltaUsage), this.messageId),
      );
    } else if (this.startUsage) {
      const usage = normalizeUsage(this.startUsage, this.messageId);
      this.interception.recordTokenUsage({
        ...usage,
        outputTokens: Math.max(usage.outputTokens, tokensFromChars(outputChars)),
        estimateMethod: METHOD_START_AND_DELTAS,
      });
    } else if (sawDelta) {
      this.interception.recordTokenUsage(
        requestAndDeltasEstimate(this.interception.requestTextChars, this.messageId, outputChars),
      );
    }
    this.startUsage = null;
    this.deltaUsage = null;
  }
}
