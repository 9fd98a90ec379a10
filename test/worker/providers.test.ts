// biome-ignore-all lint/suspicious/noTemplateCurlyInString: PROVIDERS names secrets as ${NAME}
/**
 * Named provider instances (PROVIDERS) end to end: the official SDKs → the real Worker (with its
 * env given PROVIDERS and the secrets it names) → fake upstreams on 127.0.0.1 (a fake Bedrock
 * that checks SigV4 and answers AWS event streams, a scriptable Anthropic upstream, the fake
 * OpenAI) → records through the real Queue into D1.
 *
 * Breaker state and key rotation are per isolate and keyed by (instance, model): tests that
 * depend on them use their own instance or model.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { app } from "../../src/app";
import worker from "../../src/index";
import { providerFetch } from "../../src/providers/mount";
import { FAKE_AWS } from "../fakes/aws-credentials";
import { admin, createKey, decodeBase64, endedInterception, GATEWAY } from "./helpers";

const BEDROCK = inject("bedrockUrl");
const FLAKY = inject("flakyUrl");
const OPENAI = inject("openaiUrl");
const BEDROCK_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";

const SECRETS = {
  BEDROCK_AK: FAKE_AWS.accessKeyId,
  BEDROCK_SK: FAKE_AWS.secretAccessKey,
  BEDROCK_ST: FAKE_AWS.sessionToken,
  WRONG_SK: "wrong-Secret-Access-Key-must-never-leak",
  FLAKY_KEY_1: "sk-flaky-key-one-SECRET-1111",
  FLAKY_KEY_2: "sk-flaky-key-two-SECRET-2222",
  VLLM_KEY: "sk-vllm-SECRET-must-never-leak-3333",
};

const bedrockInstance = {
  type: "bedrock",
  region: "us-east-1",
  base_url: BEDROCK,
  access_key_id: "${BEDROCK_AK}",
  secret_access_key: "${BEDROCK_SK}",
  session_token: "${BEDROCK_ST}",
  model_map: { "claude-sonnet-4-5": BEDROCK_MODEL },
  keepalive_seconds: 1,
  breaker: false,
};

const PROVIDERS = [
  {
    name: "claude",
    type: "anthropic",
    base_url: FLAKY,
    keys: ["${FLAKY_KEY_1}", "${FLAKY_KEY_2}"],
    fallback: "bedrock",
    breaker: { failures: 100 },
  },
  { name: "bedrock", ...bedrockInstance },
  { name: "bedrock-bad", ...bedrockInstance, secret_access_key: "${WRONG_SK}" },
  {
    name: "claude-fast-fail",
    type: "anthropic",
    base_url: FLAKY,
    key: "${FLAKY_KEY_1}",
    fallback: "bedrock",
    breaker: { failures: 1, cooldown_seconds: 60 },
  },
  {
    name: "solo",
    type: "anthropic",
    base_url: FLAKY,
    key: "${FLAKY_KEY_1}",
    breaker: { failures: 2, window_seconds: 60, cooldown_seconds: 1 },
  },
  { name: "to-nowhere", type: "anthropic", base_url: FLAKY, key: "${FLAKY_KEY_1}", fallback: "nowhere" },
  {
    name: "nowhere",
    type: "anthropic",
    base_url: "http://127.0.0.1:9",
    key: "${FLAKY_KEY_1}",
    breaker: false,
  },
  { name: "vllm", type: "openai", base_url: `${OPENAI}/v1`, key: "${VLLM_KEY}" },
  { name: "copilot", type: "copilot", base_url: `${OPENAI}/v1` },
];

const providersEnv = { ...env, PROVIDERS: JSON.stringify(PROVIDERS), ...SECRETS };

/** The Worker with PROVIDERS set; waitUntil work runs on as in production (records are polled). */
const gatewayFetch = (async (input: RequestInfo | URL, init?: RequestInit) =>
  worker.fetch(new Request(input, init), providersEnv, createExecutionContext())) as typeof fetch;

async function call(path: string, init: RequestInit, environment: object = providersEnv): Promise<Response> {
  return worker.fetch(
    new Request(`${GATEWAY}${path}`, init),
    environment as typeof env,
    createExecutionContext(),
  );
}

let gatewayKey: string;
beforeAll(async () => {
  gatewayKey = (await createKey("providers@example.com", "providers tests")).key;
});

function anthropic(instance: string, headers: Record<string, string> = {}) {
  return new Anthropic({
    baseURL: `${GATEWAY}/${instance}`,
    apiKey: gatewayKey,
    defaultHeaders: headers,
    fetch: gatewayFetch,
    maxRetries: 0,
  });
}

interface Seen {
  url: string;
  headers: Record<string, string>;
  body: string;
}

async function received(upstream: string, trace: string): Promise<Seen[]> {
  const all = (await (await fetch(`${upstream}/__fake/requests`)).json()) as (Seen & {
    bodyBase64: string;
  })[];
  return all
    .filter((r) => r.headers["x-fake-trace"] === trace)
    .map((r) => ({ ...r, body: new TextDecoder().decode(decodeBase64(r.bodyBase64)) }));
}

const interceptionOf = (response: Response) =>
  endedInterception(response.headers.get("x-aibridge-interception-id") as string);

function expectNoSecrets(text: string) {
  for (const secret of [...Object.values(SECRETS), FAKE_AWS.secretAccessKey, FAKE_AWS.sessionToken]) {
    expect(text).not.toContain(secret);
  }
}

const userMessage = [{ role: "user" as const, content: "What is the weather in Paris?" }];

// ---- configuration ---------------------------------------------------------------------------

describe("PROVIDERS configuration", () => {
  const body = JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 5, messages: userMessage });
  const post = (path: string, providers: unknown, extra: object = {}) =>
    call(
      path,
      { method: "POST", headers: { "x-api-key": gatewayKey, "content-type": "application/json" }, body },
      { ...env, ...SECRETS, PROVIDERS: JSON.stringify(providers), ...extra },
    );

  it("refuses a literal key (500 naming PROVIDERS and the instance, never the value)", async () => {
    const response = await post("/claude/v1/messages", [
      { name: "claude", type: "anthropic", key: "sk-literal-key-must-never-leak" },
    ]);
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(JSON.parse(text)).toMatchObject({ type: "error", error: { type: "api_error" } });
    expect(text).toContain('PROVIDERS instance \\"claude\\": key must name a secret as ${SECRET_NAME}');
    expect(text).not.toContain("sk-literal-key-must-never-leak");
  });

  it("names the secret a key refers to when it is not set", async () => {
    const response = await post("/claude/v1/messages", [
      { name: "claude", type: "anthropic", keys: ["${FLAKY_KEY_1}", "${NOT_SET_ANYWHERE}"] },
    ]);
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(text).toContain("keys[1] names NOT_SET_ANYWHERE, which is not set");
    expect(text).not.toContain(SECRETS.FLAKY_KEY_1);
  });

  it("refuses a fallback that speaks another API, and a central key on Copilot", async () => {
    const mixed = await post("/a/v1/messages", [
      { name: "a", type: "anthropic", key: "${FLAKY_KEY_1}", fallback: "b" },
      { name: "b", type: "openai", key: "${VLLM_KEY}" },
    ]);
    expect(await mixed.text()).toContain('fallback \\"b\\" speaks another API (openai)');
    const copilot = await post("/c/v1/messages", [{ name: "c", type: "copilot", key: "${VLLM_KEY}" }]);
    expect(await copilot.text()).toContain("copilot takes no central key");
  });

  it("mounts only the configured instances: /anthropic is gone when PROVIDERS does not name it", async () => {
    const response = await call("/anthropic/v1/messages", {
      method: "POST",
      headers: { "x-api-key": gatewayKey, "content-type": "application/json" },
      body,
    });
    expect(response.status).toBe(404);
  });
});

// ---- a named OpenAI-compatible instance --------------------------------------------------------

describe("a named OpenAI-compatible instance", () => {
  it("serves the OpenAI SDK at /vllm/v1 with the instance's key, recorded under its name", async () => {
    const trace = crypto.randomUUID();
    const client = new OpenAI({
      baseURL: `${GATEWAY}/vllm/v1`,
      apiKey: gatewayKey,
      defaultHeaders: { "x-fake-trace": trace },
      fetch: gatewayFetch,
      maxRetries: 0,
    });
    const { data, response } = await client.chat.completions
      .create({ model: "gpt-4.1", messages: [{ role: "user", content: "hi" }] })
      .withResponse();
    expect(data.choices[0]?.message.content).toBeTruthy();
    const [seen] = await received(OPENAI, trace);
    expect(seen?.url).toBe("/v1/chat/completions");
    expect(seen?.headers.authorization).toBe(`Bearer ${SECRETS.VLLM_KEY}`);
    const { interception, tokens } = await interceptionOf(response);
    expect(interception).toMatchObject({
      provider: "openai",
      provider_name: "chat_completions",
      instance: "vllm",
      upstream_instance: "vllm",
      fallback: 0,
      status: "completed",
    });
    expect(tokens.length).toBe(1);
  });
});

// ---- Amazon Bedrock --------------------------------------------------------------------------

describe("a Bedrock instance behind the Anthropic API", () => {
  it("Anthropic SDK, blocking: signed InvokeModel on the mapped model, answer and usage recorded", async () => {
    const trace = crypto.randomUUID();
    const { data: message, response } = await anthropic("bedrock", {
      "x-fake-trace": trace,
      "anthropic-beta": "interleaved-thinking-2025-05-14, context-management-2025-06-27",
    })
      .messages.create({ model: "claude-sonnet-4-5", max_tokens: 50, messages: userMessage })
      .withResponse();
    expect(message.content).toEqual([{ type: "text", text: "Hello from Bedrock, wörld 🌍!" }]);
    expect(message.usage).toMatchObject({ input_tokens: 21, output_tokens: 13, cache_read_input_tokens: 8 });

    const [seen] = await received(BEDROCK, trace);
    expect(seen?.url).toBe("/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke");
    expect(seen?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIAFAKEBEDROCK00001\/\d{8}\/us-east-1\/bedrock\/aws4_request, /,
    );
    expect(seen?.headers["x-amz-security-token"]).toBe(FAKE_AWS.sessionToken);
    expect(seen?.headers["x-api-key"]).toBeUndefined();
    expect(seen?.headers["anthropic-version"]).toBeUndefined();
    const sent = JSON.parse(seen?.body ?? "{}");
    expect(sent.model).toBeUndefined();
    expect(sent.stream).toBeUndefined();
    expect(sent.anthropic_version).toBe("bedrock-2023-05-31");
    expect(sent.anthropic_beta).toEqual(["interleaved-thinking-2025-05-14", "context-management-2025-06-27"]);

    const { interception, tokens } = await interceptionOf(response);
    expect(interception).toMatchObject({
      provider: "anthropic",
      provider_name: "messages",
      instance: "bedrock",
      upstream_instance: "bedrock",
      model: "claude-sonnet-4-5",
      status: "completed",
      stop_reason: "end_turn",
    });
    expect(tokens[0]).toMatchObject({ input_tokens: 21, output_tokens: 13, cache_read_input_tokens: 8 });
  });

  it("Anthropic SDK .stream(): the event stream comes back as Anthropic SSE the SDK accumulates", async () => {
    const stream = anthropic("bedrock", { "x-fake-bedrock": "tools" }).messages.stream({
      model: "claude-sonnet-4-5",
      max_tokens: 50,
      messages: userMessage,
    });
    const { response } = await stream.withResponse();
    const message = await stream.finalMessage();
    expect(message.stop_reason).toBe("tool_use");
    expect(message.content).toEqual([
      { type: "text", text: "Hello from Bedrock, wörld 🌍!" },
      { type: "tool_use", id: "toolu_bdrk_01", name: "get_weather", input: { city: "Paris", unit: "c" } },
    ]);
    expect(message.usage.output_tokens).toBe(13);
    const { interception, tokens, tools } = await interceptionOf(response);
    expect(interception).toMatchObject({ instance: "bedrock", streaming: 1, status: "completed" });
    expect(tokens[0]).toMatchObject({ input_tokens: 21, output_tokens: 13, cache_read_input_tokens: 8 });
    expect(tools.map((t) => t.tool)).toEqual(["get_weather"]);
  });

  it("Claude Code's request shape, streamed: SSE out, tools, usage and session recorded", async () => {
    const trace = crypto.randomUUID();
    const session = crypto.randomUUID();
    const response = await call("/bedrock/v1/messages?beta=true", {
      method: "POST",
      headers: {
        "x-api-key": gatewayKey,
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
        "x-app": "cli",
        "user-agent": "claude-cli/2.0.14 (external, sdk-cli)",
        "x-claude-code-session-id": session,
        "x-fake-bedrock": "tools",
        "x-fake-trace": trace,
      },
      body: JSON.stringify({
        model: "claude-sonnet-4-5",
        max_tokens: 64000,
        stream: true,
        metadata: { user_id: JSON.stringify({ device_id: "d", account_uuid: "", session_id: session }) },
        system: [{ type: "text", text: "You are Claude Code.", cache_control: { type: "ephemeral" } }],
        tools: [{ name: "get_weather", description: "Weather", input_schema: { type: "object" } }],
        messages: [
          { role: "user", content: [{ type: "text", text: "What is the weather in Paris?" }] },
          { role: "system", content: "reminder" },
        ],
      }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const text = await response.text();
    expectNoSecrets(text);
    const names = [...text.matchAll(/^event: (\S+)$/gm)].map((m) => m[1]);
    expect(names[0]).toBe("message_start");
    expect(names.at(-1)).toBe("message_stop");
    expect(text).toContain('"partial_json":"{\\"city\\":');

    const [seen] = await received(BEDROCK, trace);
    expect(seen?.url).toBe(
      "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream",
    );
    const sent = JSON.parse(seen?.body ?? "{}");
    expect(sent.messages[1]).toEqual({ role: "system", content: "reminder" });
    expect(sent.metadata.user_id).toContain(session);

    const { interception, tokens, tools, prompts } = await interceptionOf(response);
    expect(interception).toMatchObject({
      instance: "bedrock",
      client: "Claude Code",
      client_session_id: session,
      streaming: 1,
      status: "completed",
      stop_reason: "tool_use",
    });
    expect(tokens[0]).toMatchObject({ input_tokens: 21, output_tokens: 13, cache_read_input_tokens: 8 });
    expect(tools.map((t) => [t.tool, t.input])).toEqual([["get_weather", '{"city":"Paris","unit":"c"}']]);
    expect(prompts.map((p) => p.prompt)).toEqual(["What is the weather in Paris?"]);
  });

  it("AWS errors come back in Anthropic's shape: throttling → 429 rate_limit_error", async () => {
    const error = (await anthropic("bedrock", { "x-fake-bedrock": "throttle" })
      .messages.create({ model: "claude-sonnet-4-5", max_tokens: 5, messages: userMessage })
      .catch((e: unknown) => e)) as { error?: unknown };
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    expect(error.error).toEqual({
      type: "error",
      error: { type: "rate_limit_error", message: "Too many requests, please wait before trying again." },
    });
  });

  it("a signature AWS refuses: authentication_error, without AWS's canonical-request text or any secret", async () => {
    const response = await call("/bedrock-bad/v1/messages", {
      method: "POST",
      headers: { "x-api-key": gatewayKey, "content-type": "application/json" },
      body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 5, messages: userMessage }),
    });
    expect(response.status).toBe(403);
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({
      type: "error",
      error: {
        type: "authentication_error",
        message: "Amazon Bedrock refused the gateway's AWS credentials (InvalidSignatureException).",
      },
    });
    expectNoSecrets(text);
    const { interception } = await interceptionOf(response);
    expect(interception).toMatchObject({ status: "failed", error_type: "authentication_error" });
    expectNoSecrets(JSON.stringify(interception));
  });

  it("an exception frame mid-stream becomes an Anthropic error event; the interception fails", async () => {
    const response = await call("/bedrock/v1/messages", {
      method: "POST",
      headers: {
        "x-api-key": gatewayKey,
        "content-type": "application/json",
        "x-fake-bedrock": "stream-exception",
      },
      body: JSON.stringify({
        model: "claude-sonnet-4-5",
        max_tokens: 5,
        stream: true,
        messages: userMessage,
      }),
    });
    const text = await response.text();
    expect(text).toMatch(
      /event: error\ndata: \{"type":"error","error":\{"type":"rate_limit_error","message":"Too many tokens, please wait."\}\}\n\n$/,
    );
    const { interception } = await interceptionOf(response);
    expect(interception).toMatchObject({ status: "failed", error_type: "rate_limit_error" });
  });

  it("a frame with a wrong CRC is refused: error event, interception failed", async () => {
    const response = await call("/bedrock/v1/messages", {
      method: "POST",
      headers: { "x-api-key": gatewayKey, "content-type": "application/json", "x-fake-bedrock": "corrupt" },
      body: JSON.stringify({
        model: "claude-sonnet-4-5",
        max_tokens: 5,
        stream: true,
        messages: userMessage,
      }),
    });
    const text = await response.text();
    expect(text).toContain("event: message_start");
    expect(text).toMatch(/event: error\ndata: .*message CRC mismatch/);
    const { interception } = await interceptionOf(response);
    expect(interception).toMatchObject({ status: "failed", error_type: "upstream_error" });
  });

  it("sends Anthropic's ping after upstream silence (keepalive_seconds: 1), and the SDK still accumulates", async () => {
    const response = await call("/bedrock/v1/messages", {
      method: "POST",
      headers: { "x-api-key": gatewayKey, "content-type": "application/json", "x-fake-bedrock": "quiet" },
      body: JSON.stringify({
        model: "claude-sonnet-4-5",
        max_tokens: 5,
        stream: true,
        messages: userMessage,
      }),
    });
    const text = await response.text();
    const names = [...text.matchAll(/^event: (\S+)$/gm)].map((m) => m[1]);
    expect(names.slice(0, 2)).toEqual(["message_start", "ping"]);
    expect(names.filter((n) => n === "ping").length).toBeGreaterThanOrEqual(2);
    expect(text).toContain('event: ping\ndata: {"type": "ping"}\n\n');
    expect(names.at(-1)).toBe("message_stop");
    const { interception } = await interceptionOf(response);
    expect(interception).toMatchObject({ status: "completed", stop_reason: "end_turn" });
  });

  it("has no models list or token counter: 404 in Anthropic's shape", async () => {
    const response = await call("/bedrock/v1/models", { headers: { "x-api-key": gatewayKey } });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ type: "error", error: { type: "not_found_error" } });
  });
});

// ---- keys, fallback, breaker -------------------------------------------------------------------

describe("failover", () => {
  const ask = (
    instance: string,
    headers: Record<string, string>,
    stream = false,
    model = "claude-sonnet-4-5",
  ) =>
    call(`/${instance}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": gatewayKey, "content-type": "application/json", ...headers },
      body: JSON.stringify({ model, max_tokens: 5, stream, messages: userMessage }),
    });

  it("rotates keys: a key that got 429 is skipped until its retry-after passes", async () => {
    const trace = crypto.randomUUID();
    const headers = { "x-fake-429-key": SECRETS.FLAKY_KEY_1, "x-fake-trace": trace };
    for (let i = 0; i < 4; i++) {
      const response = await ask("claude", headers);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ content: [{ text: "Hello from flaky" }] });
      const { interception } = await interceptionOf(response);
      expect(interception).toMatchObject({ upstream_instance: "claude", fallback: 0 });
    }
    const keys = (await received(FLAKY, trace)).map((r) => r.headers["x-api-key"]);
    expect(keys.filter((k) => k === SECRETS.FLAKY_KEY_1)).toHaveLength(1);
    expect(keys.filter((k) => k === SECRETS.FLAKY_KEY_2)).toHaveLength(4);
    expect(await (await fetch(`${BEDROCK}/__fake/requests`)).text()).not.toContain(trace);
  });

  it("falls back before the first byte: a 529 from the primary is answered by Bedrock, recorded as such", async () => {
    const trace = crypto.randomUUID();
    const message = await anthropic("claude", {
      "x-fake-status": "529",
      "x-fake-trace": trace,
    }).messages.create({
      model: "claude-sonnet-4-5",
      max_tokens: 5,
      messages: userMessage,
    });
    expect(message.content).toEqual([{ type: "text", text: "Hello from Bedrock, wörld 🌍!" }]);
    expect(await received(FLAKY, trace)).toHaveLength(1);
    expect(await received(BEDROCK, trace)).toHaveLength(1);

    const response = await ask("claude", { "x-fake-status": "503", "x-fake-trace": trace }, true);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain('"id":"msg_bdrk_01FakeBedrockMessage"');
    expect(text).not.toContain("flaky");
    const { interception, tokens } = await interceptionOf(response);
    expect(interception).toMatchObject({
      instance: "claude",
      upstream_instance: "bedrock",
      fallback: 1,
      status: "completed",
    });
    expect(tokens[0]).toMatchObject({ input_tokens: 21, output_tokens: 13 });
    const detail = (await (await admin(`/interceptions/${interception.id}`)).json()) as Record<
      string,
      unknown
    >;
    expect(JSON.stringify(detail)).toContain(
      '"instance":"claude","upstream_instance":"bedrock","fallback":true',
    );
  });

  it("writes an instance_usage datapoint: addressed instance, the one that answered, fallback", async () => {
    const points: AnalyticsEngineDataPoint[] = [];
    const metrics = { writeDataPoint: (point: AnalyticsEngineDataPoint) => points.push(point) };
    const ctx = createExecutionContext();
    const response = await worker.fetch(
      new Request(`${GATEWAY}/claude/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": gatewayKey, "content-type": "application/json", "x-fake-status": "529" },
        body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 5, messages: userMessage }),
      }),
      { ...providersEnv, METRICS: metrics },
      ctx,
    );
    await response.text();
    await waitOnExecutionContext(ctx);
    const point = points.find((p) => p.blobs?.[0] === "instance_usage");
    expect(point?.blobs).toEqual([
      "instance_usage",
      "claude",
      "bedrock",
      "true",
      "anthropic",
      "messages",
      "claude-sonnet-4-5",
      "completed",
    ]);
    expect(point?.doubles).toEqual([1, 21, 13, 8, 0]);
  });

  it("never falls back after the first byte: a stream cut mid-way ends in an error event", async () => {
    const trace = crypto.randomUUID();
    const response = await ask("claude", { "x-fake-reset": "1", "x-fake-trace": trace }, true);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain('"text":"Hello"');
    expect(text).toMatch(/event: error\ndata: \{"type":"error","error":\{"type":"api_error"/);
    expect(await received(BEDROCK, trace)).toHaveLength(0);
    const { interception } = await interceptionOf(response);
    expect(interception).toMatchObject({ upstream_instance: "claude", fallback: 0, status: "failed" });
  });

  it("breaker: opens after N failures, fails fast without touching the upstream, closes after a good probe", async () => {
    const trace = crypto.randomUUID();
    const model = "claude-breaker-test";
    for (let i = 0; i < 2; i++) {
      const failed = await ask("solo", { "x-fake-status": "500", "x-fake-trace": trace }, false, model);
      expect(failed.status).toBe(500);
      await failed.text();
    }
    const fast = await ask("solo", { "x-fake-trace": trace }, false, model);
    expect(fast.status).toBe(503);
    expect(Number(fast.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await fast.json()).toMatchObject({ type: "error", error: { type: "overloaded_error" } });
    expect(await received(FLAKY, trace)).toHaveLength(2);
    const { interception } = await interceptionOf(fast);
    expect(interception).toMatchObject({
      status: "failed",
      error_type: "overloaded_error",
      upstream_instance: null,
    });

    // Another model on the same instance is not affected.
    const other = await ask("solo", { "x-fake-trace": trace }, false, "claude-other-model");
    expect(other.status).toBe(200);

    await new Promise((resolve) => setTimeout(resolve, 1100));
    const probe = await ask("solo", { "x-fake-trace": trace }, false, model);
    expect(probe.status).toBe(200);
    const after = await ask("solo", { "x-fake-trace": trace }, false, model);
    expect(after.status).toBe(200);
    expect(await received(FLAKY, trace)).toHaveLength(5);
  });

  it("when the fallback fails too, the client gets the primary's own error, unchanged", async () => {
    const response = await ask("to-nowhere", { "x-fake-status": "529" });
    expect(response.status).toBe(529);
    expect(response.headers.get("request-id")).toBe("req_flaky");
    expect(await response.json()).toEqual({
      type: "error",
      error: { type: "overloaded_error", message: "status 529" },
    });
    const { interception } = await interceptionOf(response);
    expect(interception).toMatchObject({
      instance: "to-nowhere",
      upstream_instance: "to-nowhere",
      fallback: 0,
      error_type: "overloaded_error",
    });
  });

  it("breaker open with a fallback: goes straight to the fallback", async () => {
    const trace = crypto.randomUUID();
    const first = await ask("claude-fast-fail", { "x-fake-status": "529", "x-fake-trace": trace });
    expect(first.status).toBe(200);
    await first.text();
    const second = await ask("claude-fast-fail", { "x-fake-trace": trace });
    expect(second.status).toBe(200);
    expect(await second.json()).toMatchObject({ content: [{ text: "Hello from Bedrock, wörld 🌍!" }] });
    expect(await received(FLAKY, trace)).toHaveLength(1);
    expect(await received(BEDROCK, trace)).toHaveLength(2);
    const { interception } = await interceptionOf(second);
    expect(interception).toMatchObject({ upstream_instance: "bedrock", fallback: 1 });
  });
});

// ---- Copilot ---------------------------------------------------------------------------------

describe("a Copilot instance", () => {
  it("refuses a request without the user's own token, in OpenAI's shape", async () => {
    const response = await call("/copilot/v1/chat/completions", {
      method: "POST",
      headers: { authorization: `Bearer ${gatewayKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4.1", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({
      error: {
        message:
          "The copilot provider needs your own copilot token: send it in Authorization: Bearer and your gateway key in X-AIBridge-Key.",
        type: "invalid_request_error",
        param: null,
        code: "invalid_api_key",
      },
    });
  });

  it("relays the user's token with Copilot's editor headers", async () => {
    const trace = crypto.randomUUID();
    const client = new OpenAI({
      baseURL: `${GATEWAY}/copilot/v1`,
      apiKey: "gho_userOwnCopilotToken0000000001",
      defaultHeaders: { "x-aibridge-key": gatewayKey, "x-fake-trace": trace },
      fetch: gatewayFetch,
      maxRetries: 0,
    });
    const { response } = await client.chat.completions
      .create({ model: "gpt-4.1", messages: [{ role: "user", content: "hi" }] })
      .withResponse();
    const [seen] = await received(OPENAI, trace);
    expect(seen?.headers.authorization).toBe("Bearer gho_userOwnCopilotToken0000000001");
    expect(seen?.headers["copilot-integration-id"]).toBe("vscode-chat");
    expect(seen?.headers["editor-version"]).toMatch(/^vscode\//);
    expect(seen?.headers["x-aibridge-key"]).toBeUndefined();
    const { interception } = await interceptionOf(response);
    expect(interception).toMatchObject({ instance: "copilot", credential_kind: "byok", status: "completed" });
  });
});

// ---- usage by instance -------------------------------------------------------------------------

describe("usage split by upstream", () => {
  it("the admin usage API groups by the instance that answered", async () => {
    const response = await admin("/usage?group_by=instance&from=1d");
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      rows: { instance: string; requests: number; input_tokens: number }[];
    };
    const byInstance = Object.fromEntries(body.rows.map((row) => [row.instance, row]));
    expect(byInstance.bedrock?.input_tokens).toBeGreaterThan(0);
    expect(byInstance.vllm?.requests).toBeGreaterThanOrEqual(1);
    expect(byInstance.solo?.requests).toBeGreaterThanOrEqual(1);
    expect(byInstance.claude?.requests).toBeGreaterThanOrEqual(1);
  });
});

describe("provider routes dispatched ahead of the app (src/providers/mount.ts providerFetch)", () => {
  const v1Env = {
    ...env,
    ...SECRETS,
    PROVIDERS: JSON.stringify([{ name: "v1", type: "anthropic", base_url: FLAKY, key: "${FLAKY_KEY_1}" }]),
  };
  const takes = (environment: typeof env, path: string) =>
    providerFetch(
      new Request(`${GATEWAY}${path}`, { method: "POST" }),
      environment,
      createExecutionContext(),
    ) !== null;

  it("takes only paths that name an instance, and leaves /v1/me, the gateway's own paths and CORS to the app", () => {
    expect(takes(env, "/anthropic/v1/messages")).toBe(true);
    expect(takes(env, "/openai/v1/chat/completions?x=1")).toBe(true);
    expect(takes(env, "/anthropic")).toBe(true);
    expect(takes(env, "/healthz")).toBe(false);
    expect(takes(env, "/admin/api/usage")).toBe(false);
    expect(takes(env, "/v1/me")).toBe(false);
    expect(takes(env, "/nope/v1/messages")).toBe(false);
    expect(takes(env, "/")).toBe(false);
    expect(takes(v1Env, "/v1/messages")).toBe(true);
    expect(takes(v1Env, "/v1/me")).toBe(false);
    expect(takes(v1Env, "/v1/me?x=1")).toBe(false);
    expect(takes({ ...env, CORS_ORIGINS: "https://app.example.com" }, "/anthropic/v1/messages")).toBe(false);
    expect(takes({ ...env, PROVIDERS: "[not json" }, "/anthropic/v1/messages")).toBe(false);
  });

  it("answers exactly as the app's own dispatch does", async () => {
    const ask = (handler: typeof worker.fetch, path: string, init: RequestInit) =>
      handler(new Request(`${GATEWAY}${path}`, init), env, createExecutionContext());
    const cases: [string, RequestInit][] = [
      ["/anthropic/v1/messages", { method: "POST", body: "{}" }],
      [
        "/openai/v1/chat/completions",
        { method: "POST", body: "{}", headers: { authorization: "Bearer aib_x" } },
      ],
      ["/anthropic/v1/nope", { method: "GET" }],
      ["/anthropic/v1/messages", { method: "PUT" }],
    ];
    for (const [path, init] of cases) {
      const direct = await ask(worker.fetch, path, init);
      const viaApp = await ask((request, e, ctx) => app.fetch(request, e, ctx), path, init);
      expect([direct.status, await direct.text()]).toEqual([viaApp.status, await viaApp.text()]);
      expect([...direct.headers]).toEqual([...viaApp.headers]);
    }
  });
});
