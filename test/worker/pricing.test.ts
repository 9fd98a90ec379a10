/** Pricing: family matching, cost arithmetic, overrides from configuration, and the real record path. */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../src/config";
import { costMicros, findPrice, modelFamily, priceUsage, recordedCostMicros } from "../../src/pricing";
import { ANTHROPIC_PRICES, OPENAI_PRICES } from "../../src/pricing/prices";
import { createKey, endedInterception, GATEWAY } from "./helpers";

const usage = (
  input: number,
  output: number,
  cacheRead = 0,
  cacheWrite = 0,
  extra: Record<string, number> | null = null,
) => ({
  inputTokens: input,
  outputTokens: output,
  cacheReadInputTokens: cacheRead,
  cacheWriteInputTokens: cacheWrite,
  extraTokenTypes: extra,
});

describe("model families", () => {
  it("matches dated and aliased ids to their family, and nothing looser", () => {
    expect(modelFamily("claude-sonnet-4-5-20250929")).toBe("claude-sonnet-4-5");
    expect(modelFamily("claude-sonnet-4-5@20250929")).toBe("claude-sonnet-4-5");
    expect(modelFamily("gpt-4o-2024-08-06")).toBe("gpt-4o");
    expect(modelFamily("claude-3-5-haiku-latest")).toBe("claude-3-5-haiku");
    expect(modelFamily("Claude-Haiku-4-5")).toBe("claude-haiku-4-5");
    expect(findPrice("claude-sonnet-4-5-20250929")).toEqual(findPrice("claude-sonnet-4-5"));
    expect(findPrice("gpt-5-mini-2025-08-07")?.input).toBe(0.25);
    // A variant with no row of its own is unknown, not silently priced as its base model.
    expect(findPrice("gpt-5-turbo-ultra")).toBeNull();
    expect(findPrice("claude-sonnet-9")).toBeNull();
  });

  it("every built-in price is a sane number", () => {
    for (const table of [ANTHROPIC_PRICES, OPENAI_PRICES]) {
      for (const [model, price] of Object.entries(table)) {
        for (const value of Object.values(price)) expect(value, model).toBeGreaterThanOrEqual(0);
        expect(price.output, model).toBeGreaterThan(price.input);
      }
    }
  });
});

describe("cost in micro-dollars", () => {
  const sonnet = findPrice("claude-sonnet-4-5")!;

  it("prices input, output, cache reads and cache writes split by TTL", () => {
    // 1000×3 + 500×15 + 10000×0.30 + 1000×3.75 + 1000×6
    expect(
      costMicros(usage(1000, 500, 10000, 2000, { cache_write_5m: 1000, cache_write_1h: 1000 }), sonnet),
    ).toBe(23250);
    // Only the 1h part given: the rest of the writes are 5m. 1000×3.75 + 1000×6
    expect(costMicros(usage(0, 0, 0, 2000, { cache_write_1h: 1000 }), sonnet)).toBe(9750);
  });

  it("prices unsplit cache writes at the 5-minute rate", () => {
    expect(costMicros(usage(200, 300, 20000, 400), sonnet)).toBe(600 + 4500 + 6000 + 1500);
  });

  it("uses OpenAI's cached-input price for cache reads", () => {
    expect(priceUsage("gpt-5", usage(4000, 1000, 6000))).toBe(5000 + 10000 + 750);
    expect(priceUsage("gpt-5-pro", usage(0, 0, 1000))).toBe(15000); // no cached price: full input
  });

  it("rounds once per record", () => {
    expect(priceUsage("claude-3-haiku", usage(1, 1, 1, 1))).toBe(Math.round(0.25 + 1.25 + 0.03 + 0.3));
  });

  it("returns null for an unknown model, never zero", () => {
    expect(priceUsage("my-local-llama", usage(100, 50))).toBeNull();
    expect(priceUsage("my-local-llama", usage(0, 0))).toBeNull();
  });
});

describe("PRICING_OVERRIDES", () => {
  const base = { DB: env.DB, KV: env.KV, RECORDS: env.RECORDS };

  it("adds and replaces prices, by exact id or by family", () => {
    const overrides = JSON.stringify({
      "my-local-llama": { input: 0.5, output: 1 },
      "claude-sonnet-4-5": { input: 2, output: 10, cache_read: 0.2, cache_write_5m: 2.5, cache_write_1h: 4 },
    });
    const config = parseConfig({ ...base, PRICING_OVERRIDES: overrides });
    expect(priceUsage("my-local-llama", usage(100, 50), config.pricingOverrides)).toBe(100);
    // Missing cache prices default to the input price (no discount is guessed).
    expect(priceUsage("my-local-llama", usage(0, 0, 10, 10), config.pricingOverrides)).toBe(10);
    expect(priceUsage("claude-sonnet-4-5-20250929", usage(1000, 100, 1000), config.pricingOverrides)).toBe(
      2000 + 1000 + 200,
    );
    // recordedCostMicros reads the same overrides from the environment the interception has.
    expect(
      recordedCostMicros({ ...base, PRICING_OVERRIDES: overrides }, "my-local-llama", usage(100, 50)),
    ).toBe(100);
  });

  it("rejects bad values with an error naming the variable", () => {
    for (const [value, fragment] of [
      ["not json", "not valid JSON"],
      ["[1]", "JSON object"],
      ['{"m": 3}', 'entry "m"'],
      ['{"m": {"input": 1}}', '"input" and "output"'],
      ['{"m": {"input": 1, "output": -2}}', "non-negative"],
      ['{"m": {"input": 1, "output": 2, "cached": 1}}', 'unknown field "cached"'],
    ]) {
      let error: unknown;
      try {
        parseConfig({ ...base, PRICING_OVERRIDES: value });
      } catch (caught) {
        error = caught;
      }
      expect(error, value).toBeInstanceOf(ConfigError);
      expect((error as Error).message, value).toContain("PRICING_OVERRIDES");
      expect((error as Error).message, value).toContain(fragment);
    }
  });
});

describe("recorded cost through the gateway", () => {
  it("a real request's token usage row carries its cost (5m/1h split, cache reads)", async () => {
    const { key } = await createKey("pricing@example.com");
    const response = await SELF.fetch(`${GATEWAY}/anthropic/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": key, "content-type": "application/json", "x-fake-scenario": "cache" },
      body: JSON.stringify({
        model: "claude-sonnet-4-5-20250929",
        max_tokens: 10,
        messages: [{ role: "user", content: "What is D1?" }],
      }),
    });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    const { tokens } = await endedInterception(response.headers.get("x-aibridge-interception-id")!);
    expect(tokens[0]).toMatchObject({
      input_tokens: 1250,
      output_tokens: 512,
      cache_read_input_tokens: 40000,
      cache_write_input_tokens: 3000,
    });
    // 1250×3 + 512×15 + 40000×0.30 + 1000×3.75 (5m) + 2000×6 (1h)
    expect(tokens[0]!.cost_micros).toBe(3750 + 7680 + 12000 + 3750 + 12000);
  });
});
