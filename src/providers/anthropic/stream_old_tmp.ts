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
import {
  jsonStringFieldLength,
  METHOD_REQUEST_AND_DELTAS,
  METHOD_START_AND_DELTAS,
  tokensFromChars,
} from "../../usage/estimate";
import { type AnthropicUsage, mergeUsage, normalizeUsage } from "./usage";

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
      this.interception.recordTokenUsage({
        providerResponseId: this.messageId,
        inputTokens: tokensFromChars(this.interception.requestTextChars),
        outputTokens: tokensFromChars(outputChars),
        cacheReadInputTokens: 0,
        cacheWriteInputTokens: 0,
        extraTokenTypes: null,
        rawUsage: null,
        estimateMethod: METHOD_REQUEST_AND_DELTAS,
      });
    }
    this.startUsage = null;
    this.deltaUsage = null;
  }
}
