// biome-ignore-all lint/suspicious/noTemplateCurlyInString: PROVIDERS names secrets as ${NAME}
/**
 * Background Responses followed on the instance that created them, with a BYOK key that never
 * rides in plain text. The real Worker (its fetch and queue entry points, given an env with
 * PROVIDERS) → two fake OpenAI upstreams on their own ports (a stored response belongs to the
 * upstream and the key that created it: any other answers 404, like the real API) → records through
 * the real RECORDS queue into D1.
 *
 * The BACKGROUND queue is captured (a Queue whose `send` keeps the body), so each test reads the
 * exact message the gateway sent and delivers it to the consumer itself, when it chooses: no
 * delays, and the message can be inspected for keys.
 */
import {
  createExecutionContext,
  createMessageBatch,
  env,
  getQueueResult,
  waitOnExecutionContext,
} from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, inject, it, vi } from "vitest";
import type { BackgroundPoll } from "../../src/background/follow";
import { BACKGROUND_QUEUE } from "../../src/background/follow";
import worker from "../../src/index";
import { FAKE_AZURE_KEYS } from "../fakes/azure-credentials";
import { BACKGROUND_USAGE, CANCELLED_USAGE } from "../fakes/openai";
import { createKey, eventually, fakeRequests, GATEWAY, rows } from "./helpers";

const OPENAI = inject("openaiUrl");
const SECOND = inject("openaiSecondUrl");
const EU_KEY_1 = "sk-eu-key-one-SECRET-must-never-leak-1111";
const EU_KEY_2 = "sk-eu-key-two-SECRET-must-never-leak-2222";
const USER_KEY = "sk-proj-USER-own-key-must-never-leak-9876";

interface Sent {
  body: BackgroundPoll;
  delaySeconds: number | undefined;
}

/** A Queue binding that keeps what is sent (structured-cloned, as the platform would). */
function capturingQueue(sent: Sent[]): Queue<unknown> {
  return {
    async send(body: unknown, options?: QueueSendOptions) {
      sent.push({ body: structuredClone(body) as BackgroundPoll, delaySeconds: options?.delaySeconds });
    },
    async sendBatch() {
      throw new Error("not used");
    },
  } as unknown as Queue<unknown>;
}

const points: AnalyticsEngineDataPoint[] = [];
const metrics = { writeDataPoint: (point: AnalyticsEngineDataPoint) => void points.push(point) };

const PROVIDERS = JSON.stringify([
  { name: "openai", type: "openai", base_url: `${OPENAI}/v1`, key: "${OPENAI_API_KEY}" },
  // The same upstream with one key: a passthrough (a client's GET or cancel) moves to another key
  // only after a 429, and the fake scopes a response to the key that created it.
  { name: "openai-eu1", type: "openai", base_url: `${SECOND}/v1`, key: "${EU_KEY_1}" },
  // Azure OpenAI's v1 API on the second upstream: keys in an `api-key` header.
  {
    name: "azure",
    type: "openai",
    base_url: `${SECOND}/openai/v1`,
    auth: "api-key",
    keys: ["${AZ_KEY_1}", "${AZ_KEY_2}"],
  },
  // Unreachable: its requests are answered by its fallback.
  {
    name: "openai-down",
    type: "openai",
    base_url: "http://127.0.0.1:9/v1",
    key: "${OPENAI_API_KEY}",
    fallback: "openai-eu",
    breaker: false,
  },
  // Another upstream on another port, with two keys the instance rotates over.
  { name: "openai-eu", type: "openai", base_url: `${SECOND}/v1`, keys: ["${EU_KEY_1}", "${EU_KEY_2}"] },
]);

const sent: Sent[] = [];
/** The gateway with named instances; one object, so its parsed configuration is reused. */
const named = {
  ...env,
  PROVIDERS,
  EU_KEY_1,
  EU_KEY_2,
  AZ_KEY_1: FAKE_AZURE_KEYS.central1,
  AZ_KEY_2: FAKE_AZURE_KEYS.central2,
  BACKGROUND: capturingQueue(sent),
  METRICS: metrics,
} as unknown as typeof env;
/** The gateway with no PROVIDERS (the two default instances), as before named instances. */
const plain = { ...env, BACKGROUND: capturingQueue(sent), METRICS: metrics } as unknown as typeof env;

let gatewayKey: string;
let logLines: string[] = [];

beforeAll(async () => {
  ({ key: gatewayKey } = await createKey("background@example.com"));
});

afterEach(() => {
  vi.restoreAllMocks();
});

function captureLogs(): void {
  logLines = [];
  for (const level of ["log", "warn", "error"] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void logLines.push(args.join(" ")));
  }
}

async function call(gateway: typeof env, path: string, init: RequestInit = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(new Request(`${GATEWAY}${path}`, init), gateway, ctx);
  const copy = new Response(await response.arrayBuffer(), response);
  await waitOnExecutionContext(ctx);
  return copy;
}

/** Creates a background response; returns its id, the interception and the poll message sent. */
async function create(gateway: typeof env, instance: string, byok: boolean | Record<string, string> = false) {
  const before = sent.length;
  const headers: Record<string, string> =
    typeof byok === "object"
      ? { "x-aibridge-key": gatewayKey, ...byok }
      : byok
        ? { "x-aibridge-key": gatewayKey, authorization: `Bearer ${USER_KEY}` }
        : { authorization: `Bearer ${gatewayKey}` };
  const response = await call(gateway, `/${instance}/v1/responses`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-5", input: "A long job", background: true }),
  });
  expect(response.status).toBe(200);
  const created = await response.json<{ id: string; status: string }>();
  expect(created.status).toBe("queued");
  expect(sent).toHaveLength(before + 1);
  return {
    id: created.id,
    interceptionId: response.headers.get("x-aibridge-interception-id") as string,
    message: sent[before] as Sent,
  };
}

/** Delivers one message to the Worker's queue handler; returns whether it was acked or retried. */
async function deliver(gateway: typeof env, body: unknown) {
  const batch = createMessageBatch(BACKGROUND_QUEUE, [
    { id: `m-${crypto.randomUUID()}`, timestamp: new Date(), attempts: 1, body },
  ]);
  const ctx = createExecutionContext();
  await worker.queue(batch, gateway);
  const result = await getQueueResult(batch, ctx);
  return { acked: result.explicitAcks.length === 1, retried: result.retryMessages.length === 1 };
}

const complete = (upstream: string, id: string) =>
  fetch(`${upstream}/__fake/complete/${id}`, { method: "POST" }).then((r) => r.json());

async function polls(upstream: string, id: string) {
  return (await fakeRequests(upstream)).filter((r) => r.method === "GET" && r.url === `/v1/responses/${id}`);
}

async function usageRows(interceptionId: string, count = 1) {
  return eventually(async () => {
    const found = await rows("select * from aibridge_token_usages where interception_id = ?", interceptionId);
    expect(found).toHaveLength(count);
    return found;
  });
}

/** No record arrives later than the queue would have written one. */
async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1500));
}

describe("background polls use the instance that created the response", () => {
  it("a response created through a named instance is polled there, with its keys, and recorded once", async () => {
    const { id, interceptionId, message } = await create(named, "openai-eu");
    expect(message.body).toMatchObject({ kind: "background_poll", responseId: id, instance: "openai-eu" });
    expect(message.body.sealedByok).toBeNull();
    // The instance's keys are read by the consumer from its own configuration, never sent.
    const wire = JSON.stringify(message.body);
    for (const secret of [EU_KEY_1, EU_KEY_2, env.OPENAI_API_KEY as string])
      expect(wire).not.toContain(secret);
    const createdWith = (await fakeRequests(SECOND)).find(
      (r) => r.method === "POST" && r.url === "/v1/responses",
    )?.headers.authorization;
    expect([`Bearer ${EU_KEY_1}`, `Bearer ${EU_KEY_2}`]).toContain(createdWith);

    // Still running: polled on the second upstream and re-sent with a doubled delay.
    expect(await deliver(named, message.body)).toEqual({ acked: true, retried: false });
    const resent = sent.at(-1) as Sent;
    expect(resent.body).toMatchObject({ responseId: id, instance: "openai-eu", attempt: 1 });
    expect(resent.delaySeconds).toBe(2 * message.delaySeconds!);
    expect(await usageRows(interceptionId, 0)).toEqual([]);

    await complete(SECOND, id);
    expect(await deliver(named, resent.body)).toEqual({ acked: true, retried: false });
    const [usage] = await usageRows(interceptionId);
    expect(usage).toMatchObject({
      id: `bgusage:${id}`,
      provider_response_id: id,
      input_tokens: BACKGROUND_USAGE.input_tokens - BACKGROUND_USAGE.input_tokens_details.cached_tokens,
      cache_read_input_tokens: BACKGROUND_USAGE.input_tokens_details.cached_tokens,
      output_tokens: BACKGROUND_USAGE.output_tokens,
      estimated: 0,
    });
    expect(Number(usage?.cost_micros)).toBeGreaterThan(0);

    // Every poll went to the second upstream (none to OPENAI_BASE_URL's), and the ones it answered
    // carried the key that created the response (the other key gets a 404 and rotation moves on).
    expect(await polls(OPENAI, id)).toEqual([]);
    const secondPolls = await polls(SECOND, id);
    expect(secondPolls.length).toBeGreaterThanOrEqual(2);
    for (const poll of secondPolls)
      expect([`Bearer ${EU_KEY_1}`, `Bearer ${EU_KEY_2}`]).toContain(poll.headers.authorization);
    expect(secondPolls.some((poll) => poll.headers.authorization === createdWith)).toBe(true);

    // Redelivered, and fetched by the client through the same instance: still one record.
    expect((await deliver(named, resent.body)).acked).toBe(true);
    const fetched = await call(named, `/openai-eu/v1/responses/${id}`, {
      headers: { authorization: `Bearer ${gatewayKey}` },
    });
    expect((await fetched.json<{ status: string }>()).status).toBe("completed");
    await settle();
    expect(await usageRows(interceptionId)).toHaveLength(1);
  });

  it("a response a fallback created is polled on the fallback, not on the instance addressed", async () => {
    const { id, interceptionId, message } = await create(named, "openai-down");
    expect(message.body.instance).toBe("openai-eu");
    await complete(SECOND, id);
    expect((await deliver(named, message.body)).acked).toBe(true);
    expect(await usageRows(interceptionId)).toHaveLength(1);
    expect((await polls(SECOND, id)).length).toBeGreaterThan(0);
  });

  it("a client's GET records a finished response only when served by the instance that created it", async () => {
    // A marker (as the create leaves it) for a response the openai-eu instance created. Both fakes
    // answer any id they do not hold as a finished response with usage, so the instance check is
    // all that tells the two GETs apart.
    const { interceptionId } = await create(named, "openai-eu1");
    const id = `resp_elsewhere_${crypto.randomUUID().slice(0, 8)}`;
    const owner = {
      interceptionId,
      model: "gpt-5",
      initiatorId: "x",
      client: "Unknown",
      instance: "openai-eu",
    };
    await env.KV.put(`bgresp:${id}`, JSON.stringify(owner));
    const get = (instance: string) =>
      call(named, `/${instance}/v1/responses/${id}`, { headers: { authorization: `Bearer ${gatewayKey}` } });

    const elsewhere = await get("openai");
    expect((await elsewhere.json<{ status: string }>()).status).toBe("completed");
    await settle();
    expect(await rows("select id from aibridge_token_usages where provider_response_id = ?", id)).toEqual([]);

    expect((await (await get("openai-eu")).json<{ status: string }>()).status).toBe("completed");
    const recorded = await eventually(async () => {
      const found = await rows("select id from aibridge_token_usages where provider_response_id = ?", id);
      expect(found).toHaveLength(1);
      return found;
    });
    expect(recorded).toEqual([{ id: `bgusage:${id}` }]);
  });

  it("an Azure OpenAI instance is polled with its keys (or the user's) in the api-key header", async () => {
    const central = await create(named, "azure");
    const own = await create(named, "azure", { "api-key": FAKE_AZURE_KEYS.user });
    expect(central.message.body.instance).toBe("azure");
    expect(JSON.stringify(own.message.body)).not.toContain(FAKE_AZURE_KEYS.user);
    for (const { id, interceptionId, message } of [central, own]) {
      await complete(SECOND, id);
      expect((await deliver(named, message.body)).acked).toBe(true);
      expect(await usageRows(interceptionId)).toHaveLength(1);
    }
    const azurePolls = (id: string) =>
      fakeRequests(SECOND).then((all) =>
        all.filter((r) => r.method === "GET" && r.url === `/openai/v1/responses/${id}`),
      );
    const [centralPoll] = await azurePolls(central.id);
    expect([FAKE_AZURE_KEYS.central1, FAKE_AZURE_KEYS.central2]).toContain(centralPoll?.headers["api-key"]);
    expect(centralPoll?.headers.authorization).toBeUndefined();
    const [ownPoll] = await azurePolls(own.id);
    expect(ownPoll?.headers["api-key"]).toBe(FAKE_AZURE_KEYS.user);
  });

  it("a message from before the instance was named in it is polled on the default instance", async () => {
    const { id, interceptionId, message } = await create(plain, "openai");
    // The shape messages had then: no instance, the (central: null) credential in `byok`.
    const { instance: _instance, sealedByok: _sealed, ...rest } = message.body;
    const old = { ...rest, byok: null };
    await complete(OPENAI, id);
    expect((await deliver(plain, old)).acked).toBe(true);
    const [usage] = await usageRows(interceptionId);
    expect(usage).toMatchObject({ id: `bgusage:${id}`, output_tokens: BACKGROUND_USAGE.output_tokens });
    const [poll] = await polls(OPENAI, id);
    expect(poll?.headers.authorization).toBe(`Bearer ${env.OPENAI_API_KEY}`);
  });
});

describe("a BYOK key in the poll message is sealed", () => {
  it("the message never holds the user's key, and the poll still authenticates with it", async () => {
    captureLogs();
    const { id, interceptionId, message } = await create(named, "openai-eu", true);
    const wire = JSON.stringify(message.body);
    expect(wire).not.toContain(USER_KEY);
    expect(wire).not.toContain(btoa(USER_KEY).slice(0, 16));
    expect(message.body.byok).toBeUndefined();
    expect(message.body.sealedByok).toMatch(/^v1\.[A-Za-z0-9_-]{40,}$/);
    // A fresh random IV each time (its 12 bytes are the first 16 base64 characters after "v1."):
    // the same key sealed twice reads differently.
    const again = await create(named, "openai-eu", true);
    const iv = (sealed: string | null | undefined) => sealed?.slice(3, 19);
    expect(iv(again.message.body.sealedByok)).not.toBe(iv(message.body.sealedByok));

    // Running: polled with the user's key; the re-sent message is still sealed.
    expect((await deliver(named, message.body)).acked).toBe(true);
    const resent = sent.at(-1) as Sent;
    expect(resent.body).toMatchObject({ responseId: id, attempt: 1, sealedByok: message.body.sealedByok });
    expect(JSON.stringify(resent.body)).not.toContain(USER_KEY);

    // The fake answers 404 to any other key, so a record proves the user's key was used.
    await complete(SECOND, id);
    expect((await deliver(named, resent.body)).acked).toBe(true);
    const [usage] = await usageRows(interceptionId);
    expect(usage).toMatchObject({ id: `bgusage:${id}`, output_tokens: BACKGROUND_USAGE.output_tokens });
    const sentPolls = await polls(SECOND, id);
    expect(sentPolls).toHaveLength(2);
    for (const poll of sentPolls) expect(poll.headers.authorization).toBe(`Bearer ${USER_KEY}`);
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join("\n")).not.toContain(USER_KEY);
  });

  it("a message sealed under a secret since rotated is dropped once, with a log line and a metric", async () => {
    const { id, interceptionId, message } = await create(named, "openai-eu", true);
    await complete(SECOND, id);
    captureLogs();
    points.length = 0;
    const rotated = { ...named, REDACTION_KEY: "a-new-redaction-key-0123456789" } as typeof env;
    const sentBefore = sent.length;
    expect(await deliver(rotated, message.body)).toEqual({ acked: true, retried: false });
    // Not re-sent, not retried: nothing can open it later either.
    expect(sent).toHaveLength(sentBefore);
    expect(await polls(SECOND, id)).toEqual([]);
    const dropped = logLines.find((line) => line.includes("background_poll_dropped"));
    expect(JSON.parse(dropped as string)).toEqual({
      level: "warn",
      event: "background_poll_dropped",
      response: id,
      reason: "credential_unreadable",
    });
    expect(logLines.join("\n")).not.toContain(USER_KEY);
    expect(points.map((p) => p.blobs)).toContainEqual([
      "gateway_event",
      "background_poll_dropped",
      "credential_unreadable",
    ]);

    // A message whose sealed text was altered is dropped the same way.
    const sealed = message.body.sealedByok as string;
    const tampered = {
      ...message.body,
      sealedByok: `${sealed.slice(0, -2)}${sealed.endsWith("A") ? "B" : "A"}A`,
    };
    expect((await deliver(named, tampered)).acked).toBe(true);
    expect(await polls(SECOND, id)).toEqual([]);

    // With the secret it was sealed under, the same message still works.
    expect((await deliver(named, message.body)).acked).toBe(true);
    expect(await usageRows(interceptionId)).toHaveLength(1);
  });

  it("a message from before sealing (plain-text key) still polls, and is re-sent sealed", async () => {
    const { id, interceptionId, message } = await create(plain, "openai", true);
    const { instance: _instance, sealedByok: _sealed, ...rest } = message.body;
    const old = { ...rest, byok: { header: "authorization", value: `Bearer ${USER_KEY}` } };
    expect((await deliver(plain, old)).acked).toBe(true);
    const resent = sent.at(-1) as Sent;
    expect(resent.body).toMatchObject({ responseId: id, attempt: 1 });
    expect(resent.body.byok).toBeUndefined();
    expect(JSON.stringify(resent.body)).not.toContain(USER_KEY);

    await complete(OPENAI, id);
    expect((await deliver(plain, resent.body)).acked).toBe(true);
    expect(await usageRows(interceptionId)).toHaveLength(1);
    for (const poll of await polls(OPENAI, id)) expect(poll.headers.authorization).toBe(`Bearer ${USER_KEY}`);
  });
});

describe("a cancelled background response", () => {
  it("the cancel itself records nothing; its partial usage is recorded once, by the client's GET or the poll", async () => {
    const { id, interceptionId, message } = await create(named, "openai-eu1");
    const cancelled = await call(named, `/openai-eu1/v1/responses/${id}/cancel`, {
      method: "POST",
      headers: { authorization: `Bearer ${gatewayKey}` },
    });
    expect(cancelled.status).toBe(200);
    expect(await cancelled.json()).toMatchObject({ id, status: "cancelled", usage: CANCELLED_USAGE });
    await settle();
    expect(await usageRows(interceptionId, 0)).toEqual([]);

    // The client's own GET through the instance that created it records the partial usage.
    const tokenPoints = () => points.filter((p) => p.blobs?.[0] === "tokens").length;
    const tokensBeforeGet = tokenPoints();
    const fetched = await call(named, `/openai-eu1/v1/responses/${id}`, {
      headers: { authorization: `Bearer ${gatewayKey}` },
    });
    expect((await fetched.json<{ status: string }>()).status).toBe("cancelled");
    const [usage] = await usageRows(interceptionId);
    expect(usage).toMatchObject({
      id: `bgusage:${id}`,
      input_tokens: CANCELLED_USAGE.input_tokens,
      output_tokens: CANCELLED_USAGE.output_tokens,
    });

    expect(tokenPoints()).toBeGreaterThan(tokensBeforeGet);
    const countedByGet = tokenPoints();

    // The poll that was already queued sees it ended too: still one record, no further poll, and
    // its tokens are not counted a second time in the metrics.
    const sentBefore = sent.length;
    expect((await deliver(named, message.body)).acked).toBe(true);
    expect(sent).toHaveLength(sentBefore);
    await settle();
    expect(await usageRows(interceptionId)).toHaveLength(1);
    expect(tokenPoints()).toBe(countedByGet);
  });
});
