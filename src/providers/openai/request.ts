/** Reading OpenAI requests (Chat Completions and Responses): streaming flag, session, prompt, correlation. */
import type { RequestFacts } from "../../bridge/adapter";

type Part = { type?: unknown; text?: unknown };
type Message = { role?: unknown; content?: unknown; tool_call_id?: unknown };
type InputItem = Message & { type?: unknown; call_id?: unknown };

/** Instruction roles may trail the conversation; they are not what the user asked. */
const INSTRUCTION_ROLES = new Set(["system", "developer"]);

export function describeChatRequest(json: Record<string, unknown>, headers: Headers): RequestFacts {
  const messages = Array.isArray(json.messages) ? (json.messages as Message[]) : [];
  const last = lastConversational(messages);
  return {
    streaming: json.stream === true,
    clientSessionId: sessionId(json, headers),
    // A turn that answers a tool call continues the interception that asked for it.
    correlatingToolCallId:
      last?.role === "tool" && typeof last.tool_call_id === "string" ? last.tool_call_id : null,
    prompt: last?.role === "user" ? textOf(last.content) : null,
  };
}

export function describeResponsesRequest(json: Record<string, unknown>, headers: Headers): RequestFacts {
  const facts: RequestFacts = {
    streaming: json.stream === true,
    clientSessionId: sessionId(json, headers),
    correlatingToolCallId: null,
    prompt: null,
  };
  if (typeof json.input === "string") return { ...facts, prompt: json.input || null };
  const items = Array.isArray(json.input) ? (json.input as InputItem[]) : [];
  const last = lastConversational(items);
  if (!last) return facts;
  if (typeof last.type === "string" && last.type.endsWith("_call_output")) {
    return { ...facts, correlatingToolCallId: typeof last.call_id === "string" ? last.call_id : null };
  }
  return last.role === "user" ? { ...facts, prompt: textOf(last.content) } : facts;
}

function lastConversational<T extends { role?: unknown }>(items: T[]): T | null {
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i];
    if (typeof item?.role === "string" && INSTRUCTION_ROLES.has(item.role)) continue;
    return item ?? null;
  }
  return null;
}

/** String content, or the last text part (`text` in Chat, `input_text` in Responses). */
function textOf(content: unknown): string | null {
  if (typeof content === "string") return content || null;
  if (!Array.isArray(content)) return null;
  for (let i = content.length - 1; i >= 0; i--) {
    const part = content[i] as Part;
    if ((part?.type === "text" || part?.type === "input_text") && typeof part.text === "string")
      return part.text;
  }
  return null;
}

/** Codex sends its conversation id as `session-id` (older builds: `session_id`) and as prompt_cache_key. */
function sessionId(json: Record<string, unknown>, headers: Headers): string | null {
  const header = headers.get("session-id") ?? headers.get("session_id");
  if (header) return header;
  return typeof json.prompt_cache_key === "string" ? json.prompt_cache_key : null;
}
