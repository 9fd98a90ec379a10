/**
 * Edge cases an outside probe found (issue 13), inside workerd with the fake upstreams: hop-by-hop
 * headers, a client's own GET of a finished background response, out-of-range admin dates, and
 * prompts whose stored text and preview used to disagree (a leading NUL, lone surrogates). The
 * transport cases (Expect, the drain bound, the gateway's own polling) run over real TCP in
 * test/node/billed-edges.test.ts.
 */
import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, inject, it } from "vitest";
import worker from "../../src/index";
import { BACKGROUND_USAGE } from "../fakes/openai";
import { admin, createKey, endedInterception, eventually, fakeRequests, GATEWAY, rows } from "./helpers";

let key: string;
const USER = "edges@example.com";

beforeAll(async () => {
  ({ key } = await createKey(USER));
});

function anthropic(body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return SELF.fetch(`${GATEWAY}/anthropic/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": key, "content-type": "application/json", ...headers },
    body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 5, ...body }),
  });
}

describe("hop-by-hop headers (RFC 9110 §7.6.1)", () => {
  it("headers named in Connection, Forwarded, Via, Expect, TE, Trailer and Upgrade are not forwarded", async () => {
    const trace = crypto.randomUUID();
    const response = await anthropic(
      { messages: [{ role: "user", content: "hi" }] },
      {
        connection: "keep-alive, x-hop-secret",
        "x-hop-secret": "only-for-the-next-hop",
        forwarded: "for=192.0.2.60;proto=http",
        via: "1.1 corporate-proxy",
        te: "trailers",
        trailer: "x-checksum",
        upgrade: "h2c",
        expect: "100-continue",
        "x-kept": "yes",
        "x-fake-trace": trace,
      },
    );
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    const sent = (await fakeRequests(inject("anthropicUrl"))).find(
      (r) => r.headers["x-fake-trace"] === trace,
    );
    expect(sent?.headers["x-kept"]).toBe("yes");
    for (const name of ["x-hop-secret", "forwarded", "via", "te", "trailer", "upgrade", "expect"]) {
      expect(sent?.headers[name], name).toBeUndefined();
    }
  });
});

describe("background responses: a client's own GET records the finished response once", () => {
  it("records its usage against the creating interception when the client fetches it finished", async () => {
    // Created with no BACKGROUND queue, so the gateway's own polling stays out of this test.
    const ctx = createExecutionContext();
    const createdResponse = await worker.fetch(
      new Request(`${GATEWAY}/openai/v1/responses`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-5", input: "A long job", background: true }),
      }),
      { ...env, BACKGROUND: undefined },
      ctx,
    );
    const created = await createdResponse.json<{ id: string; status: string }>();
    await waitOnExecutionContext(ctx);
    expect(created.status).toBe("queued");
    const interceptionId = createdResponse.headers.get("x-aibridge-interception-id")!;
    expect((await endedInterception(interceptionId)).tokens).toEqual([]);

    const get = () =>
      SELF.fetch(`${GATEWAY}/openai/v1/responses/${created.id}`, {
        headers: { authorization: `Bearer ${key}` },
      });
    const running = await get();
    expect((await running.json<{ status: string }>()).status).toBe("queued");

    await fetch(`${inject("openaiUrl")}/__fake/complete/${created.id}`, { method: "POST" });
    const finished = await get();
    expect((await finished.json<{ status: string }>()).status).toBe("completed");
    const [usage] = await eventually(async () => {
      const found = await rows(
        "select * from aibridge_token_usages where interception_id = ?",
        interceptionId,
      );
      expect(found).toHaveLength(1);
      return found;
    });
    expect(usage).toMatchObject({
      id: `bgusage:${created.id}`,
      provider_response_id: created.id,
      input_tokens: BACKGROUND_USAGE.input_tokens - BACKGROUND_USAGE.input_tokens_details.cached_tokens,
      cache_read_input_tokens: BACKGROUND_USAGE.input_tokens_details.cached_tokens,
      output_tokens: BACKGROUND_USAGE.output_tokens,
      extra_token_types: JSON.stringify({ reasoning: 100 }),
      estimated: 0,
    });

    // Fetched again: still one record. A finished response the gateway did not create: none.
    await (await get()).arrayBuffer();
    const other = await SELF.fetch(`${GATEWAY}/openai/v1/responses/resp_not_ours`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect((await other.json<{ status: string }>()).status).toBe("completed");
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(
      await rows("select id from aibridge_token_usages where interception_id = ?", interceptionId),
    ).toHaveLength(1);
    expect(
      await rows("select id from aibridge_token_usages where provider_response_id = 'resp_not_ours'"),
    ).toEqual([]);
  });
});

describe("admin dates out of range", () => {
  it("are a 400 naming the parameter, not a 500", async () => {
    for (const query of [
      "/usage?from=99999999999d",
      "/usage?from=7d&to=9999999999999999",
      "/usage?from=99999999h",
      "/interceptions?from=99999999999d",
    ]) {
      const response = await admin(query);
      expect(response.status, query).toBe(400);
      expect(await response.json<{ error: string }>(), query).toMatchObject({
        error: expect.stringMatching(/out of range/),
      });
    }
    expect((await admin("/usage?from=7d&to=9999-12-31")).status).toBe(200);
  });
});

describe("stored text and its preview agree", () => {
  it("a prompt starting with NUL is stored whole and previewed whole; lone surrogates are stored as U+FFFD", async () => {
    const cases = [
      { sent: "\u0000hidden behind a NUL", stored: "\u0000hidden behind a NUL" },
      {
        sent: "lone \ud800 high and \udc00 low, a pair 🌍 kept",
        stored: "lone \ufffd high and \ufffd low, a pair 🌍 kept",
      },
      {
        sent: `${"\u0000".repeat(3)}${"é".repeat(2100)}`,
        stored: `${"\u0000".repeat(3)}${"é".repeat(2100)}`,
      },
    ];
    for (const { sent, stored } of cases) {
      const response = await anthropic({ messages: [{ role: "user", content: sent }] });
      expect(response.status).toBe(200);
      const id = response.headers.get("x-aibridge-interception-id")!;
      const { prompts } = await endedInterception(id);
      expect(prompts[0]?.prompt).toBe(stored);

      const detail = await (await admin(`/interceptions/${id}`)).json<{ prompts: { prompt: string }[] }>();
      expect(detail.prompts[0]?.prompt).toBe(stored);
      const list = await (await admin(`/interceptions?user=${encodeURIComponent(USER)}&limit=50`)).json<{
        interceptions: { id: string; prompt: string; prompt_truncated: boolean }[];
      }>();
      const item = list.interceptions.find((i) => i.id === id);
      expect(item?.prompt).toBe(stored.slice(0, 2000));
      expect(item?.prompt_truncated).toBe(stored.length > 2000);
    }
  });
});
