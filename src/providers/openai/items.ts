/**
 * Recording what a model produced, shared by the blocking and streaming paths: Chat tool calls and
 * Responses output items. Responses tool-call item types keep growing (web_search_call,
 * shell_call, apply_patch_call, …): every `*_call` item is recorded under its name or, without one,
 * its type name; none is rejected or needs to be known here.
 */
import type { Interception } from "../../bridge/interception";

export interface ChatToolCall {
  id?: string | null;
  type?: string;
  function?: { name?: string; arguments?: string };
  custom?: { name?: string; input?: string };
}

export function recordChatToolCall(
  interception: Interception,
  call: ChatToolCall,
  responseId: string | null,
) {
  interception.recordToolUsage({
    providerResponseId: responseId,
    providerToolCallId: call.id ?? null,
    tool: call.function?.name ?? call.custom?.name ?? "unknown",
    serverUrl: null,
    input: call.function?.arguments ?? call.custom?.input ?? "",
    injected: false,
    invocationError: null,
  });
}

export type ResponseItem = Record<string, unknown> & { type?: unknown; id?: unknown };

/** Fields that identify or carry results, not what the model asked the tool to do. */
const NOT_INPUT = new Set([
  "id",
  "type",
  "status",
  "call_id",
  "name",
  "namespace",
  "result",
  "output",
  "outputs",
]);

export function recordResponseItem(
  interception: Interception,
  item: ResponseItem,
  responseId: string | null,
) {
  const type = typeof item.type === "string" ? item.type : "";
  if (type === "reasoning") {
    for (const part of asArray(item.summary)) {
      if (typeof part?.text === "string") interception.recordThought(part.text, "reasoning_summary");
    }
    for (const part of asArray(item.content)) {
      if (typeof part?.text === "string") interception.recordThought(part.text, "reasoning");
    }
    return;
  }
  if (!type.endsWith("_call")) return;
  const name = typeof item.name === "string" ? item.name : type;
  // Namespaced tools (Codex groups MCP tools this way) are recorded as "namespace.name".
  const tool = typeof item.namespace === "string" && item.namespace ? `${item.namespace}.${name}` : name;
  let input: string;
  if (typeof item.arguments === "string") input = item.arguments;
  else if (typeof item.input === "string") input = item.input;
  else
    input = JSON.stringify(Object.fromEntries(Object.entries(item).filter(([key]) => !NOT_INPUT.has(key))));
  interception.recordToolUsage({
    providerResponseId: responseId,
    providerToolCallId:
      typeof item.call_id === "string" ? item.call_id : typeof item.id === "string" ? item.id : null,
    tool,
    serverUrl: null,
    input,
    injected: false,
    invocationError: null,
  });
}

function asArray(value: unknown): { text?: unknown }[] {
  return Array.isArray(value) ? value : [];
}
