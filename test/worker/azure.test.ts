// biome-ignore-all lint/suspicious/noTemplateCurlyInString: PROVIDERS names secrets as ${NAME}
/**
 * Azure OpenAI instances (`"auth": "api-key"`) and central-key rotation on passthrough routes, end
 * to end: the official `openai` SDK (its `OpenAI` and `AzureOpenAI` clients) → the real Worker with
 * PROVIDERS → the fake OpenAI upstream's Azure v1 paths (`/openai/v1/…`, which refuse a request
 * without a valid `api-key`) and the flaky Anthropic upstream → records through the real Queue
 * into D1. Key rotation state is per isolate and per instance: every test uses its own instance.
 */
import { createExecutionContext, env } from "cloudflare:test";
import OpenAI, { AzureOpenAI } from "openai";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import worker from "../../src/index";
import { parseInstances } from "../../src/providers/instances";
import { FAKE_AZURE_KEYS } from "../fakes/azure-credentials";
import { createKey, decodeBase64, endedInterception, GATEWAY, rows } from "./helpers";

const OPENAI = inject("openaiUrl");
const FLAKY = inject("flakyUrl");

const SECRETS = {
  AZ_KEY_1: FAKE_AZURE_KEYS.central1,
  AZ_KEY_2: FAKE_AZURE_KEYS.central2,
  PLAIN_KEY: "sk-plain-openai-SECRET-must-never-leak-5555",
  ROT_KEY_1: "sk-rot-key-one-SECRET-must-never-leak-6666",
  ROT_KEY_2: "sk-rot-key-two-SECRET-must-never-leak-7777",
};
const NEEDLES = [...Object.values(SECRETS), FAKE_AZURE_KEYS.user, FAKE_AZURE_KEYS.entraToken];

const azure = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  type: "openai",
  base_url: `${OPENAI}/openai/v1`,
  auth: "api-key",
  key: "${AZ_KEY_1}",
  breaker: false,
  ...extra,
});

const PROVIDERS = [
  azure("azure"),
  azure("azure-rot", { key: undefined, keys: ["${AZ_KEY_1}", "${AZ_KEY_2}"] }),
  azure("azure-byok", { key: undefined }),
  azure("azure-fb", { fallback: "plain" }),
  { name: "plain", type: "openai", base_url: `${OPENAI}/v1`, key: "${PLAIN_KEY}", breaker: false },
  {
    name: "claude-rot",
    type: "anthropic",
    base_url: FLAKY,
    keys: ["${ROT_KEY_1}", "${ROT_KEY_2}"],
    breaker: false,
  },
  { name: "claude-one", type: "anthropic", base_url: FLAKY, key: "${ROT_KEY_1}", breaker: false },
];

const providersEnv = { ...env, PROVIDERS: JSON.stringify(PROVIDERS), ...SECRETS };

const gatewayFetch = (async (input: RequestInfo | URL, init?: RequestInit) =>
  worker.fetch(new Request(input, init), providersEnv, createExecutionContext())) as typeof fetch;

let gatewayKey: string;
const logLines: string[] = [];
beforeAll(async () => {
  gatewayKey = (await createKey("azure@example.com", "azure tests")).key;
  for (const level of ["log", "info", "warn", "error"] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void logLines.push(args.join(" ")));
  }
});
afterAll(() => {
  vi.restoreAllMocks();
});

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string>;
}

async function received(upstream: string, trace: string): Promise<Seen[]> {
  const all = (await (await fetch(`${upstream}/__fake/requests`)).json()) as (Seen & {
    bodyBase64: string;
  })[];
  return all.filter((r) => r.headers["x-fake-trace"] === trace);
}

const interceptionOf = (response: Response) =>
  endedInterception(response.headers.get("x-aibridge-interception-id") as string);

/** The OpenAI SDK the way Microsoft's v1 docs use it: base URL …/openai/v1, the key as apiKey (Bearer). */
function openaiClient(instance: string, trace: string, apiKey = gatewayKey, headers = {}) {
  return new OpenAI({
    baseURL: `${GATEWAY}/${instance}/v1`,
    apiKey,
    defaultHeaders: { "x-fake-trace": trace, ...headers },
    fetch: gatewayFetch,
    maxRetries: 0,
  });
}

/** The SDK's Azure client: its key goes in `api-key`, every request gets `?api-version=`. */
function azureClient(instance: string, trace: string, apiKey: string, headers = {}) {
  return new AzureOpenAI({
    baseURL: `${GATEWAY}/${instance}/v1`,
    apiKey,
    apiVersion: "preview",
    defaultHeaders: { "x-fake-trace": trace, ...headers },
    fetch: gatewayFetch,
    maxRetries: 0,
  });
}

const chat = { model: "gpt-4.1", messages: [{ role: "user" as const, content: "hi" }] };

describe("an Azure OpenAI instance (auth: api-key)", () => {
  it("OpenAI SDK, blocking: the central key goes upstream in api-key, never as Bearer; usage recorded", async () => {
    const trace = crypto.randomUUID();
    const { data, response } = await openaiClient("azure", trace)
      .chat.completions.create(chat)
      .withResponse();
    expect(data.choices[0]?.message.content).toBeTruthy();
    const [seen] = await received(OPENAI, trace);
    expect(seen?.url).toBe("/openai/v1/chat/completions");
    expect(seen?.headers["api-key"]).toBe(SECRETS.AZ_KEY_1);
    expect(seen?.headers.authorization).toBeUndefined();
    expect(seen?.headers["x-aibridge-key"]).toBeUndefined();
    const { interception, tokens } = await interceptionOf(response);
    expect(interception).toMatchObject({
      provider: "openai",
      provider_name: "chat_completions",
      instance: "azure",
      upstream_instance: "azure",
      credential_kind: "centralized",
      status: "completed",
    });
    expect(tokens).toHaveLength(1);
    expect(tokens[0]).toMatchObject({ input_tokens: 50, output_tokens: 9 });
  });

  it("OpenAI SDK, streaming chat: relayed, usage recorded from the stream", async () => {
    const trace = crypto.randomUUID();
    const { data: stream, response } = await openaiClient("azure", trace)
      .chat.completions.create({ ...chat, stream: true })
      .withResponse();
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text.length).toBeGreaterThan(0);
    const [seen] = await received(OPENAI, trace);
    expect(seen?.headers["api-key"]).toBe(SECRETS.AZ_KEY_1);
    expect(seen?.headers.authorization).toBeUndefined();
    const { interception, tokens } = await interceptionOf(response);
    expect(interception).toMatchObject({ instance: "azure", status: "completed" });
    expect(tokens).toHaveLength(1);
    expect(Number(tokens[0]?.input_tokens)).toBeGreaterThan(0);
  });

  it("AzureOpenAI client with the gateway key in api-key: Responses streamed, api-version kept, the client's api-key replaced", async () => {
    const trace = crypto.randomUUID();
    const { data: stream, response } = await azureClient("azure", trace, gatewayKey)
      .responses.create({ model: "gpt-5", input: "hi", stream: true })
      .withResponse();
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types.at(-1)).toBe("response.completed");
    const [seen] = await received(OPENAI, trace);
    expect(seen?.url).toBe("/openai/v1/responses?api-version=preview");
    expect(seen?.headers["api-key"]).toBe(SECRETS.AZ_KEY_1);
    expect(JSON.stringify(seen?.headers)).not.toContain(gatewayKey);
    const { interception, tokens } = await interceptionOf(response);
    expect(interception).toMatchObject({
      provider_name: "responses",
      instance: "azure",
      credential_kind: "centralized",
      status: "completed",
    });
    expect(tokens).toHaveLength(1);
  });

  it("passthrough: the models list goes to /openai/v1/models with the api-key", async () => {
    const trace = crypto.randomUUID();
    const models = await azureClient("azure", trace, gatewayKey).models.list();
    expect(models.data.map((m) => m.id)).toContain("gpt-4o-mini");
    const [seen] = await received(OPENAI, trace);
    expect(seen?.url).toBe("/openai/v1/models?api-version=preview");
    expect(seen?.headers["api-key"]).toBe(SECRETS.AZ_KEY_1);
  });

  it("BYOK the Azure SDK way: the user's key in api-key (gateway key in X-AIBridge-Key) reaches Azure in api-key", async () => {
    const trace = crypto.randomUUID();
    const { data: stream, response } = await azureClient("azure-byok", trace, FAKE_AZURE_KEYS.user, {
      "x-aibridge-key": gatewayKey,
    })
      .responses.create({ model: "gpt-5", input: "hi", stream: true })
      .withResponse();
    for await (const _ of stream) {
      // drain
    }
    const [seen] = await received(OPENAI, trace);
    expect(seen?.headers["api-key"]).toBe(FAKE_AZURE_KEYS.user);
    expect(seen?.headers.authorization).toBeUndefined();
    expect(seen?.headers["x-aibridge-key"]).toBeUndefined();
    const { interception, tokens } = await interceptionOf(response);
    expect(interception).toMatchObject({
      instance: "azure-byok",
      credential_kind: "byok",
      status: "completed",
    });
    expect(interception.credential_hint).toBe("azkey-users-…3333");
    expect(tokens).toHaveLength(1);
  });

  it("BYOK with a Microsoft Entra ID token: it stays in Authorization: Bearer", async () => {
    const trace = crypto.randomUUID();
    const client = openaiClient("azure-byok", trace, FAKE_AZURE_KEYS.entraToken, {
      "x-aibridge-key": gatewayKey,
    });
    const { response } = await client.chat.completions.create(chat).withResponse();
    const [seen] = await received(OPENAI, trace);
    expect(seen?.headers.authorization).toBe(`Bearer ${FAKE_AZURE_KEYS.entraToken}`);
    expect(seen?.headers["api-key"]).toBeUndefined();
    const { interception } = await interceptionOf(response);
    expect(interception).toMatchObject({ credential_kind: "byok", status: "completed" });
  });

  it("an instance without a central key: a request with only the gateway key gets 500 naming PROVIDERS, in OpenAI's shape", async () => {
    const error = await openaiClient("azure-byok", crypto.randomUUID())
      .chat.completions.create(chat)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect((error as Error).message).toContain('instance "azure-byok" has no key');
  });

  it("a missing gateway key: 401 that says where to put it", async () => {
    const response = await gatewayFetch(`${GATEWAY}/azure/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(chat),
    });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain(
      "api-key or Authorization: Bearer",
    );
  });

  it("rotates its keys on 429, bridged and passthrough alike", async () => {
    const trace = crypto.randomUUID();
    const headers = { "x-fake-429-key": SECRETS.AZ_KEY_1 };
    // AzureOpenAI routes chat completions to /deployments/{model}/…, which the v1 API does not
    // have: the plain OpenAI client for chat (as Microsoft's v1 docs do), AzureOpenAI for the rest.
    await openaiClient("azure-rot", trace, gatewayKey, headers).chat.completions.create(chat);
    const client = azureClient("azure-rot", trace, gatewayKey, headers);
    await client.models.list();
    await client.responses.create({ model: "gpt-5", input: "hi" });
    const keys = (await received(OPENAI, trace)).map((r) => r.headers["api-key"]);
    expect(keys.filter((k) => k === SECRETS.AZ_KEY_1)).toHaveLength(1);
    expect(keys.filter((k) => k === SECRETS.AZ_KEY_2).length).toBeGreaterThanOrEqual(2);
  });

  it("a fallback to a Bearer instance gets its own key only: the Azure key never travels there", async () => {
    const trace = crypto.randomUUID();
    const { response } = await openaiClient("azure-fb", trace, gatewayKey, {
      "x-fake-429-key": SECRETS.AZ_KEY_1,
    })
      .chat.completions.create(chat)
      .withResponse();
    const [first, second] = await received(OPENAI, trace);
    expect(first?.url).toBe("/openai/v1/chat/completions");
    expect(first?.headers["api-key"]).toBe(SECRETS.AZ_KEY_1);
    expect(second?.url).toBe("/v1/chat/completions");
    expect(second?.headers.authorization).toBe(`Bearer ${SECRETS.PLAIN_KEY}`);
    expect(second?.headers["api-key"]).toBeUndefined();
    const { interception } = await interceptionOf(response);
    expect(interception).toMatchObject({ instance: "azure-fb", upstream_instance: "plain", fallback: 1 });
  });
});

describe("a Bearer instance", () => {
  it("never relays a client's api-key header (a credential like any other)", async () => {
    const trace = crypto.randomUUID();
    await openaiClient("plain", trace, gatewayKey, {
      "api-key": "client-sent-api-key-value-0000",
    }).chat.completions.create(chat);
    // With the user's own key nothing is swapped in: only the header filter stands between.
    await openaiClient("plain", trace, "sk-users-own-plain-key-0000000001", {
      "x-aibridge-key": gatewayKey,
      "api-key": "client-sent-api-key-value-0000",
    }).chat.completions.create(chat);
    const [central, byok] = await received(OPENAI, trace);
    expect(central?.headers.authorization).toBe(`Bearer ${SECRETS.PLAIN_KEY}`);
    expect(byok?.headers.authorization).toBe("Bearer sk-users-own-plain-key-0000000001");
    expect(central?.headers["api-key"]).toBeUndefined();
    expect(byok?.headers["api-key"]).toBeUndefined();
  });
});

describe("Azure configuration", () => {
  const parse = (instance: Record<string, unknown>) =>
    parseInstances({ ...env, PROVIDERS: JSON.stringify([instance]), ...SECRETS } as typeof env);

  it("an Azure host defaults to api-key; other hosts to Bearer; auth overrides", () => {
    const v1 = "https://contoso.openai.azure.com/openai/v1";
    expect(parse({ name: "a", type: "openai", base_url: v1, key: "${AZ_KEY_1}" })[0]?.keyHeader).toBe(
      "api-key",
    );
    expect(
      parse({ name: "a", type: "openai", base_url: `${v1}/`, key: "${AZ_KEY_1}", auth: "bearer" })[0]
        ?.keyHeader,
    ).toBe("authorization");
    expect(parse({ name: "a", type: "openai", key: "${AZ_KEY_1}" })[0]?.keyHeader).toBe("authorization");
  });

  it("refuses the classic deployments URL, an unknown auth and auth on other types", () => {
    expect(() =>
      parse({
        name: "a",
        type: "openai",
        base_url: "https://contoso.openai.azure.com/openai/deployments/gpt-4o",
        key: "${AZ_KEY_1}",
      }),
    ).toThrow(/instance "a": base_url on Azure must be the v1 API/);
    expect(() => parse({ name: "a", type: "openai", key: "${AZ_KEY_1}", auth: "basic" })).toThrow(
      /auth must be "bearer" or "api-key"/,
    );
    expect(() => parse({ name: "a", type: "anthropic", key: "${AZ_KEY_1}", auth: "api-key" })).toThrow(
      /auth applies to openai instances only/,
    );
  });

  it("answers a misconfigured Azure instance's routes 500 in OpenAI's shape, naming PROVIDERS", async () => {
    const broken = {
      ...providersEnv,
      PROVIDERS: JSON.stringify([
        { name: "az", type: "openai", base_url: "https://contoso.openai.azure.com", key: "${AZ_KEY_1}" },
      ]),
    };
    const response = await worker.fetch(
      new Request(`${GATEWAY}/az/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${gatewayKey}`, "content-type": "application/json" },
        body: JSON.stringify(chat),
      }),
      broken as typeof env,
      createExecutionContext(),
    );
    expect(response.status).toBe(500);
    const body = (await response.json()) as { error: { message: string } };
    expect(body.error.message).toMatch(
      /^Invalid configuration: PROVIDERS instance "az": base_url on Azure must be the v1 API/,
    );
  });
});

describe("passthrough key rotation", () => {
  const countTokens = (instance: string, headers: Record<string, string>) =>
    gatewayFetch(`${GATEWAY}/${instance}/v1/messages/count_tokens`, {
      method: "POST",
      headers: { "x-api-key": gatewayKey, "content-type": "application/json", ...headers },
      body: JSON.stringify({ model: "claude-sonnet-4-5", messages: [{ role: "user", content: "hi" }] }),
    });

  it("count_tokens skips a key cooling down after a 429, and so does the next bridged request", async () => {
    const trace = crypto.randomUUID();
    const headers = { "x-fake-429-key": SECRETS.ROT_KEY_1, "x-fake-trace": trace };
    for (let i = 0; i < 4; i++) {
      const response = await countTokens("claude-rot", headers);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ input_tokens: 11 });
    }
    const models = await gatewayFetch(`${GATEWAY}/claude-rot/v1/models`, {
      headers: { "x-api-key": gatewayKey, ...headers },
    });
    expect(models.status).toBe(200);
    const message = await gatewayFetch(`${GATEWAY}/claude-rot/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": gatewayKey, "content-type": "application/json", ...headers },
      body: JSON.stringify({
        model: "claude-sonnet-4-5",
        max_tokens: 5,
        messages: [{ role: "user", content: "hi" }],
      }),
    });
    expect(message.status).toBe(200);
    const seen = await received(FLAKY, trace);
    const keys = seen.map((r) => r.headers["x-api-key"]);
    // Key 1 was asked once (its 429 benched it for 30 s); every answer came from key 2.
    expect(keys.filter((k) => k === SECRETS.ROT_KEY_1)).toHaveLength(1);
    expect(keys.filter((k) => k === SECRETS.ROT_KEY_2)).toHaveLength(6);
    expect(seen.at(-1)?.url).toBe("/v1/messages");
    // The retried request carried its body again, byte for byte.
    const bodies = (
      (await (await fetch(`${FLAKY}/__fake/requests`)).json()) as (Seen & { bodyBase64: string })[]
    )
      .filter((r) => r.headers["x-fake-trace"] === trace && r.url === "/v1/messages/count_tokens")
      .map((r) => new TextDecoder().decode(decodeBase64(r.bodyBase64)));
    expect(new Set(bodies).size).toBe(1);
    expect(bodies[0]).toContain('"content":"hi"');
  });

  it("with a single key the upstream's 429 is the answer (nothing benched, nothing invented)", async () => {
    const trace = crypto.randomUUID();
    const response = await countTokens("claude-one", {
      "x-fake-429-key": SECRETS.ROT_KEY_1,
      "x-fake-trace": trace,
    });
    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("30");
    expect(await response.json()).toMatchObject({ type: "error", error: { type: "rate_limit_error" } });
    expect(await received(FLAKY, trace)).toHaveLength(1);
  });
});

describe("secrets", () => {
  it("no key or token appears in any D1 table or log line", async () => {
    const tables = (
      await rows<{ name: string }>("select name from sqlite_master where type = 'table' order by name")
    ).map((t) => t.name);
    const dump = JSON.stringify(
      await Promise.all(tables.map((name) => rows(`select * from "${name}"`).catch(() => []))),
    );
    expect(dump).toContain("azure-byok"); // the records are there
    const logs = logLines.join("\n");
    expect(logs).toContain("azure");
    for (const needle of NEEDLES) {
      expect(dump).not.toContain(needle);
      expect(logs).not.toContain(needle);
    }
  });
});
