/**
 * Bad input and injected faults: every refusal is a clear error in the provider's own shape, no
 * answer is a 5xx the provider would not have given, and D1 stays consistent (every interception
 * opened is ended exactly once). Secrets never appear in any output channel.
 */
import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import worker from "../../src/index";
import { createKey, endedInterception, eventually, fakeRequests, GATEWAY, rows } from "./helpers";

/** The fields of an Anthropic stream event these checks read. */
interface SseData {
  type: string;
  message: { usage: { input_tokens: number; output_tokens: number } };
  usage: { output_tokens: number };
  delta?: { type?: string; text?: string };
}

let key: string;
const logs: string[] = [];

beforeAll(async () => {
  ({ key } = await createKey("robust@example.com"));
  for (const level of ["log", "warn", "error", "info", "debug"] as const) {
    const original = console[level].bind(console);
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      logs.push(args.map(String).join(" "));
      original(...args);
    });
  }
});

afterAll(() => {
  vi.restoreAllMocks();
});

const anthropicHeaders = () => ({ "x-api-key": key, "content-type": "application/json" });
const openaiHeaders = () => ({ authorization: `Bearer ${key}`, "content-type": "application/json" });

function post(path: string, body: BodyInit | null, headers: Record<string, string>) {
  return SELF.fetch(`${GATEWAY}${path}`, { method: "POST", headers, body });
}

async function expectAnthropicError(response: Response, status: number, message: RegExp) {
  expect(response.status).toBe(status);
  const body = await response.json<{ type: string; error: { type: string; message: string } }>();
  expect(body.type).toBe("error");
  expect(body.error.message).toMatch(message);
}

async function expectOpenAIError(response: Response, status: number, message: RegExp) {
  expect(response.status).toBe(status);
  const body = await response.json<{
    error: { message: string; type: string; param: unknown; code: unknown };
  }>();
  expect(Object.keys(body.error).sort()).toEqual(["code", "message", "param", "type"]);
  expect(body.error.message).toMatch(message);
}

const ROUTES = [
  {
    path: "/anthropic/v1/messages",
    headers: anthropicHeaders,
    expectError: expectAnthropicError,
    upstream: "anthropicUrl" as const,
  },
  {
    path: "/openai/v1/chat/completions",
    headers: openaiHeaders,
    expectError: expectOpenAIError,
    upstream: "openaiUrl" as const,
  },
  {
    path: "/openai/v1/responses",
    headers: openaiHeaders,
    expectError: expectOpenAIError,
    upstream: "openaiUrl" as const,
  },
];

describe.each(ROUTES)("bad input on $path", ({ path, headers, expectError, upstream }) => {
  it("malformed JSON → 400", async () => {
    await expectError(await post(path, '{"model": "x", ', headers()), 400, /not valid JSON/);
  });
  it("non-JSON content type → 400", async () => {
    const response = await post(path, "model=x", {
      ...headers(),
      "content-type": "application/x-www-form-urlencoded",
    });
    await expectError(response, 400, /content-type/i);
  });
  it("empty body → 400", async () => {
    await expectError(await post(path, "", headers()), 400, /empty/);
  });
  it("invalid UTF-8 → 400", async () => {
    const bytes = new Uint8Array([...new TextEncoder().encode('{"model":"m","x":"'), 0xc3, 0x28, 0x22, 0x7d]);
    await expectError(await post(path, bytes, headers()), 400, /UTF-8/);
  });
  it("missing, empty or non-string model, or a non-object body → 400", async () => {
    await expectError(await post(path, JSON.stringify({ messages: [] }), headers()), 400, /model/);
    await expectError(await post(path, JSON.stringify({ model: "" }), headers()), 400, /model/);
    await expectError(await post(path, JSON.stringify({ model: 42 }), headers()), 400, /model/);
    await expectError(await post(path, JSON.stringify([{ model: "m" }]), headers()), 400, /object/);
    await expectError(await post(path, "null", headers()), 400, /object/);
  });
  it("a body over 32 MiB → 413, refused before it reaches the upstream", async () => {
    // This route's own upstream: a request that got through would be counted there.
    const before = (await fakeRequests(inject(upstream))).length;
    const huge = new Uint8Array(32 * 1024 * 1024 + 10).fill(0x20);
    await expectError(await post(path, huge, headers()), 413, /32 MiB/);
    // Chunked (no content-length): cut off while streaming in, not after reading it all.
    let sent = 0;
    const chunked = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > 40 * 1024 * 1024) return controller.close();
        sent += 1024 * 1024;
        controller.enqueue(new Uint8Array(1024 * 1024).fill(0x20));
      },
    });
    await expectError(await post(path, chunked, headers()), 413, /32 MiB/);
    expect((await fakeRequests(inject(upstream))).length).toBe(before);
  });
  it("stream, stream_options or background of the wrong type → 400, never relayed", async () => {
    const before = (await fakeRequests(inject(upstream))).length;
    const base = { model: "claude-sonnet-4-5", max_tokens: 5, messages: [{ role: "user", content: "hi" }] };
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ stream: "true" }, /'stream': expected a boolean, but got a string/],
      [{ stream: 1 }, /'stream': expected a boolean, but got a number/],
      [{ stream: true, stream_options: "x" }, /'stream_options': expected an object, but got a string/],
      [{ stream: true, stream_options: [] }, /'stream_options': expected an object, but got an array/],
      [{ stream: true, stream_options: { include_usage: "yes" } }, /'stream_options.include_usage'/],
      [{ background: "true" }, /'background': expected a boolean/],
    ];
    for (const [fields, message] of cases) {
      await expectError(await post(path, JSON.stringify({ ...base, ...fields }), headers()), 400, message);
    }
    expect((await fakeRequests(inject(upstream))).length).toBe(before);
  });
  it("deeply nested JSON does not crash the gateway", async () => {
    const depth = 100_000;
    const body = `{"model":"claude-sonnet-4-5","max_tokens":1,"messages":[{"role":"user","content":"hi"}],"metadata":${"[".repeat(depth)}${"]".repeat(depth)}}`;
    const response = await post(path, body, { ...headers(), "x-fake-scenario": "status-400" });
    expect(response.status).toBeLessThan(500);
  });
  it("a method the route does not take → 405 in the provider's shape", async () => {
    const response = await SELF.fetch(`${GATEWAY}${path}`, { method: "GET", headers: headers() });
    await expectError(response, 405, /not allowed/);
  });
});

describe("paths outside the allowlist", () => {
  it.each([
    "/anthropic/v1/models/..%2F..%2Fadmin%2Fv1%2Fkeys",
    "/anthropic/v1/models/%2e%2e",
    "/anthropic/v1/files",
    "/anthropic//v1/messages",
    "/anthropic/v1/messages/batches",
    "/openai/v1/files",
    "/openai/v1/batches",
    "/openai/v1/models/..%2Ffiles",
    "/openai/v1/organization/admin_api_keys",
    "//admin/v1/keys",
  ])("%s → 404 without reaching the upstream or the admin API", async (path) => {
    const before =
      (await fakeRequests(inject("anthropicUrl"))).length + (await fakeRequests(inject("openaiUrl"))).length;
    // Authenticated with a valid gateway key: the allowlist, not auth, is what refuses these.
    const response = await SELF.fetch(`${GATEWAY}${path}`, {
      headers: { "x-api-key": key, authorization: `Bearer ${key}` },
    });
    expect(response.status).toBe(404);
    const after =
      (await fakeRequests(inject("anthropicUrl"))).length + (await fakeRequests(inject("openaiUrl"))).length;
    expect(after).toBe(before);
  });
});

describe("huge header values", () => {
  const body = JSON.stringify({
    model: "claude-sonnet-4-5",
    max_tokens: 5,
    messages: [{ role: "user", content: "hi" }],
  });

  it("beyond 32 KiB in all → 431 in the provider's shape, before the upstream", async () => {
    const response = await post("/anthropic/v1/messages", body, {
      ...anthropicHeaders(),
      "x-custom": "x".repeat(40_000),
    });
    await expectAnthropicError(response, 431, /headers are larger than 32 KiB/);
    const openai = await post("/openai/v1/chat/completions", body, {
      ...openaiHeaders(),
      "x-custom": "x".repeat(40_000),
    });
    await expectOpenAIError(openai, 431, /headers are larger than 32 KiB/);
  });

  it("below that, are relayed and recorded bounded, without failing the request", async () => {
    const response = await post("/anthropic/v1/messages", body, {
      ...anthropicHeaders(),
      "user-agent": `curl/8 ${"x".repeat(6_000)}`,
      "x-claude-code-session-id": "s".repeat(3_000),
    });
    expect(response.status).toBe(200);
    const { interception } = await endedInterception(response.headers.get("x-aibridge-interception-id")!);
    expect((interception.user_agent as string).length).toBe(512);
    expect((interception.client_session_id as string).length).toBe(256);
  });
});

describe("faults", () => {
  it("an upstream that stalls mid-stream: the client gets an error event, the interception fails", async () => {
    const ctx = createExecutionContext();
    const response = await worker.fetch(
      new Request(`${GATEWAY}/anthropic/v1/messages`, {
        method: "POST",
        headers: { ...anthropicHeaders(), "x-fake-scenario": "gated", "x-fake-trace": "stall-1" },
        body: JSON.stringify({
          model: "claude-sonnet-4-5",
          max_tokens: 5,
          stream: true,
          messages: [{ role: "user", content: "hi" }],
        }),
      }),
      { ...env, UPSTREAM_IDLE_TIMEOUT_SECONDS: "1" },
      ctx,
    );
    const text = await response.text();
    await waitOnExecutionContext(ctx);
    expect(text).toContain("event: message_start");
    expect(text).toMatch(
      /event: error\ndata: \{"type":"error","error":\{"type":"api_error","message":"Upstream sent nothing for 1 s"\}\}\n\n$/,
    );
    const { interception } = await endedInterception(response.headers.get("x-aibridge-interception-id")!);
    expect(interception).toMatchObject({ status: "failed", error_type: "upstream_stalled" });
    await fetch(`${inject("anthropicUrl")}/__fake/release/stall-1`, { method: "POST" });
  });

  it("an upstream that resets the connection mid-stream: the client gets an error event, the interception fails", async () => {
    const response = await post(
      "/anthropic/v1/messages",
      JSON.stringify({
        model: "claude-sonnet-4-5",
        max_tokens: 5,
        stream: true,
        messages: [{ role: "user", content: "hi" }],
      }),
      { ...anthropicHeaders(), "x-fake-scenario": "reset-mid-stream" },
    );
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain("event: message_start");
    expect(text).toMatch(
      /event: error\ndata: \{"type":"error","error":\{"type":"api_error","message":"[^"]+"\}\}\n\n$/,
    );
    const { interception, tokens } = await endedInterception(
      response.headers.get("x-aibridge-interception-id")!,
    );
    expect(interception).toMatchObject({ status: "failed", error_type: "upstream_error" });
    // The final usage never came: message_start's exact input, output estimated from the text seen.
    const events = text
      .split("\n")
      .filter((line) => line.startsWith("data: "))
      .map((line) => JSON.parse(line.slice(6)) as SseData);
    const start = events.find((e) => e.type === "message_start")?.message.usage;
    const chars = events
      .filter((e) => e.delta?.type === "text_delta")
      .reduce((n, e) => n + String(e.delta?.text).length, 0);
    expect(chars).toBeGreaterThan(0);
    expect(tokens).toHaveLength(1);
    expect(start).toBeDefined();
    expect(tokens[0]).toMatchObject({
      input_tokens: start?.input_tokens,
      output_tokens: Math.max(start?.output_tokens ?? 0, Math.ceil(chars / 4)),
      estimated: 1,
      estimate_method: "message_start+chars/4",
    });
  });

  it("an unreachable upstream → 502 in the provider's shape, the interception ended as failed", async () => {
    const ctx = createExecutionContext();
    const response = await worker.fetch(
      new Request(`${GATEWAY}/openai/v1/chat/completions`, {
        method: "POST",
        headers: openaiHeaders(),
        body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
      }),
      { ...env, OPENAI_BASE_URL: "http://127.0.0.1:1/v1" },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    await expectOpenAIError(response, 502, /could not reach openai/);
    const { interception } = await endedInterception(response.headers.get("x-aibridge-interception-id")!);
    expect(interception).toMatchObject({ status: "failed", error_type: "upstream_unreachable" });
  });

  it("upstream 429 and 529 are relayed unchanged with retry-after, and recorded", async () => {
    for (const status of [429, 529]) {
      const response = await post(
        "/anthropic/v1/messages",
        JSON.stringify({
          model: "claude-sonnet-4-5",
          max_tokens: 5,
          messages: [{ role: "user", content: "hi" }],
        }),
        { ...anthropicHeaders(), "x-fake-scenario": `status-${status}` },
      );
      expect(response.status).toBe(status);
      expect(response.headers.get("retry-after")).toBeTruthy();
      const { interception } = await endedInterception(response.headers.get("x-aibridge-interception-id")!);
      expect(interception.status).toBe("failed");
      expect(interception.error_type).toBe(status === 429 ? "rate_limit_error" : "overloaded_error");
    }
  });
});

describe("fuzz", () => {
  it("random bodies on every bridged route get only 2xx/4xx answers and leave D1 consistent", async () => {
    let seed = 0x5eed;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
    const values = [null, true, 0, -1, 1e308, "", "x", "💥", [], {}, [1, "a"], { role: "user" }];
    const bodies: string[] = [];
    for (let i = 0; i < 60; i++) {
      const kind = random();
      if (kind < 0.25) {
        // Random bytes, usually not JSON at all.
        bodies.push(
          Array.from({ length: Math.floor(random() * 40) }, () =>
            String.fromCharCode(Math.floor(random() * 128)),
          ).join(""),
        );
      } else {
        const body: Record<string, unknown> = {};
        for (const field of [
          "model",
          "messages",
          "input",
          "stream",
          "max_tokens",
          "tools",
          "stream_options",
          "metadata",
        ]) {
          if (random() < 0.6)
            body[field] =
              field === "model" && random() < 0.7 ? pick(["claude-sonnet-4-5", "gpt-4o-mini"]) : pick(values);
        }
        bodies.push(JSON.stringify(body));
      }
    }
    const ids: string[] = [];
    for (const [i, body] of bodies.entries()) {
      const route = ROUTES[i % ROUTES.length]!;
      const response = await post(route.path, body, route.headers());
      expect(response.status, `${route.path} ${body}`).toBeGreaterThanOrEqual(200);
      expect(response.status, `${route.path} ${body}`).toBeLessThan(500);
      await response.arrayBuffer();
      const id = response.headers.get("x-aibridge-interception-id");
      if (id) ids.push(id);
    }
    expect(ids.length).toBeGreaterThan(0);
    await eventually(async () => {
      const ended = await rows<{ id: string }>(
        `select id from aibridge_interceptions where ended_at is not null and id in (${ids.map(() => "?").join(",")})`,
        ...ids,
      );
      expect(ended).toHaveLength(ids.length);
      expect(await rows("select id from aibridge_interceptions where ended_at is null")).toEqual([]);
    }, 20_000);
  }, 60_000);
});

describe("CORS", () => {
  const preflight = (origin: string) =>
    new Request(`${GATEWAY}/anthropic/v1/messages`, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "x-api-key",
      },
    });

  it("is off by default: no CORS headers, preflight not answered", async () => {
    const response = await SELF.fetch(preflight("https://evil.example"));
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    const plain = await post("/anthropic/v1/messages", "{}", {
      ...anthropicHeaders(),
      origin: "https://evil.example",
    });
    expect(plain.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("allows exactly the configured origins", async () => {
    const corsEnv = { ...env, CORS_ORIGINS: "https://app.example.com" };
    const allowed = await worker.fetch(
      preflight("https://app.example.com"),
      corsEnv,
      createExecutionContext(),
    );
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    const denied = await worker.fetch(preflight("https://evil.example"), corsEnv, createExecutionContext());
    expect(denied.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("secrets", () => {
  it("the provider keys and admin token never reach a response, a record or a log; the gateway key never goes upstream", async () => {
    const secrets = [
      env.ANTHROPIC_API_KEY as string,
      env.OPENAI_API_KEY as string,
      env.ADMIN_TOKEN as string,
    ];
    // Drive a mix of successful, failing and streaming requests first.
    const outputs: string[] = [];
    for (const scenario of ["text", "tools", "status-401", "status-500", "error-mid-stream"]) {
      for (const stream of [false, true]) {
        const response = await post(
          "/anthropic/v1/messages",
          JSON.stringify({
            model: "claude-sonnet-4-5",
            max_tokens: 5,
            stream,
            messages: [{ role: "user", content: "hi" }],
          }),
          { ...anthropicHeaders(), "x-fake-scenario": scenario },
        );
        outputs.push(JSON.stringify([...response.headers]), await response.text());
      }
    }
    const unreachable = createExecutionContext();
    const down = await worker.fetch(
      new Request(`${GATEWAY}/anthropic/v1/messages`, {
        method: "POST",
        headers: anthropicHeaders(),
        body: JSON.stringify({ model: "m", messages: [] }),
      }),
      { ...env, ANTHROPIC_BASE_URL: "http://127.0.0.1:1" },
      unreachable,
    );
    outputs.push(await down.text());
    await waitOnExecutionContext(unreachable);
    await eventually(async () =>
      expect(await rows("select id from aibridge_interceptions where ended_at is null")).toEqual([]),
    );

    // The gateway key also in the query string (bridged and passthrough): stripped, the rest kept.
    const queried = [
      ["POST", `/anthropic/v1/messages?beta=true&api_key=${key}`, anthropicHeaders()],
      ["GET", `/anthropic/v1/models?limit=1&key=${key}`, anthropicHeaders()],
      ["POST", `/openai/v1/chat/completions?x=1&token=${key}`, openaiHeaders()],
      ["GET", `/openai/v1/models?API_KEY=${key}`, openaiHeaders()],
    ] as const;
    for (const [method, path, headers] of queried) {
      const response = await SELF.fetch(`${GATEWAY}${path}`, {
        method,
        headers,
        body:
          method === "POST"
            ? JSON.stringify({ model: "gpt-4o", max_tokens: 5, messages: [{ role: "user", content: "hi" }] })
            : undefined,
      });
      expect(response.status, path).toBe(200);
      outputs.push(await response.text());
    }
    const forwardedUrls = [
      ...(await fakeRequests(inject("anthropicUrl"))),
      ...(await fakeRequests(inject("openaiUrl"))),
    ].map((r) => r.url);
    expect(forwardedUrls).toContain("/v1/messages?beta=true");
    expect(forwardedUrls).toContain("/v1/models?limit=1");
    expect(forwardedUrls).toContain("/v1/chat/completions?x=1");
    await eventually(async () =>
      expect(await rows("select id from aibridge_interceptions where ended_at is null")).toEqual([]),
    );

    // Every table the gateway writes, as D1 lists them (a new table is checked without editing this).
    const tables = (
      await rows<{ name: string }>(
        "select name from sqlite_master where type = 'table' and name not like '\\_cf\\_%' escape '\\' and name not like 'sqlite_%' and name != 'd1_migrations'",
      )
    ).map((t) => t.name);
    expect(tables).toEqual(expect.arrayContaining(["aibridge_record_parts", "aibridge_dead_letters"]));
    for (const table of tables) outputs.push(JSON.stringify(await rows(`select * from ${table}`)));
    // The spy really caught the gateway's logs (one line per interception at least).
    expect(logs.filter((line) => line.includes('"event":"interception"')).length).toBeGreaterThanOrEqual(10);
    const everything = [...outputs, ...logs].join("\n");
    for (const secret of secrets) expect(everything).not.toContain(secret);
    expect(everything).not.toContain(key);

    for (const request of [
      ...(await fakeRequests(inject("anthropicUrl"))),
      ...(await fakeRequests(inject("openaiUrl"))),
    ]) {
      expect(JSON.stringify(request)).not.toContain(key);
    }
  });
});
