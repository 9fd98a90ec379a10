// biome-ignore-all lint/suspicious/noTemplateCurlyInString: PROVIDERS names secrets as ${NAME}
/**
 * OpenAI background responses on a named instance, through a real `wrangler dev` (./wrangler-dev.ts)
 * and its real delayed BACKGROUND queue: the gateway polls the upstream that created the response
 * (a second fake OpenAI on its own port), with that instance's key or the user's own (BYOK), and
 * records the usage once. The fake OpenAI answers 404 to a GET from another upstream's key, like
 * the real API, so a record proves which key the poll used.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { BACKGROUND_USAGE, startFakeOpenAI } from "../fakes/openai";
import type { FakeServer } from "../fakes/server";
import { startWranglerDev, type WranglerDev } from "./wrangler-dev";

const EU_KEY = "sk-eu-devtest-SECRET-must-never-leak-4444";
const USER_KEY = "sk-proj-USER-devtest-own-key-must-never-leak-5555";

let main: FakeServer;
let second: FakeServer;
let dev: WranglerDev;
let key: string;

beforeAll(async () => {
  [main, second] = await Promise.all([startFakeOpenAI(), startFakeOpenAI()]);
  dev = await startWranglerDev({
    vars: {
      OPENAI_BASE_URL: `${main.url}/v1`,
      // wrangler expands `${NAME}` in its env file (dotenv-expand), even in single quotes: the `$`
      // is written as JSON's \u0024, which JSON.parse turns back into `$`.
      PROVIDERS: JSON.stringify([
        { name: "openai", type: "openai", base_url: `${main.url}/v1`, key: "${OPENAI_API_KEY}" },
        { name: "openai-eu", type: "openai", base_url: `${second.url}/v1`, key: "${EU_KEY}" },
      ]).replaceAll("$", "\\u0024"),
      EU_KEY,
      BACKGROUND_POLL_FIRST_SECONDS: "1",
    },
  });
  ({ key } = await dev.createKey("background@example.com"));
});

afterAll(async () => {
  await dev?.stop();
  await Promise.all([main?.close(), second?.close()]);
});

const polls = (server: FakeServer, id: string) =>
  server.requests.filter((r) => r.method === "GET" && r.url === `/v1/responses/${id}`);

async function tokenRows(interceptionId: string) {
  return vi.waitFor(
    async () => {
      const rows = await dev.d1<Record<string, unknown>>(
        `select * from aibridge_token_usages where interception_id = '${interceptionId}'`,
      );
      if (rows.length === 0)
        throw new Error(`no token row for ${interceptionId}\n${dev.output().slice(-2000)}`);
      return rows;
    },
    { timeout: 60_000, interval: 500 },
  );
}

/** Creates a background response on openai-eu, waits for the gateway's polls, then finishes it. */
async function followed(client: OpenAI) {
  const { data: created, response } = await client.responses
    .create({ model: "gpt-5", input: "A long job", background: true })
    .withResponse();
  expect(created.status).toBe("queued");
  const interceptionId = response.headers.get("x-aibridge-interception-id") ?? "";
  await vi.waitFor(
    () => {
      if (polls(second, created.id).length < 2) throw new Error(`${polls(second, created.id).length} polls`);
    },
    { timeout: 20_000, interval: 250 },
  );
  await fetch(`${second.url}/__fake/complete/${created.id}`, { method: "POST" });
  const rows = await tokenRows(interceptionId);
  // Later polls and redeliveries would show here: one record per response.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  expect(
    await dev.d1(`select id from aibridge_token_usages where interception_id = '${interceptionId}'`),
  ).toHaveLength(1);
  return { id: created.id, usage: rows[0] };
}

describe("background responses on a named instance, through the real queue", () => {
  it("polled on the instance that created it, with its key, and recorded once", async () => {
    const client = new OpenAI({ baseURL: `${dev.url}/openai-eu/v1`, apiKey: key, maxRetries: 0 });
    const { id, usage } = await followed(client);
    expect(usage).toMatchObject({
      id: `bgusage:${id}`,
      provider_response_id: id,
      input_tokens: BACKGROUND_USAGE.input_tokens - BACKGROUND_USAGE.input_tokens_details.cached_tokens,
      cache_read_input_tokens: BACKGROUND_USAGE.input_tokens_details.cached_tokens,
      output_tokens: BACKGROUND_USAGE.output_tokens,
    });
    expect(polls(main, id)).toEqual([]);
    for (const poll of polls(second, id)) expect(poll.headers.authorization).toBe(`Bearer ${EU_KEY}`);
  });

  // What the queue message holds is checked in test/worker/background.test.ts (this local queue
  // keeps messages in memory, out of reach of a test).
  it("a BYOK key: polled with the user's key, which is in no log line and no file of the local state", async () => {
    const client = new OpenAI({
      baseURL: `${dev.url}/openai-eu/v1`,
      apiKey: USER_KEY,
      defaultHeaders: { "x-aibridge-key": key },
      maxRetries: 0,
    });
    const { id, usage } = await followed(client);
    expect(usage).toMatchObject({ id: `bgusage:${id}`, output_tokens: BACKGROUND_USAGE.output_tokens });
    expect(polls(main, id)).toEqual([]);
    for (const poll of polls(second, id)) expect(poll.headers.authorization).toBe(`Bearer ${USER_KEY}`);
    expect(dev.output()).toContain("background_response_recorded");
    expect(dev.output()).not.toContain(USER_KEY);
    // D1, KV and queue state on disk: the key was never written down.
    const files = await readdir(dev.persistTo, { recursive: true, withFileTypes: true });
    const paths = files.filter((f) => f.isFile()).map((f) => join(f.parentPath, f.name));
    expect(paths.length).toBeGreaterThan(0);
    for (const path of paths) expect((await readFile(path)).includes(USER_KEY), path).toBe(false);
  });
});
