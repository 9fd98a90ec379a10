// biome-ignore-all lint/suspicious/noTemplateCurlyInString: PROVIDERS names secrets as ${NAME}
/**
 * Central MCP tools on a Bedrock instance: the inner loop sends its upstream requests through the
 * same instance path (src/bridge/upstream.ts), so the request that reaches Bedrock carries the
 * injected tools and is adapted and signed like any other (the fake Bedrock checks the signature).
 */
import { createExecutionContext, env } from "cloudflare:test";
import Anthropic from "@anthropic-ai/sdk";
import { beforeAll, describe, expect, inject, it } from "vitest";
import worker from "../../src/index";
import { FAKE_AWS } from "../fakes/aws-credentials";
import { createKey, decodeBase64, endedInterception, fakeRequests, GATEWAY } from "../worker/helpers";

const BEDROCK = inject("bedrockUrl");

const providersEnv = {
  ...env,
  BEDROCK_AK: FAKE_AWS.accessKeyId,
  BEDROCK_SK: FAKE_AWS.secretAccessKey,
  PROVIDERS: JSON.stringify([
    {
      name: "bedrock",
      type: "bedrock",
      region: "us-east-1",
      base_url: BEDROCK,
      access_key_id: "${BEDROCK_AK}",
      secret_access_key: "${BEDROCK_SK}",
      model_map: { "claude-sonnet-4-5": "us.anthropic.claude-sonnet-4-5-20250929-v1:0" },
    },
  ]),
};

let key: string;
beforeAll(async () => {
  ({ key } = await createKey("mcp-bedrock@example.com"));
});

function client(trace: string) {
  return new Anthropic({
    baseURL: `${GATEWAY}/bedrock`,
    apiKey: key,
    maxRetries: 0,
    defaultHeaders: { "x-fake-trace": trace },
    fetch: (async (input: RequestInfo | URL, init?: RequestInit) =>
      worker.fetch(new Request(input, init), providersEnv, createExecutionContext())) as typeof fetch,
  });
}

async function sentToBedrock(trace: string) {
  const all = await fakeRequests(BEDROCK);
  return all
    .filter((request) => request.headers["x-fake-trace"] === trace)
    .map((request) => JSON.parse(new TextDecoder().decode(decodeBase64(request.bodyBase64))));
}

describe("injected MCP tools through a Bedrock instance", () => {
  for (const stream of [false, true]) {
    it(`${stream ? "streaming" : "blocking"}: Bedrock gets the injected tools in a signed, adapted request`, async () => {
      const trace = crypto.randomUUID();
      const request = {
        model: "claude-sonnet-4-5",
        max_tokens: 64,
        messages: [{ role: "user" as const, content: "hello" }],
      };
      const sdk = client(trace);
      const { data: message, response } = stream
        ? await (async () => {
            const s = sdk.messages.stream(request);
            const { response } = await s.withResponse();
            return { data: await s.finalMessage(), response };
          })()
        : await sdk.messages.create(request).withResponse();
      expect(message.content).toEqual([{ type: "text", text: "Hello from Bedrock, wörld 🌍!" }]);
      const [body] = await sentToBedrock(trace);
      expect(body.model).toBeUndefined();
      expect(body.stream).toBeUndefined();
      expect(body.anthropic_version).toBe("bedrock-2023-05-31");
      const names = (body.tools as { name: string }[]).map((tool) => tool.name);
      expect(names).toEqual(expect.arrayContaining(["bmcp_everything_echo", "bmcp_everything_get-sum"]));
      const { interception, tokens } = await endedInterception(
        response.headers.get("x-aibridge-interception-id") as string,
      );
      expect(interception).toMatchObject({
        instance: "bedrock",
        upstream_instance: "bedrock",
        status: "completed",
      });
      expect(tokens[0]).toMatchObject({ input_tokens: 21, output_tokens: 13 });
    });
  }
});
