/**
 * The OpenAI bridge end to end: the official `openai` SDK (and raw fetch where bytes matter) →
 * the Worker → the fake OpenAI server on 127.0.0.1 → records through the real Queue into local D1.
 *
 * Every test marks its requests with a unique `x-test-id` (to find what the fake received) and a
 * unique `session-id` (to find its interception in D1), so tests never depend on each other's rows.
 */
import { env, SELF } from "cloudflare:test";
import OpenAI from "openai";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { UsageChunkRemover, withIncludeUsage } from "../../src/providers/openai/include-usage";
import {
  createKey,
  decodeBase64,
  endedInterception,
  eventually,
  fakeRequests,
  GATEWAY,
  rows,
} from "./helpers";

const FAKE = inject("openaiUrl");
const CENTRAL_KEY = env.OPENAI_API_KEY as string;
const TEXT = "Hello from the fake upstream — café ☕.";

let key: string;
beforeAll(async () => {
  ({ key } = await createKey("olivia@example.com"));
});

let counter = 0;
function ids(name: string) {
  counter += 1;
  return {
    test: `${name}-${counter}-${crypto.randomUUID()}`,
    session: `sess-${name}-${counter}-${crypto.randomUUID()}`,
  };
}

function sdk(id: { test: string; session: string }, headers: Record<string, string> = {}) {
  return new OpenAI({
    baseURL: `${GATEWAY}/openai/v1`,
    apiKey: key,
    fetch: SELF.fetch.bind(SELF),
    maxRetries: 0,
    defaultHeaders: { "x-test-id": id.test, "session-id": id.session, ...headers },
  });
}

/** A raw call through the gateway: the exact body bytes given, the gateway key in Bearer. */
function viaGateway(path: string, body: string, headers: Record<string, string> = {}, method = "POST") {
  return SELF.fetch(`${GATEWAY}/openai/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...headers },
    body: method === "GET" || method === "DELETE" ? undefined : body,
  });
}

/** The same call straight to the fake, which is what a client without the gateway would get. */
function direct(path: string, body: string, headers: Record<string, string> = {}) {
  return fetch(`${FAKE}/v1${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers, "x-test-id": "direct" },
    body,
  });
}

async function bytesOf(response: Response): Promise<string> {
  return new TextDecoder().decode(await response.arrayBuffer());
}

/** What the fake received for a test: method, url, headers, exact body text. */
async function upstream(testId: string) {
  const all = await fakeRequests(FAKE);
  return all
    .filter((request) => request.headers["x-test-id"] === testId)
    .map((request) => ({ ...request, body: new TextDecoder().decode(decodeBase64(request.bodyBase64)) }));
}

async function interceptionOf(session: string) {
  const row = await eventually(async () => {
    const [found] = await rows<{ id: string }>(
      "select id from aibridge_interceptions where client_session_id = ? and ended_at is not null",
      session,
    );
    if (!found) throw new Error(`no ended interception for ${session}`);
    return found;
  });
  return endedInterception(row.id);
}

/** Records reach D1 through the real queue (about a second per batch); some tests wait for several. */
const QUEUE_TESTS_TIMEOUT = 30_000;

const extra = (row: Record<string, unknown> | undefined) =>
  JSON.parse(String(row?.extra_token_types ?? "null"));

const WEATHER_TOOLS = [
  {
    type: "function" as const,
    function: {
      name: "get_weather",
      parameters: { type: "object", properties: { city: { type: "string" } } },
    },
  },
  {
    type: "function" as const,
    function: { name: "get_time", parameters: { type: "object", properties: {} } },
  },
];

describe("chat completions", { timeout: QUEUE_TESTS_TIMEOUT }, () => {
  it("blocking: relayed byte for byte, prompt and usage recorded, the gateway key never leaves", async () => {
    const id = ids("chat-blocking");
    const body = JSON.stringify({
      model: "gpt-4o-mini",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: [{ type: "text", text: "What is the weather in Paris?" }] },
      ],
      temperature: 0.2,
    });
    const response = await viaGateway("/chat/completions", body, {
      "x-test-id": id.test,
      "session-id": id.session,
    });
    expect(response.status).toBe(200);
    expect(await bytesOf(response)).toBe(await bytesOf(await direct("/chat/completions", body)));

    const [sent] = await upstream(id.test);
    expect(sent?.url).toBe("/v1/chat/completions");
    expect(sent?.body).toBe(body);
    expect(sent?.headers.authorization).toBe(`Bearer ${CENTRAL_KEY}`);
    expect(JSON.stringify(sent?.headers)).not.toContain(key);

    const { interception, tokens, prompts, tools } = await interceptionOf(id.session);
    expect(interception).toMatchObject({
      provider: "openai",
      provider_name: "chat_completions",
      model: "gpt-4o-mini",
      status: "completed",
      stop_reason: "stop",
      streaming: 0,
      credential_kind: "centralized",
      initiator_id: "olivia@example.com",
    });
    expect(tokens).toHaveLength(1);
    expect(tokens[0]).toMatchObject({
      provider_response_id: "chatcmpl-fake0001",
      input_tokens: 50,
      output_tokens: 9,
      cache_read_input_tokens: 0,
      cache_write_input_tokens: 0,
    });
    expect(prompts.map((p) => p.prompt)).toEqual(["What is the weather in Paris?"]);
    expect(tools).toHaveLength(0);
  });

  it("the SDK's blocking call works and is attributed to the SDK", async () => {
    const id = ids("chat-sdk");
    const completion = await sdk(id).chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Hi" }],
    });
    expect(completion.choices[0]?.message.content).toBe(TEXT);
    const { interception, prompts } = await interceptionOf(id.session);
    expect(interception.client).toBe("OpenAI SDK (JS)");
    expect(prompts[0]?.prompt).toBe("Hi");
  });

  it("streaming without include_usage: the gateway asks for usage, the client sees exactly the direct stream", async () => {
    const id = ids("chat-stream");
    const body =
      '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Say hi"}],"n":1}';
    const response = await viaGateway("/chat/completions", body, {
      "x-test-id": id.test,
      "session-id": id.session,
    });
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const relayed = await bytesOf(response);
    const directly = await bytesOf(await direct("/chat/completions", body));
    expect(relayed).toBe(directly);
    expect(relayed).not.toContain("usage");
    expect(relayed).toContain("café ☕");
    expect(relayed.endsWith("data: [DONE]\n\n")).toBe(true);

    // Only the flag was added, at the end: everything before it is the client's bytes.
    const [sent] = await upstream(id.test);
    expect(sent?.body).toBe(`${body.slice(0, -1)},"stream_options":{"include_usage":true}}`);

    const { interception, tokens } = await interceptionOf(id.session);
    expect(interception).toMatchObject({ status: "completed", stop_reason: "stop", streaming: 1 });
    expect(tokens).toHaveLength(1);
    expect(tokens[0]).toMatchObject({ input_tokens: 50, output_tokens: 9 });
  });

  it("streaming with include_usage: the body and the stream are untouched", async () => {
    const id = ids("chat-stream-usage");
    const body = JSON.stringify({
      model: "gpt-4o-mini",
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: "Say hi" }],
    });
    const response = await viaGateway("/chat/completions", body, {
      "x-test-id": id.test,
      "session-id": id.session,
    });
    const relayed = await bytesOf(response);
    expect(relayed).toBe(await bytesOf(await direct("/chat/completions", body)));
    expect(relayed).toContain('"usage":null');
    expect(relayed).toContain('"choices":[],"usage":{"prompt_tokens":50');
    const [sent] = await upstream(id.test);
    expect(sent?.body).toBe(body);
    const { tokens } = await interceptionOf(id.session);
    expect(tokens[0]).toMatchObject({ input_tokens: 50, output_tokens: 9 });
  });

  it("stream_options with other fields, pretty-printed: only include_usage is spliced in", async () => {
    const id = ids("chat-stream-options");
    const body = `{
  "model": "gpt-4o-mini",
  "stream_options": { "include_obfuscation": false },
  "messages": [ { "role": "user", "content": "Say hi" } ],
  "stream": true
}`;
    const response = await viaGateway("/chat/completions", body, {
      "x-test-id": id.test,
      "session-id": id.session,
    });
    expect(await bytesOf(response)).toBe(await bytesOf(await direct("/chat/completions", body)));
    const [sent] = await upstream(id.test);
    expect(sent?.body).toBe(
      body.replace('"include_obfuscation": false }', '"include_obfuscation": false ,"include_usage":true}'),
    );
    const { tokens } = await interceptionOf(id.session);
    expect(tokens[0]).toMatchObject({ input_tokens: 50, output_tokens: 9 });
  });

  it("splices include_usage into every shape of body, leaving the rest of the bytes alone", () => {
    const splice = (text: string) => {
      const out = withIncludeUsage(JSON.parse(text), new TextEncoder().encode(text));
      return out && new TextDecoder().decode(out);
    };
    expect(splice('{"model":"m","stream":true}')).toBe(
      '{"model":"m","stream":true,"stream_options":{"include_usage":true}}',
    );
    expect(splice('{"model":"m","stream":true,"stream_options":{"include_usage":false}}')).toBe(
      '{"model":"m","stream":true,"stream_options":{"include_usage":true}}',
    );
    expect(splice('{"model":"m","stream":true,"stream_options":null} ')).toBe(
      '{"model":"m","stream":true,"stream_options":{"include_usage":true}} ',
    );
    expect(splice('{"stream_options":{},"model":"m","stream":true}')).toBe(
      '{"stream_options":{"include_usage":true},"model":"m","stream":true}',
    );
    // A key inside a string, or nested deeper, is not the member.
    expect(
      splice('{"model":"m","messages":[{"role":"user","content":"\\"stream_options\\":{}"}],"stream":true}'),
    ).toBe(
      '{"model":"m","messages":[{"role":"user","content":"\\"stream_options\\":{}"}],"stream":true,"stream_options":{"include_usage":true}}',
    );
    // Nothing to do: not streaming, or the client already asked.
    expect(splice('{"model":"m"}')).toBeNull();
    expect(splice('{"model":"m","stream":true,"stream_options":{"include_usage":true}}')).toBeNull();
  });

  it("removes what include_usage added from any chunking and line-ending style", () => {
    const withUsage =
      ': keep-alive\n\ndata: {"id":"c","choices":[{"index":0,"delta":{"content":"é"}}],"usage":null,"obfuscation":"x"}\n\n' +
      'data: {"usage":null,"id":"c","choices":[]}\n\n' +
      'data: {"id":"c","choices":[],"usage":{"prompt_tokens":1}}\n\ndata: [DONE]\n\n';
    const expected =
      ': keep-alive\n\ndata: {"id":"c","choices":[{"index":0,"delta":{"content":"é"}}],"obfuscation":"x"}\n\n' +
      'data: {"id":"c","choices":[]}\n\ndata: [DONE]\n\n';
    for (const lineEnd of ["\n", "\r\n", "\r"]) {
      const bytes = new TextEncoder().encode(withUsage.replaceAll("\n", lineEnd));
      for (const size of [1, 2, 5, 17, bytes.length]) {
        const remover = new UsageChunkRemover();
        let out = "";
        for (let i = 0; i < bytes.length; i += size)
          out += remover.clientBytes(bytes.subarray(i, i + size)) ?? "";
        out += remover.clientTail() ?? "";
        expect(out, `${JSON.stringify(lineEnd)} in pieces of ${size}`).toBe(
          expected.replaceAll("\n", lineEnd),
        );
      }
    }
  });

  it("parallel tool calls streamed in pieces: finalChatCompletion() assembles them, D1 has every call", async () => {
    const id = ids("chat-tools-stream");
    const stream = sdk(id, { "x-fake-scenario": "tools" }).chat.completions.stream({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Weather in Paris and time in Tokyo?" }],
      tools: WEATHER_TOOLS,
    });
    const final = await stream.finalChatCompletion();
    const calls = final.choices[0]?.message.tool_calls ?? [];
    expect(
      calls.map((call) =>
        call.type === "function" ? [call.id, call.function.name, call.function.arguments] : null,
      ),
    ).toEqual([
      ["call_weather_paris", "get_weather", '{"city":"Paris","unit":"c"}'],
      ["call_time_tokyo", "get_time", '{"tz":"Asia/Tokyo"}'],
    ]);
    expect(final.usage).toBeUndefined();

    const { interception, tools, tokens } = await interceptionOf(id.session);
    expect(interception).toMatchObject({ status: "completed", stop_reason: "tool_calls" });
    expect(tools.map((t) => [t.provider_tool_call_id, t.tool, t.input, t.provider_response_id])).toEqual([
      ["call_weather_paris", "get_weather", '{"city":"Paris","unit":"c"}', "chatcmpl-fake0001"],
      ["call_time_tokyo", "get_time", '{"tz":"Asia/Tokyo"}', "chatcmpl-fake0001"],
    ]);
    expect(tokens[0]).toMatchObject({ input_tokens: 50, output_tokens: 40 });
  });

  it("blocking tool calls and a tool-result turn: every call recorded, the turn correlated", async () => {
    const id = ids("chat-tools-blocking");
    const client = sdk(id, { "x-fake-scenario": "tools" });
    const completion = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Weather and time?" }],
      tools: WEATHER_TOOLS,
    });
    expect(completion.choices[0]?.message.tool_calls).toHaveLength(2);
    const { tools } = await interceptionOf(id.session);
    expect(tools.map((t) => t.tool)).toEqual(["get_weather", "get_time"]);

    const next = ids("chat-tool-result");
    await sdk(next).chat.completions.create({
      model: "gpt-4o-mini",
      messages: [
        { role: "user", content: "Weather and time?" },
        { role: "assistant", content: null, tool_calls: completion.choices[0]?.message.tool_calls },
        { role: "tool", tool_call_id: "call_weather_paris", content: "21°C" },
        { role: "tool", tool_call_id: "call_time_tokyo", content: "09:00" },
      ],
    });
    const second = await interceptionOf(next.session);
    expect(second.interception.correlating_tool_call_id).toBe("call_time_tokyo");
    expect(second.prompts).toHaveLength(0);
  });

  it("reasoning, cached, audio and prediction tokens: input excludes cache, extras kept", async () => {
    for (const stream of [false, true]) {
      const id = ids(`chat-reasoning-${stream}`);
      const client = sdk(id, { "x-fake-scenario": "reasoning" });
      if (stream) {
        const chunks = await client.chat.completions.create({
          model: "o4-mini",
          stream: true,
          messages: [{ role: "user", content: "Think" }],
        });
        for await (const chunk of chunks) expect("usage" in chunk).toBe(false);
      } else {
        const completion = await client.chat.completions.create({
          model: "o4-mini",
          messages: [{ role: "user", content: "Think" }],
        });
        expect(completion.usage?.prompt_tokens).toBe(1200);
      }
      const { tokens } = await interceptionOf(id.session);
      expect(tokens[0]).toMatchObject({
        input_tokens: 176,
        cache_read_input_tokens: 1024,
        output_tokens: 300,
      });
      expect(extra(tokens[0])).toEqual({
        reasoning: 256,
        input_audio: 5,
        output_audio: 7,
        accepted_prediction: 11,
        rejected_prediction: 3,
      });
      expect(JSON.parse(String(tokens[0]?.raw_usage)).prompt_tokens_details.cached_tokens).toBe(1024);
    }
  });

  it("a mid-stream error is relayed as OpenAI sends it and fails the interception", async () => {
    const id = ids("chat-midstream");
    const body = '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Hi"}]}';
    const headers = { "x-test-id": id.test, "session-id": id.session, "x-fake-scenario": "midstream-error" };
    const relayed = await bytesOf(await viaGateway("/chat/completions", body, headers));
    expect(relayed).toBe(
      await bytesOf(await direct("/chat/completions", body, { "x-fake-scenario": "midstream-error" })),
    );
    expect(relayed).toContain('data: {"error":{"message":"The server had an error');
    const { interception } = await interceptionOf(id.session);
    expect(interception).toMatchObject({ status: "failed", error_type: "server_error" });

    const sdkId = ids("chat-midstream-sdk");
    const chunks = await sdk(sdkId, { "x-fake-scenario": "midstream-error" }).chat.completions.create({
      model: "gpt-4o-mini",
      stream: true,
      messages: [{ role: "user", content: "Hi" }],
    });
    await expect(
      (async () => {
        for await (const _ of chunks) {
          // consume
        }
      })(),
    ).rejects.toThrow(/server had an error/);
  });
});

const RESPONSE_TOOLS = [
  {
    type: "function" as const,
    name: "get_weather",
    parameters: { type: "object", properties: {} },
    strict: false,
  },
  { type: "web_search" as const },
];

async function expectToolsResponseRecorded(session: string, streaming: number) {
  const { interception, tokens, tools, thoughts, prompts } = await interceptionOf(session);
  expect(interception).toMatchObject({
    provider: "openai",
    provider_name: "responses",
    status: "completed",
    stop_reason: "completed",
    streaming,
  });
  expect(tokens).toHaveLength(1);
  expect(tokens[0]).toMatchObject({
    provider_response_id: "resp_fake0001",
    input_tokens: 808,
    cache_read_input_tokens: 8192,
    output_tokens: 500,
  });
  expect(extra(tokens[0])).toEqual({ reasoning: 320 });
  expect(tools.map((t) => [t.tool, t.provider_tool_call_id, t.input])).toEqual([
    ["web_search_call", "ws_fake0001", '{"action":{"type":"search","query":"weather paris"}}'],
    ["get_weather", "call_weather_paris", '{"city":"Paris","unit":"c"}'],
    ["mcp__repo.read_file", "call_read_readme", '{"path":"README.md"}'],
    ["apply_patch", "call_patch_1", "*** Begin Patch\n*** End Patch"],
  ]);
  expect(thoughts.map((t) => [t.content, t.source])).toEqual([
    ["**Planning** I should check the weather first.", "reasoning_summary"],
    ["Then look at the repository.", "reasoning_summary"],
  ]);
  return { prompts };
}

describe("responses", { timeout: QUEUE_TESTS_TIMEOUT }, () => {
  it("blocking with function calls, reasoning summaries and cached tokens", async () => {
    const id = ids("resp-blocking");
    const { data, response } = await sdk(id, { "x-fake-scenario": "tools" })
      .responses.create({ model: "gpt-5", input: "Plan the trip", tools: RESPONSE_TOOLS })
      .withResponse();
    expect(response.headers.get("x-aibridge-interception-id")).toBeTruthy();
    expect(data.output.map((item) => item.type)).toEqual([
      "reasoning",
      "web_search_call",
      "function_call",
      "function_call",
      "custom_tool_call",
    ]);
    const { prompts } = await expectToolsResponseRecorded(id.session, 0);
    expect(prompts.map((p) => p.prompt)).toEqual(["Plan the trip"]);
  });

  it("streaming: byte for byte as direct, the SDK's finalResponse() is whole, every item recorded", async () => {
    const id = ids("resp-stream");
    const stream = sdk(id, { "x-fake-scenario": "tools" }).responses.stream({
      model: "gpt-5",
      input: [{ role: "user", content: [{ type: "input_text", text: "Plan the trip" }] }],
      tools: RESPONSE_TOOLS,
    });
    const argumentDeltas: string[] = [];
    stream.on("response.function_call_arguments.delta", (event) => argumentDeltas.push(event.delta));
    const final = await stream.finalResponse();
    expect(argumentDeltas.join("")).toBe('{"city":"Paris","unit":"c"}{"path":"README.md"}');
    expect(final.usage?.input_tokens_details.cached_tokens).toBe(8192);
    const { prompts } = await expectToolsResponseRecorded(id.session, 1);
    expect(prompts.map((p) => p.prompt)).toEqual(["Plan the trip"]);

    const raw = ids("resp-stream-raw");
    const body = JSON.stringify({ model: "gpt-5", input: "Plan the trip", stream: true });
    const headers = { "x-fake-scenario": "tools" };
    const relayed = await bytesOf(
      await viaGateway("/responses", body, { ...headers, "x-test-id": raw.test }),
    );
    expect(relayed).toBe(await bytesOf(await direct("/responses", body, headers)));
    expect((await upstream(raw.test))[0]?.body).toBe(body);
  });

  it("a Codex-shaped request (~40 KB) goes upstream byte for byte and is recorded", async () => {
    const id = ids("codex");
    const instructions = `You are Codex, a coding agent.\n${"Follow the repository conventions. ".repeat(900)}`;
    const codexBody = {
      model: "gpt-5-codex",
      instructions,
      input: [
        {
          type: "message",
          role: "developer",
          content: [
            {
              type: "input_text",
              text: "<permissions instructions>sandbox: workspace-write</permissions instructions>",
            },
          ],
        },
        {
          type: "message",
          role: "user",
          content: [
            { type: "input_text", text: "<environment_context><cwd>/repo</cwd></environment_context>" },
          ],
        },
        { type: "message", role: "user", content: [{ type: "input_text", text: "fix the failing test" }] },
      ],
      tools: [
        {
          type: "function",
          name: "shell",
          description: "Runs a shell command.",
          strict: false,
          parameters: {
            type: "object",
            properties: { command: { type: "array", items: { type: "string" } } },
          },
        },
        {
          type: "namespace",
          name: "mcp__repo",
          description: "Repository tools",
          tools: [{ type: "function", name: "read_file", parameters: { type: "object", properties: {} } }],
        },
        { type: "web_search", external_web_access: false },
        {
          type: "custom",
          name: "apply_patch",
          format: { type: "grammar", syntax: "lark", definition: "start: /.+/" },
        },
      ],
      tool_choice: "auto",
      parallel_tool_calls: false,
      reasoning: { effort: "medium", summary: "auto" },
      store: false,
      stream: true,
      include: ["reasoning.encrypted_content"],
      prompt_cache_key: id.session,
      text: { verbosity: "low" },
    };
    const body = JSON.stringify(codexBody);
    expect(body.length).toBeGreaterThan(30_000);
    const codexHeaders = {
      accept: "text/event-stream",
      originator: "codex_exec",
      "user-agent": "codex_exec/0.55.0 (Debian 12.0.0; x86_64) vitest",
      "session-id": id.session,
      "thread-id": id.session,
      "x-client-request-id": id.session,
      "x-codex-beta-features": "unified_exec",
      "x-fake-scenario": "tools",
      "x-test-id": id.test,
    };
    const response = await viaGateway("/responses", body, codexHeaders);
    expect(response.status).toBe(200);
    const relayed = await bytesOf(response);
    expect(relayed).toBe(await bytesOf(await direct("/responses", body, { "x-fake-scenario": "tools" })));
    expect(relayed).toContain('"encrypted_content":"gAAAAABfake-encrypted=="');

    const [sent] = await upstream(id.test);
    expect(sent?.body).toBe(body);
    expect(sent?.url).toBe("/v1/responses");
    expect(sent?.headers).toMatchObject({
      authorization: `Bearer ${CENTRAL_KEY}`,
      originator: "codex_exec",
      "session-id": id.session,
      "x-client-request-id": id.session,
      "x-codex-beta-features": "unified_exec",
      accept: "text/event-stream",
    });

    const { prompts } = await expectToolsResponseRecorded(id.session, 1);
    const { interception, thoughts } = await interceptionOf(id.session);
    expect(interception.client).toBe("Codex");
    expect(prompts.map((p) => p.prompt)).toEqual(["fix the failing test"]);
    expect(thoughts.some((t) => String(t.content).includes("gAAAA"))).toBe(false);

    // The second turn resends history plus the call and its output: correlated, no new prompt.
    const turn2 = ids("codex-turn2");
    const body2 = JSON.stringify({
      ...codexBody,
      prompt_cache_key: turn2.session,
      input: [
        ...codexBody.input,
        {
          type: "function_call",
          name: "get_weather",
          arguments: '{"city":"Paris","unit":"c"}',
          call_id: "call_weather_paris",
        },
        { type: "function_call_output", call_id: "call_weather_paris", output: "21°C" },
      ],
    });
    const second = await viaGateway("/responses", body2, {
      ...codexHeaders,
      "session-id": turn2.session,
      "x-test-id": turn2.test,
    });
    await second.arrayBuffer();
    expect((await upstream(turn2.test))[0]?.body).toBe(body2);
    const recorded = await interceptionOf(turn2.session);
    expect(recorded.interception.correlating_tool_call_id).toBe("call_weather_paris");
    expect(recorded.prompts).toHaveLength(0);
  });

  it("previous_response_id, store:false and include are relayed untouched", async () => {
    const id = ids("resp-previous");
    const body = JSON.stringify({
      model: "gpt-5",
      previous_response_id: "resp_earlier_1",
      store: false,
      include: ["reasoning.encrypted_content"],
      input: "and then?",
    });
    const response = await viaGateway("/responses", body, { "x-test-id": id.test, "session-id": id.session });
    const json = (await response.json()) as { previous_response_id: string; store: boolean };
    expect(json).toMatchObject({ previous_response_id: "resp_earlier_1", store: false });
    expect((await upstream(id.test))[0]?.body).toBe(body);
    const { interception, tokens, prompts } = await interceptionOf(id.session);
    expect(interception).toMatchObject({ status: "completed", stop_reason: "completed" });
    expect(tokens[0]).toMatchObject({ input_tokens: 40, output_tokens: 8 });
    expect(prompts[0]?.prompt).toBe("and then?");
  });

  it("background: true answers at once; recorded as completed with stop reason queued and no usage yet", async () => {
    const id = ids("resp-background");
    const created = await sdk(id).responses.create({ model: "gpt-5", input: "Long job", background: true });
    expect(created.status).toBe("queued");
    const { interception, tokens, prompts } = await interceptionOf(id.session);
    expect(interception).toMatchObject({ status: "completed", stop_reason: "queued" });
    expect(tokens).toHaveLength(0);
    expect(prompts[0]?.prompt).toBe("Long job");
  });

  it("response.failed, response.incomplete and error events end the interception accordingly", async () => {
    const body = JSON.stringify({ model: "gpt-5", input: "Hi", stream: true });
    const cases = [
      { scenario: "failed", expected: { status: "failed", error_type: "server_error" }, tokens: 0 },
      {
        scenario: "incomplete",
        expected: { status: "completed", stop_reason: "max_output_tokens" },
        tokens: 1,
      },
      // No terminal event, so no usage from the provider: an estimate, marked as such.
      { scenario: "error-event", expected: { status: "failed", error_type: "server_error" }, tokens: 1 },
    ];
    for (const { scenario, expected, tokens: tokenRows } of cases) {
      const id = ids(`resp-${scenario}`);
      const headers = { "x-fake-scenario": scenario };
      const relayed = await bytesOf(
        await viaGateway("/responses", body, { ...headers, "session-id": id.session }),
      );
      expect(relayed).toBe(await bytesOf(await direct("/responses", body, headers)));
      const { interception, tokens } = await interceptionOf(id.session);
      expect(interception, scenario).toMatchObject(expected);
      expect(tokens, scenario).toHaveLength(tokenRows);
      if (scenario === "error-event") expect(tokens[0]).toMatchObject({ estimated: 1 });
      if (scenario === "incomplete") expect(tokens[0]).toMatchObject({ estimated: 0, estimate_method: null });
    }
    // The SDK surfaces the failure to its user, so nothing was lost in the relay.
    const failing = sdk(ids("resp-failed-sdk"), { "x-fake-scenario": "error-event" }).responses.stream({
      model: "gpt-5",
      input: "Hi",
    });
    await expect(failing.finalResponse()).rejects.toThrow(/Stream interrupted by the fake/);
  });

  it("a stream cut short mid-arguments still records the calls assembled from the deltas", async () => {
    const id = ids("resp-truncated");
    const body = JSON.stringify({ model: "gpt-5", input: "Hi", stream: true });
    const response = await viaGateway("/responses", body, {
      "x-fake-scenario": "truncated",
      "session-id": id.session,
    });
    const relayed = await response.text();
    const { tools, thoughts, tokens } = await interceptionOf(id.session);
    expect(tools.map((t) => [t.tool, t.input])).toEqual([
      ["web_search_call", '{"action":{"type":"search","query":"weather paris"}}'],
      ["get_weather", '{"city":"Paris","unit":"c"}'],
    ]);
    expect(thoughts).toHaveLength(2);
    // The usage never came: estimated from the request's text ("Hi") and the deltas streamed.
    const deltaChars = relayed
      .split("\n")
      .filter((line) => line.startsWith("data: "))
      .map((line) => JSON.parse(line.slice(6)) as { delta?: unknown })
      .reduce((n, event) => n + (typeof event.delta === "string" ? event.delta.length : 0), 0);
    expect(deltaChars).toBeGreaterThan(0);
    expect(tokens).toHaveLength(1);
    expect(tokens[0]).toMatchObject({
      input_tokens: 1,
      output_tokens: Math.ceil(deltaChars / 4),
      estimated: 1,
      estimate_method: "request_chars/4+chars/4",
    });
  });
});

describe("errors", { timeout: QUEUE_TESTS_TIMEOUT }, () => {
  const openaiShape = {
    error: { message: expect.any(String), type: "invalid_request_error", param: null, code: null },
  };

  it("bad JSON, a non-JSON content-type and a missing model are 400s in OpenAI's shape", async () => {
    const bad = [
      viaGateway("/chat/completions", '{"model":"gpt-4o-mini",'),
      viaGateway("/responses", "model=gpt-5", { "content-type": "text/plain" }),
      viaGateway("/chat/completions", '{"messages":[]}'),
      viaGateway("/responses", "[]"),
    ];
    for (const response of await Promise.all(bad)) {
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual(openaiShape);
    }
    const sdkError = await sdk(ids("sdk-400"))
      .chat.completions.create({ messages: [{ role: "user", content: "x" }] } as never)
      .catch((error: unknown) => error);
    expect(sdkError).toBeInstanceOf(OpenAI.BadRequestError);
  });

  it("a body over 32 MiB is a 413 in OpenAI's shape", async () => {
    const huge = `{"model":"gpt-5","input":"${"a".repeat(32 * 1024 * 1024)}"}`;
    const response = await viaGateway("/responses", huge);
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({
      error: { type: "invalid_request_error", code: "request_too_large" },
    });
  });

  it("upstream errors are relayed unchanged, headers included, and fail the interception", async () => {
    const body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]}';
    const expectations = [
      ["error-400", 400, "invalid_request_error"],
      ["error-401", 401, "invalid_request_error"],
      ["error-429", 429, "requests"],
      ["error-500", 500, "server_error"],
    ] as const;
    for (const [scenario, status, errorType] of expectations) {
      const id = ids(scenario);
      const relayed = await viaGateway("/chat/completions", body, {
        "x-fake-scenario": scenario,
        "session-id": id.session,
      });
      const directly = await direct("/chat/completions", body, { "x-fake-scenario": scenario });
      expect(relayed.status).toBe(status);
      expect(await relayed.text()).toBe(await directly.text());
      expect(relayed.headers.get("x-request-id")).toBe("req_fake_openai");
      if (status === 429) {
        expect(relayed.headers.get("retry-after")).toBe("0");
        expect(relayed.headers.get("x-ratelimit-remaining-requests")).toBe("0");
      }
      const { interception } = await interceptionOf(id.session);
      expect(interception).toMatchObject({ status: "failed", error_type: errorType });
    }
    const limited = await sdk(ids("sdk-429"), { "x-fake-scenario": "error-429" })
      .responses.create({ model: "gpt-5", input: "Hi" })
      .catch((error: unknown) => error);
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
  });

  it("an unreachable upstream is a 502 in OpenAI's shape, recorded as failed", async () => {
    const id = ids("hangup");
    const response = await viaGateway("/responses", '{"model":"gpt-5","input":"Hi"}', {
      "x-fake-scenario": "hangup",
      "session-id": id.session,
    });
    expect(response.status).toBe(502);
    expect(await response.json()).toMatchObject({
      error: { type: "server_error", code: "upstream_unreachable" },
    });
    const { interception } = await interceptionOf(id.session);
    expect(interception).toMatchObject({ status: "failed", error_type: "upstream_unreachable" });
  });

  it("wrong methods on bridged routes are 405; no key is 401, both in OpenAI's shape", async () => {
    for (const [method, path] of [
      ["GET", "/chat/completions"],
      ["PUT", "/responses"],
    ]) {
      const response = await viaGateway(path!, "{}", {}, method);
      expect(response.status, `${method} ${path}`).toBe(405);
      expect(await response.json()).toMatchObject({
        error: { type: "invalid_request_error", code: "method_not_allowed" },
      });
    }
    const anonymous = await SELF.fetch(`${GATEWAY}/openai/v1/responses`, { method: "POST", body: "{}" });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: { code: "invalid_api_key" } });
  });
});

describe("passthrough allowlist", { timeout: QUEUE_TESTS_TIMEOUT }, () => {
  it("models, stored responses and conversations reach the upstream with the provider key", async () => {
    const id = ids("passthrough");
    const h = { "x-test-id": id.test };
    const calls: [string, string, string, number][] = [
      ["GET", "/models", "/v1/models", 200],
      [
        "GET",
        "/models/ft:gpt-4o-mini:acme:custom:abc123",
        "/v1/models/ft:gpt-4o-mini:acme:custom:abc123",
        200,
      ],
      [
        "GET",
        "/responses/resp_abc?include[]=file_search_call.results",
        "/v1/responses/resp_abc?include[]=file_search_call.results",
        200,
      ],
      ["DELETE", "/responses/resp_abc", "/v1/responses/resp_abc", 200],
      ["GET", "/responses/resp_abc/input_items?limit=5", "/v1/responses/resp_abc/input_items?limit=5", 200],
      ["POST", "/responses/resp_abc/cancel", "/v1/responses/resp_abc/cancel", 200],
      ["POST", "/conversations", "/v1/conversations", 200],
      ["GET", "/conversations/conv_1/items?order=asc", "/v1/conversations/conv_1/items?order=asc", 200],
    ];
    for (const [method, path, , status] of calls) {
      const response = await viaGateway(path, "{}", h, method);
      expect(response.status, `${method} ${path}`).toBe(status);
    }
    const sent = await upstream(id.test);
    expect(sent.map((r) => [r.method, r.url])).toEqual(calls.map(([method, , url]) => [method, url]));
    for (const request of sent) expect(request.headers.authorization).toBe(`Bearer ${CENTRAL_KEY}`);

    const models = await sdk(ids("sdk-models")).models.list();
    expect(models.data[0]?.id).toBe("gpt-4o-mini");
  });

  it("everything else under /openai is 404 in OpenAI's shape and never reaches the upstream", async () => {
    const id = ids("not-allowed");
    const h = { "x-test-id": id.test };
    const denied: [string, string][] = [
      ["GET", "/files"],
      ["POST", "/files"],
      ["POST", "/batches"],
      ["POST", "/embeddings"],
      ["GET", "/fine_tuning/jobs"],
      ["GET", "/organization/users"],
      ["POST", "/models"],
      ["GET", "/responses/resp_abc/other"],
      ["GET", "/models/..%2Ffiles"],
      ["GET", "/conversations/..%2F..%2Ffiles"],
      ["POST", "/chat/completions/abc"],
    ];
    for (const [method, path] of denied) {
      const response = await viaGateway(path, "{}", h, method);
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(await response.json()).toMatchObject({
        error: { type: "invalid_request_error", code: "not_found" },
      });
    }
    const outside = await SELF.fetch(`${GATEWAY}/openai/v2/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}` },
    });
    expect(outside.status).toBe(404);
    expect(await upstream(id.test)).toEqual([]);
  });
});

describe("credentials", { timeout: QUEUE_TESTS_TIMEOUT }, () => {
  it("BYOK: the user's own key goes upstream, the record keeps only a masked hint", async () => {
    const id = ids("byok");
    const own = "sk-proj-user-own-key-abcdefghijklmnop1234";
    const client = new OpenAI({
      baseURL: `${GATEWAY}/openai/v1`,
      apiKey: own,
      fetch: SELF.fetch.bind(SELF),
      maxRetries: 0,
      defaultHeaders: { "x-aibridge-key": key, "x-test-id": id.test, "session-id": id.session },
    });
    await client.responses.create({ model: "gpt-5", input: "mine" });
    const [sent] = await upstream(id.test);
    expect(sent?.headers.authorization).toBe(`Bearer ${own}`);
    expect(sent?.headers["x-aibridge-key"]).toBeUndefined();
    const { interception } = await interceptionOf(id.session);
    expect(interception.credential_kind).toBe("byok");
    expect(interception.credential_hint).toMatch(/…1234$/);
    const stored = JSON.stringify(
      await rows(
        "select * from aibridge_interceptions i left join aibridge_token_usages t on t.interception_id = i.id",
      ),
    );
    expect(stored).not.toContain(own);
    expect(stored).not.toContain(CENTRAL_KEY);
    expect(stored).not.toContain(key);
  });
});
