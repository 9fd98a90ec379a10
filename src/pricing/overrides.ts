/** PRICING_OVERRIDES: per-model prices from configuration (parsed once by src/config.ts). */

/** US dollars per million tokens, by normalized token type. */
export interface Price {
  input: number;
  output: number;
  cacheWrite5m: number;
  cacheWrite1h: number;
  cacheRead: number;
}

export type PriceOverrides = Record<string, Price>;

const OVERRIDE_FIELDS = ["input", "output", "cache_write_5m", "cache_write_1h", "cache_read"] as const;

/**
 * Parses PRICING_OVERRIDES: {"model-or-family": {"input": 3, "output": 15, "cache_read": 0.3,
 * "cache_write_5m": 3.75, "cache_write_1h": 6}} in USD per million tokens. input and output are
 * required; a missing cache price defaults to the input price (no discount is ever guessed).
 * Returns the overrides, or a message saying what is wrong (config.ts names the variable).
 */
export function parsePriceOverrides(raw: string): PriceOverrides | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return "is not valid JSON";
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return 'must be a JSON object like {"my-model": {"input": 1, "output": 2}}';
  }
  const overrides: PriceOverrides = {};
  for (const [model, value] of Object.entries(parsed)) {
    const where = `entry "${model}"`;
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return `${where} must be an object of prices in USD per million tokens`;
    }
    const fields = value as Record<string, unknown>;
    for (const [name, price] of Object.entries(fields)) {
      if (!(OVERRIDE_FIELDS as readonly string[]).includes(name)) {
        return `${where} has unknown field "${name}" (allowed: ${OVERRIDE_FIELDS.join(", ")})`;
      }
      if (typeof price !== "number" || !Number.isFinite(price) || price < 0) {
        return `${where} field "${name}" must be a non-negative number`;
      }
    }
    const get = (name: (typeof OVERRIDE_FIELDS)[number]) => fields[name] as number | undefined;
    const input = get("input");
    const output = get("output");
    if (input === undefined || output === undefined) return `${where} needs both "input" and "output"`;
    overrides[model.trim().toLowerCase()] = {
      input,
      output,
      cacheWrite5m: get("cache_write_5m") ?? input,
      cacheWrite1h: get("cache_write_1h") ?? input,
      cacheRead: get("cache_read") ?? input,
    };
  }
  return overrides;
}
