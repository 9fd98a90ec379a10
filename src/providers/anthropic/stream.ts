/**
 * Reads an Anthropic Messages stream event by event and records what it says: usage (start and
 * final delta merged, see usage.ts), every tool_use block (parallel ones too, input assembled from
 * input_json_delta pieces), thinking text, stop reason, and error events.
 */
import type { ResponseOutcome, StreamParser } from "../../bridge/adapter";
import type { Interception } from "../../bridge/interception";
import type { SseEvent } from "../../sse/decoder";
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
  private stopReason: string | null = null;
  private error: { type: string; message: string } | null = null;
  private readonly blocks = new Map<number, OpenBlock>();

  constructor(private readonly interception: Interception) {}

  onEvent(event: SseEvent): void {
    // Only events that carry something to record are parsed; deltas of text are the bulk of a
    // stream and are skipped without JSON.parse.
    const type = event.event;
    if (type === "ping") return;
    if (type === "content_block_delta" && event.data.slice(0, 96).includes('"type":"text_delta"')) return;
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
        if (!block || !delta) break;
        if (delta.type === "input_json_delta") block.text += delta.partial_json ?? "";
        else if (delta.type === "thinking_delta") block.text += delta.thinking ?? "";
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

  /** Records the usage of the message seen so far, once (a stream may be cut before message_stop). */
  private flushMessage(): void {
    if (!this.startUsage && !this.deltaUsage) return;
    this.interception.recordTokenUsage(
      normalizeUsage(mergeUsage(this.startUsage, this.deltaUsage), this.messageId),
    );
    this.startUsage = null;
    this.deltaUsage = null;
  }
}
