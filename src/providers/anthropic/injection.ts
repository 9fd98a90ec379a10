/**
 * Anthropic Messages for the inner agentic loop (src/bridge/loop.ts): injected tools go at the end
 * of `tools`, parallel tool use is turned off with tool_choice.disable_parallel_tool_use, and the
 * client's stream stays one message: one message_start, content block indexes renumbered to stay
 * contiguous, injected tool_use blocks hidden, the final message_delta carrying the usage summed
 * over all iterations.
 */
import {
  addUsage,
  type InjectionDialect,
  type LoopEnd,
  type StreamView,
  type ToolCall,
  type ToolResult,
  type Turn,
} from "../../bridge/loop";
import { isInjectedName } from "../../mcp/naming";
import { anthropicToolsJson } from "../../mcp/render";
import { appendToArray, setMember } from "../../mcp/splice";
import { encodeSseEvent, type SseEvent } from "../../sse/decoder";

type Block = Record<string, unknown> & { type?: string; id?: string; name?: string; input?: unknown };

export const anthropicInjection: InjectionDialect = {
  applies: () => true,

  prepare(text, json, tools) {
    let body = appendToArray(text, "tools", anthropicToolsJson(tools));
    const choice = json.tool_choice as Record<string, unknown> | undefined | null;
    if (!choice || typeof choice !== "object") {
      body = setMember(body, "tool_choice", '{"type":"auto","disable_parallel_tool_use":true}');
    } else if (choice.type !== "none" && choice.disable_parallel_tool_use !== true) {
      body = setMember(body, "tool_choice", JSON.stringify({ ...choice, disable_parallel_tool_use: true }));
    }
    return body;
  },

  continueWith(text: string, turn: Turn, results: ToolResult[]) {
    const assistant = { role: "assistant", content: turn.assistant };
    const user = {
      role: "user",
      content: results.map(({ call, run }) => ({
        type: "tool_result",
        tool_use_id: call.id,
        content: run.text,
        ...(run.isError ? { is_error: true } : {}),
      })),
    };
    return appendToArray(text, "messages", `${JSON.stringify(assistant)},${JSON.stringify(user)}`);
  },

  blockingTurn(body) {
    return turnOf((body.id as string) ?? null, (body.content as Block[]) ?? []);
  },

  mergeBlocking(bodies, end) {
    const first = bodies[0] ?? {};
    const last = bodies[bodies.length - 1] ?? {};
    let usage: unknown = {};
    for (const body of bodies) usage = addUsage(usage, body.usage);
    return {
      ...last,
      id: first.id,
      content: bodies.flatMap((body) => visible((body.content as Block[]) ?? [])),
      stop_reason: end === "capped" ? "end_turn" : last.stop_reason,
      usage,
    };
  },

  streamView: () => new MessagesView(),
};

function visible(content: Block[]): Block[] {
  return content.filter((block) => !(block.type === "tool_use" && isInjectedName(block.name)));
}

function turnOf(id: string | null, content: Block[]): Turn {
  const injected: ToolCall[] = [];
  let clientCalls = false;
  for (const block of content) {
    if (block.type !== "tool_use") continue;
    if (isInjectedName(block.name)) {
      injected.push({
        id: String(block.id),
        name: String(block.name),
        arguments: JSON.stringify(block.input ?? {}),
      });
    } else {
      clientCalls = true;
    }
  }
  return { responseId: id, injected, clientCalls, assistant: content };
}

interface OpenBlock {
  block: Block;
  /** Index the client sees, or null for a hidden (injected) block. */
  clientIndex: number | null;
  partialJson: string;
}

class MessagesView implements StreamView {
  private started = false;
  private nextIndex = 0;
  private usage: unknown = {};
  /** This iteration. */
  private messageId: string | null = null;
  private iterationUsage: unknown = {};
  private blocks = new Map<number, OpenBlock>();
  private content: Block[] = [];
  private heldDelta: Record<string, unknown> | null = null;

  onEvent(event: SseEvent): string {
    let data: Record<string, unknown>;
    try {
      data = JSON.parse(event.data);
    } catch {
      return encode(event.event, event.data);
    }
    switch (data.type) {
      case "message_start": {
        const message = (data.message ?? {}) as Record<string, unknown>;
        this.messageId = (message.id as string) ?? null;
        this.iterationUsage = message.usage ?? {};
        this.blocks = new Map();
        this.content = [];
        this.heldDelta = null;
        if (this.started) return "";
        this.started = true;
        return encode(event.event, event.data);
      }
      case "content_block_start": {
        const block = { ...((data.content_block ?? {}) as Block) };
        const hidden = block.type === "tool_use" && isInjectedName(block.name);
        const clientIndex = hidden ? null : this.nextIndex++;
        this.blocks.set(data.index as number, { block, clientIndex, partialJson: "" });
        this.content.push(block);
        return this.forward(event, data, clientIndex);
      }
      case "content_block_delta": {
        const open = this.blocks.get(data.index as number);
        if (open) applyDelta(open, (data.delta ?? {}) as Record<string, unknown>);
        return this.forward(event, data, open ? open.clientIndex : (data.index as number));
      }
      case "content_block_stop": {
        const open = this.blocks.get(data.index as number);
        if (open?.partialJson) {
          try {
            open.block.input = JSON.parse(open.partialJson);
          } catch {
            open.block.input = {};
          }
        }
        return this.forward(event, data, open ? open.clientIndex : (data.index as number));
      }
      case "message_delta":
        // Held back: whether this was the last message is only known once the iteration ends.
        this.heldDelta = data;
        this.iterationUsage = { ...(this.iterationUsage as object), ...nonNull(data.usage) };
        return "";
      case "message_stop":
        return "";
      default:
        return encode(event.event, event.data);
    }
  }

  endTurn(): Turn {
    this.usage = addUsage(this.usage, this.iterationUsage);
    this.iterationUsage = {};
    const turn = turnOf(this.messageId, this.content);
    // The arguments as the model streamed them (what it wrote), not re-serialized.
    for (const call of turn.injected) {
      const open = [...this.blocks.values()].find((b) => b.block.id === call.id);
      if (open?.partialJson) call.arguments = open.partialJson;
    }
    return turn;
  }

  keepAlive(): string {
    return encode("ping", '{"type":"ping"}');
  }

  finish(end: LoopEnd): string {
    const held = this.heldDelta ?? {
      type: "message_delta",
      delta: { stop_reason: "end_turn", stop_sequence: null },
    };
    const delta = { ...(held.delta as Record<string, unknown>) };
    if (end === "capped") delta.stop_reason = "end_turn";
    const closing = { ...held, delta, usage: this.usage };
    return (
      encode("message_delta", JSON.stringify(closing)) + encode("message_stop", '{"type":"message_stop"}')
    );
  }

  private forward(event: SseEvent, data: Record<string, unknown>, clientIndex: number | null): string {
    if (clientIndex === null) return "";
    if (clientIndex === data.index) return encode(event.event, event.data);
    return encode(event.event, JSON.stringify({ ...data, index: clientIndex }));
  }
}

function applyDelta(open: OpenBlock, delta: Record<string, unknown>): void {
  const block = open.block;
  switch (delta.type) {
    case "text_delta":
      block.text = `${block.text ?? ""}${delta.text ?? ""}`;
      break;
    case "thinking_delta":
      block.thinking = `${block.thinking ?? ""}${delta.thinking ?? ""}`;
      break;
    case "signature_delta":
      block.signature = delta.signature;
      break;
    case "input_json_delta":
      open.partialJson += delta.partial_json ?? "";
      break;
    case "citations_delta":
      block.citations = [...((block.citations as unknown[]) ?? []), delta.citation];
      break;
  }
}

function nonNull(value: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries((value ?? {}) as Record<string, unknown>))
    if (v !== null) out[key] = v;
  return out;
}

function encode(event: string | undefined, data: string): string {
  return encodeSseEvent({ event, data });
}
