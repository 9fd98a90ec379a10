/**
 * Which APIs take part in the MCP inner loop, by adapter (provider/providerName). Kept apart from
 * the adapters so an API without a dialect simply relays the client's request unchanged.
 */
import type { ProviderAdapter } from "../bridge/adapter";
import type { InjectionDialect } from "../bridge/loop";
import { anthropicInjection } from "./anthropic/injection";

const dialects: Record<string, InjectionDialect> = {
  "anthropic/messages": anthropicInjection,
};

export function injectionDialect(adapter: ProviderAdapter): InjectionDialect | undefined {
  return dialects[`${adapter.provider}/${adapter.providerName}`];
}
