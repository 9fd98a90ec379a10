/**
 * Which APIs take part in the MCP inner loop, by adapter (provider/providerName). Kept apart from
 * the adapters so an API without a dialect simply relays the client's request unchanged.
 */
import type { ProviderAdapter } from "../bridge/adapter";
import type { InjectionDialect } from "../bridge/loop";
import { anthropicInjection } from "./anthropic/injection";
import { chatInjection, responsesInjection } from "./openai/injection";

const dialects: Record<string, InjectionDialect> = {
  "anthropic/messages": anthropicInjection,
  "openai/chat_completions": chatInjection,
  "openai/responses": responsesInjection,
};

export function injectionDialect(adapter: ProviderAdapter): InjectionDialect | undefined {
  return dialects[`${adapter.provider}/${adapter.providerName}`];
}
