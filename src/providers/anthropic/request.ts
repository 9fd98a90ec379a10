/** Reading an Anthropic Messages request: streaming flag, session, prompt, correlating tool call. */
import type { RequestFacts } from "../../bridge/adapter";

type Block = { type?: unknown; text?: unknown; tool_use_id?: unknown };
type Message = { role?: unknown; content?: unknown };

export function describeMessagesRequest(json: Record<string, unknown>, headers: Headers): RequestFacts {
  const messages = Array.isArray(json.messages) ? (json.messages as Message[]) : [];
  const lastUser = lastUserMessage(messages);
  return {
    streaming: json.stream === true,
    clientSessionId: headers.get("x-claude-code-session-id") ?? sessionFromMetadata(json.metadata),
    correlatingToolCallId: lastUser ? lastToolResultId(lastUser) : null,
    prompt: lastUser ? lastText(lastUser) : null,
  };
}

/** The last user message, skipping trailing `system`-role messages (a Claude Code beta). */
function lastUserMessage(messages: Message[]): Message | null {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i];
    if (message?.role === "system") continue;
    return message?.role === "user" ? message : null;
  }
  return null;
}

function lastText(message: Message): string | null {
  if (typeof message.content === "string") return message.content || null;
  if (!Array.isArray(message.content)) return null;
  for (let i = message.content.length - 1; i >= 0; i--) {
    const block = message.content[i] as Block;
    if (block?.type === "text" && typeof block.text === "string") return block.text;
  }
  return null;
}

function lastToolResultId(message: Message): string | null {
  if (!Array.isArray(message.content)) return null;
  for (let i = message.content.length - 1; i >= 0; i--) {
    const block = message.content[i] as Block;
    if (block?.type === "tool_result" && typeof block.tool_use_id === "string") return block.tool_use_id;
  }
  return null;
}

/** Claude Code puts a JSON *string* in metadata.user_id: {"device_id","account_uuid","session_id"}. */
function sessionFromMetadata(metadata: unknown): string | null {
  const userId = (metadata as { user_id?: unknown } | undefined)?.user_id;
  if (typeof userId !== "string" || !userId.startsWith("{")) return null;
  try {
    const parsed = JSON.parse(userId) as { session_id?: unknown };
    return typeof parsed.session_id === "string" ? parsed.session_id : null;
  } catch {
    return null;
  }
}
