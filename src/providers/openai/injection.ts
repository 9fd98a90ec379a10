/**
 * OpenAI Chat Completions and Responses for the inner agentic loop (src/bridge/loop.ts). Injected
 * tools go at the end of `tools`, `parallel_tool_calls` is set to false, and the client's stream
 * stays one response: Chat chunks all carry the first completion's id, injected tool-call deltas
 * are hidden, the finish chunk, usage chunk and [DONE] come once at the end (usage summed);
 * Responses events belong to one response (the first id), with output indexes and sequence numbers
 * renumbered to stay contiguous, and one response.completed carrying every visible item.
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
import { chatToolsJson, responsesToolsJson } from "../../mcp/render";
import { appendToArray, setMember } from "../../mcp/splice";
import { encodeSseEvent, type SseEvent } from "../../sse/decoder";
import { withIncludeUsage } from "./include-usage";

type Json = Record<string, unknown>;

/** Tool results have no error flag in OpenAI's APIs: the text says it. */
function resultText({ run }: ToolResult): string {
  return run.isError ? `Error: ${run.text}` : run.text;
}

function prepareOpenAI(text: string, toolsJson: string): string {
  return setMember(appendToArray(text, "tools", toolsJson), "parallel_tool_calls", "false");
}

// ---------- Chat Completions ----------

interface ChatCall {
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
}

interface ChatMessage {
  role?: string;
  content?: string | null;
  tool_calls?: ChatCall[];
  [other: string]: unknown;
}

function chatTurn(id: string | null, message: ChatMessage): Turn {
  const injected: ToolCall[] = [];
  let clientCalls = false;
  for (const call of message.tool_calls ?? []) {
    const name = call.function?.name;
    if (isInjectedName(name)) {
      injected.push({ id: call.id ?? "", name: String(name), arguments: call.function?.arguments ?? "" });
    } else {
      clientCalls = true;
    }
  }
  return { responseId: id, injected, clientCalls, assistant: message };
}

function visibleCalls(message: ChatMessage): ChatCall[] {
  return (message.tool_calls ?? []).filter((call) => !isInjectedName(call.function?.name));
}

export const chatInjection: InjectionDialect = {
  // With several choices there is no single conversation to continue; legacy `functions` cannot
  // be combined with `tools`.
  applies: (json) =>
    (json.n === undefined || json.n === null || json.n === 1) && json.functions === undefined,

  prepare(text, json, tools) {
    // Streaming needs the usage chunk to record each iteration (the view hides it again).
    const withUsage = withIncludeUsage(json, new TextEncoder().encode(text));
    const base = withUsage
      ? new TextDecoder("utf-8", { fatal: false, ignoreBOM: true }).decode(withUsage)
      : text;
    return prepareOpenAI(base, chatToolsJson(tools));
  },

  continueWith(text, turn, results) {
    const message = turn.assistant as ChatMessage;
    const assistant: ChatMessage = {
      role: "assistant",
      content: message.content ?? null,
      tool_calls: message.tool_calls,
    };
    const tools = results.map((result) => ({
      role: "tool",
      tool_call_id: result.call.id,
      content: resultText(result),
    }));
    return appendToArray(text, "messages", [assistant, ...tools].map((m) => JSON.stringify(m)).join(","));
  },

  blockingTurn(body) {
    const choice = (body.choices as { message?: ChatMessage }[] | undefined)?.[0];
    return chatTurn((body.id as string) ?? null, choice?.message ?? {});
  },

  mergeBlocking(bodies, end) {
    const first = bodies[0] ?? {};
    const last = bodies[bodies.length - 1] ?? {};
    const choices = (body: Json) => (body.choices as Json[] | undefined) ?? [];
    const lastChoice = choices(last)[0] ?? {};
    const lastMessage = (lastChoice.message ?? {}) as ChatMessage;
    let usage: unknown;
    for (const body of bodies) usage = addUsage(usage, body.usage);
    const content = bodies
      .map((body) => (choices(body)[0]?.message as ChatMessage | undefined)?.content)
      .filter((part): part is string => typeof part === "string" && part !== "")
      .join("");
    const calls = visibleCalls(lastMessage);
    const { tool_calls: _hidden, ...rest } = lastMessage;
    const message: ChatMessage = {
      ...rest,
      content: content || null,
      ...(calls.length > 0 ? { tool_calls: calls } : {}),
    };
    const finish = end === "capped" ? "stop" : lastChoice.finish_reason;
    return { ...last, id: first.id, choices: [{ ...lastChoice, message, finish_reason: finish }], usage };
  },

  streamView: (json) =>
    new ChatView((json.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true),
};

interface ChatChunk {
  id?: string;
  error?: unknown;
  usage?: unknown;
  choices?: { index?: number; delta?: ChatDelta; finish_reason?: string | null }[];
  [other: string]: unknown;
}

interface ChatDelta {
  content?: string | null;
  tool_calls?: (ChatCall & { index?: number })[];
  [other: string]: unknown;
}

class ChatView implements StreamView {
  private id: string | null = null;
  private usage: unknown;
  private usageChunk: ChatChunk | null = null;
  /** This iteration. */
  private iterationId: string | null = null;
  private content = "";
  private calls = new Map<
    number,
    Required<Pick<ChatCall, "function">> & ChatCall & { clientIndex: number | null }
  >();
  private nextClientIndex = 0;
  private finishChunk: ChatChunk | null = null;

  constructor(private readonly clientAskedUsage: boolean) {}

  onEvent(event: SseEvent): string {
    if (event.data === "[DONE]") return "";
    let chunk: ChatChunk;
    try {
      chunk = JSON.parse(event.data);
    } catch {
      return encodeSseEvent(event);
    }
    if (chunk.error) return encodeSseEvent(event);
    this.id ??= chunk.id ?? null;
    this.iterationId ??= chunk.id ?? null;
    if (Array.isArray(chunk.choices) && chunk.choices.length === 0) {
      if (chunk.usage) {
        this.usage = addUsage(this.usage, chunk.usage);
        this.usageChunk = chunk;
      }
      return "";
    }
    const out: ChatChunk = { ...chunk, id: this.id ?? chunk.id };
    if (!this.clientAskedUsage) delete out.usage;
    let finished = false;
    out.choices = (chunk.choices ?? []).map((choice) => {
      if (choice.finish_reason) finished = true;
      const delta = { ...(choice.delta ?? {}) };
      if (typeof delta.content === "string") this.content += delta.content;
      if (delta.tool_calls) {
        const shown = delta.tool_calls.flatMap((piece) => this.toolPiece(piece));
        if (shown.length > 0) delta.tool_calls = shown;
        else delete delta.tool_calls;
      }
      return { ...choice, delta };
    });
    if (finished) {
      // Held back: whether this iteration is the last is only known once it ended.
      this.finishChunk = out;
      return "";
    }
    const empty = out.choices.every((choice) => Object.keys(choice.delta ?? {}).length === 0);
    return empty ? "" : encodeSseEvent({ event: event.event, data: JSON.stringify(out) });
  }

  /** Assembles one tool-call piece; returns it as the client sees it, or nothing for an injected call. */
  private toolPiece(piece: ChatCall & { index?: number }): (ChatCall & { index?: number })[] {
    const index = piece.index ?? 0;
    let call = this.calls.get(index);
    if (!call) {
      const injected = isInjectedName(piece.function?.name);
      call = { id: piece.id, type: "function", function: { name: "", arguments: "" }, clientIndex: null };
      call.clientIndex = injected ? null : this.nextClientIndex++;
      this.calls.set(index, call);
    }
    call.id ??= piece.id;
    if (piece.function?.name) call.function.name = (call.function.name ?? "") + piece.function.name;
    if (piece.function?.arguments)
      call.function.arguments = (call.function.arguments ?? "") + piece.function.arguments;
    if (call.clientIndex === null) return [];
    return [{ ...piece, index: call.clientIndex }];
  }

  endTurn(): Turn {
    const tool_calls = [...this.calls.values()].map(({ clientIndex: _, ...call }) => call);
    const message: ChatMessage = { role: "assistant", content: this.content || null };
    if (tool_calls.length > 0) message.tool_calls = tool_calls;
    const turn = chatTurn(this.iterationId, message);
    this.iterationId = null;
    this.content = "";
    this.calls = new Map();
    this.nextClientIndex = 0;
    return turn;
  }

  keepAlive(): string {
    return ": keep-alive\n\n";
  }

  finish(end: LoopEnd): string {
    let out = "";
    if (this.finishChunk) {
      const chunk = this.finishChunk;
      if (end === "capped") {
        chunk.choices = chunk.choices?.map((choice) => ({ ...choice, finish_reason: "stop" }));
      }
      out += encodeSseEvent({ event: undefined, data: JSON.stringify(chunk) });
    }
    if (this.clientAskedUsage && this.usageChunk) {
      const chunk = { ...this.usageChunk, id: this.id ?? this.usageChunk.id, usage: this.usage };
      out += encodeSseEvent({ event: undefined, data: JSON.stringify(chunk) });
    }
    return `${out}data: [DONE]\n\n`;
  }
}

// ---------- Responses ----------

type Item = Json & { type?: string; name?: string; call_id?: string; arguments?: string };

/** Item types that are calls for the client to run (hosted tools like web_search run at OpenAI). */
const CLIENT_CALL_TYPES = new Set([
  "function_call",
  "custom_tool_call",
  "computer_call",
  "local_shell_call",
  "shell_call",
  "apply_patch_call",
]);

function isInjectedItem(item: Item | undefined): boolean {
  return item?.type === "function_call" && isInjectedName(item.name);
}

function responsesTurn(id: string | null, output: Item[]): Turn {
  const injected: ToolCall[] = [];
  let clientCalls = false;
  for (const item of output) {
    if (isInjectedItem(item)) {
      injected.push({ id: String(item.call_id), name: String(item.name), arguments: item.arguments ?? "" });
    } else if (CLIENT_CALL_TYPES.has(String(item.type))) {
      clientCalls = true;
    }
  }
  return { responseId: id, injected, clientCalls, assistant: output };
}

export const responsesInjection: InjectionDialect = {
  // A background request answers "queued" at once: there is nothing to continue in this request.
  applies: (json) => json.background !== true,

  prepare: (text, _json, tools) => prepareOpenAI(text, responsesToolsJson(tools)),

  continueWith(text, turn, results) {
    const outputs = results.map((result) => ({
      type: "function_call_output",
      call_id: result.call.id,
      output: resultText(result),
    }));
    const items = [...(turn.assistant as Item[]), ...outputs].map((item) => JSON.stringify(item)).join(",");
    const input = JSON.parse(text).input;
    if (typeof input === "string") {
      // A string input is shorthand for one user message; the continuation needs the list form.
      return setMember(text, "input", `[${JSON.stringify({ role: "user", content: input })},${items}]`);
    }
    return appendToArray(text, "input", items);
  },

  blockingTurn: (body) => responsesTurn((body.id as string) ?? null, (body.output as Item[]) ?? []),

  mergeBlocking(bodies, _end) {
    const first = bodies[0] ?? {};
    const last = bodies[bodies.length - 1] ?? {};
    let usage: unknown;
    for (const body of bodies) usage = addUsage(usage, body.usage);
    const output = bodies.flatMap((body) =>
      ((body.output as Item[]) ?? []).filter((item) => !isInjectedItem(item)),
    );
    return { ...last, id: first.id, created_at: first.created_at, output, usage };
  },

  streamView: () => new ResponsesView(),
};

class ResponsesView implements StreamView {
  private sequence = 0;
  private first: Json | null = null;
  private usage: unknown;
  private visible: Item[] = [];
  private nextOutputIndex = 0;
  /** This iteration. */
  private responseId: string | null = null;
  private outputIndexes = new Map<number, number | null>();
  private items: Item[] = [];
  private terminal: { event: string | undefined; data: Json } | null = null;
  private closed = false;

  onEvent(event: SseEvent): string {
    let data: Json;
    try {
      data = JSON.parse(event.data);
    } catch {
      return encodeSseEvent(event);
    }
    const type = String(data.type ?? event.event);
    const response = data.response as Json | undefined;
    if (type === "response.created" || type === "response.in_progress" || type === "response.queued") {
      this.responseId = (response?.id as string) ?? null;
      if (this.first && type === "response.created") return "";
      if (this.first && this.first.id !== response?.id) return "";
      this.first ??= response ?? {};
      return this.send(event, data);
    }
    if (type === "response.completed" || type === "response.incomplete" || type === "response.failed") {
      this.usage = addUsage(this.usage, response?.usage);
      this.terminal = { event: event.event, data };
      // completed is held until the loop knows whether this was the last iteration; the others
      // always end the response.
      return type === "response.completed" ? "" : this.closing();
    }
    if (typeof data.output_index !== "number") return this.send(event, data);
    const upstreamIndex = data.output_index;
    if (type === "response.output_item.added") {
      const hidden = isInjectedItem(data.item as Item);
      this.outputIndexes.set(upstreamIndex, hidden ? null : this.nextOutputIndex++);
    }
    const clientIndex = this.outputIndexes.get(upstreamIndex);
    if (type === "response.output_item.done") {
      const item = data.item as Item;
      this.items.push(item);
      if (clientIndex !== null) this.visible.push(item);
    }
    if (clientIndex === null) return "";
    return this.send(event, { ...data, output_index: clientIndex ?? upstreamIndex });
  }

  private send(event: SseEvent, data: Json): string {
    const out = "sequence_number" in data ? { ...data, sequence_number: this.sequence++ } : data;
    return encodeSseEvent({ event: event.event, data: JSON.stringify(out) });
  }

  endTurn(): Turn {
    const turn = responsesTurn(this.responseId, this.items);
    this.items = [];
    this.outputIndexes = new Map();
    return turn;
  }

  keepAlive(): string {
    return ": keep-alive\n\n";
  }

  finish(_end: LoopEnd): string {
    return this.closing();
  }

  /** The terminal event, once, as one response: the first id, every visible item, summed usage. */
  private closing(): string {
    if (!this.terminal || this.closed) return "";
    this.closed = true;
    const { event, data } = this.terminal;
    const response = {
      ...(data.response as Json),
      id: this.first?.id,
      created_at: this.first?.created_at,
      output: this.visible,
      usage: this.usage,
    };
    return this.send({ event, data: "" }, { ...data, response });
  }
}
