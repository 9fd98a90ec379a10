/**
 * Pricing: the pure cost functions (cost.ts, usable anywhere) and the recorder's entry point, which
 * applies the PRICING_OVERRIDES configuration.
 */
import { type Env, getConfig } from "../config";
import { log } from "../log";
import { priceUsage, type UsageCounts } from "./cost";
import type { PriceOverrides } from "./overrides";

export * from "./cost";
export { type Price, type PriceOverrides, parsePriceOverrides } from "./overrides";

const warned = new Set<string>();

/**
 * What the recorder stores as cost_micros: the configured overrides applied. Configuration was
 * already validated when the request came in (the gate answers 500 on a bad value), so a failure
 * here only means "no overrides".
 */
export function recordedCostMicros(env: object, model: string, usage: UsageCounts): number | null {
  let overrides: PriceOverrides = {};
  try {
    overrides = getConfig(env as Env).pricingOverrides;
  } catch {}
  const cost = priceUsage(model, usage, overrides);
  // Bounded: model names come from clients, so this must not grow without limit.
  if (cost === null && !warned.has(model) && warned.size < 1000) {
    warned.add(model);
    log.warn("unpriced_model", { model, hint: "add it to PRICING_OVERRIDES to record its cost" });
  }
  return cost;
}
