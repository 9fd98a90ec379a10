import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createKey, endedInterception, GATEWAY, rows } from "./helpers";

describe("foundation smoke", () => {
  it("a blocking Anthropic request with a gateway key lands in D1 through the queue", async () => {
    const { key } = await createKey("alice@example.com");
    const response = await SELF.fetch(`${GATEWAY}/anthropic/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": key, "content-type": "application/json" },
      body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 10, messages: [{ role: "user", content: "Hi there" }] }),
    });
    expect(response.status).toBe(200);
    const id = response.headers.get("x-aibridge-interception-id")!;
    const { interception, tokens, prompts } = await endedInterception(id);
    expect(interception).toMatchObject({ initiator_id: "alice@example.com", status: "completed", provider: "anthropic" });
    expect(tokens).toHaveLength(1);
    expect(tokens[0]).toMatchObject({ input_tokens: 12, output_tokens: 7 });
    expect(prompts[0]).toMatchObject({ prompt: "Hi there" });
    expect(await rows("select * from aibridge_users")).toHaveLength(1);
    expect(env.DB).toBeDefined();
  });
});
