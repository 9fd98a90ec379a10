/**
 * The MCP inner loop on Anthropic Messages, end to end: the official SDK as client, the gateway
 * Worker, a fake model that calls injected tools (test/fakes/mcp-upstream.ts), the real MCP server
 * (server-everything), and D1 through the real queue consumer.
 */

import { env, SELF } from "cloudflare:test";
import Anthropic from "@anthropic-ai/sdk";
import { beforeAll, describe, expect, inject, it, vi } from "vitest";
import type { Env } from "../../src/config";
import { getMcpConfig } from "../../src/mcp/config";
import { type CacheEntry, cacheKey } from "../../src/mcp/tools";
import { createKey, endedInterception, GATEWAY, rows } from "../worker/helpers";
import { upstreamRequests } from "./helpers";

const MCP_URL = inject("mcpUrl");
let key: string;

beforeAll(async () => {
  ({ key } = await createKey("mcp-user@example.com"));
});

function client(test: string, scenario = "call") {
  return new Anthropic({
    baseURL: `${GATEWAY}/anthropic`,
    apiKey: key,
    maxRetries: 0,
    defaultHeaders: { "x-test-id": test, "x-fake-scenario": scenario },
    fetch: SELF.fetch.bind(SELF),
  });
}

const question = (model = "claude-sonnet-4-5") => ({
  model,
  max_tokens: 256,
  messages: [{ role: "user" as const, content: "Say hello through the echo tool." }],
});

function texts(content: Anthropic.ContentBlock[]): string[] {
  return content.flatMap((block) => (block.type === "text" ? [block.text] : []));
}

describe("Anthropic Messages with injected MCP tools", () => {
  it("blocking: runs the tool, continues upstream, answers once with summed usage; D1 has it all", async () => {
    const { data: message, response } = await client("a-blocking").messages.create(question()).withResponse();
    expect(texts(message.content)).toEqual(["Checking.", "Tool said: Echo: hello 1 (error=false)"]);
    expect(message.content.some((block) => block.type === "tool_use")).toBe(false);
    expect(message.id).toBe("msg_iter_1");
    expect(message.stop_reason).toBe("end_turn");
    expect(message.usage).toMatchObject({
      input_tokens: 300,
      output_tokens: 30,
      cache_read_input_tokens: 10,
    });

    const sent = await upstreamRequests("a-blocking");
    expect(sent).toHaveLength(2);
    // First call: the client's bytes, with only tools and tool_choice added at the end.
    const original = JSON.stringify(question());
    expect(sent[0]!.text.startsWith(original.slice(0, -1))).toBe(true);
    const first = JSON.parse(sent[0]!.text);
    expect(first.tools.map((tool: { name: string }) => tool.name)).toEqual([
      "bmcp_everything_echo",
      "bmcp_everything_get-sum",
    ]);
    expect(first.tool_choice).toEqual({ type: "auto", disable_parallel_tool_use: true });
    // Second call: the first body plus the assistant turn and the tool result.
    const second = JSON.parse(sent[1]!.text);
    expect(second.messages.slice(1)).toEqual([
      {
        role: "assistant",
        content: [
          { type: "text", text: "Checking." },
          { type: "tool_use", id: "call_1", name: "bmcp_everything_echo", input: { message: "hello 1" } },
        ],
      },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "call_1", content: "Echo: hello 1" }] },
    ]);

    const id = response.headers.get("x-aibridge-interception-id")!;
    const { interception, tokens, tools } = await endedInterception(id);
    expect(interception).toMatchObject({ status: "completed", stop_reason: "end_turn" });
    expect(tokens.map((row) => [row.provider_response_id, row.input_tokens, row.output_tokens])).toEqual([
      ["msg_iter_1", 100, 10],
      ["msg_iter_2", 200, 20],
    ]);
    expect(tools).toHaveLength(1);
    expect(tools[0]).toMatchObject({
      tool: "bmcp_everything_echo",
      server_url: MCP_URL,
      input: '{"message":"hello 1"}',
      injected: 1,
      invocation_error: null,
      provider_tool_call_id: "call_1",
      provider_response_id: "msg_iter_1",
    });
  });

  it("never puts the MCP header secret in records, logs or responses", async () => {
    const secret = env.MCP_TEST_TOKEN as string;
    const lines: string[] = [];
    for (const level of ["log", "warn", "error"] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void lines.push(args.join(" ")));
    }
    try {
      const ok = await client("a-secret").messages.create(question()).withResponse();
      const failing = await client("a-secret-2", "bad-args").messages.create(question()).withResponse();
      const answers = JSON.stringify([ok.data, failing.data]);
      for (const response of [ok.response, failing.response]) {
        await endedInterception(response.headers.get("x-aibridge-interception-id")!);
      }
      const tables = await rows<{ name: string }>(
        "select name from sqlite_master where type = 'table' and name like 'aibridge_%'",
      );
      const stored = await Promise.all(tables.map(({ name }) => rows(`select * from ${name}`)));
      expect(JSON.stringify(stored)).toContain("bmcp_everything_get-sum"); // the records are there…
      expect(JSON.stringify(stored)).not.toContain(secret); // …without the secret
      expect(lines.join("\n")).not.toContain(secret);
      expect(answers).not.toContain(secret);
    } finally {
      vi.restoreAllMocks();
    }
  });

  it("injects byte-identical tools (after the client's own) on every request", async () => {
    const body = {
      ...question(),
      tools: [
        {
          name: "get_weather",
          description: "Weather",
          input_schema: { type: "object" as const, properties: {} },
        },
      ],
      tool_choice: { type: "auto" as const },
    };
    await client("a-stable-1", "none").messages.create(body);
    await client("a-stable-2", "none").messages.create(body);
    const [one] = await upstreamRequests("a-stable-1");
    const [two] = await upstreamRequests("a-stable-2");
    expect(one!.text).toBe(two!.text);
    const sent = JSON.parse(one!.text);
    expect(sent.tools.map((tool: { name: string }) => tool.name)).toEqual([
      "get_weather",
      "bmcp_everything_echo",
      "bmcp_everything_get-sum",
    ]);
    expect(sent.tool_choice).toEqual({ type: "auto", disable_parallel_tool_use: true });
    // Only the tools array and tool_choice changed: everything before them is the client's bytes.
    const original = JSON.stringify(body);
    expect(one!.text.startsWith(original.slice(0, original.indexOf("}]") + 2 - 1))).toBe(true);
    // The tool set the down server would add is simply absent; the request went on.
    expect(one!.text).not.toContain("bmcp_down_");
  });

  it("streaming: one coherent message for the SDK, injected tool_use hidden, pings while the tool runs", async () => {
    const stream = client("a-stream").messages.stream(question());
    const events: string[] = [];
    stream.on("streamEvent", (event) => events.push(event.type));
    const message = await stream.finalMessage();
    expect(texts(message.content)).toEqual(["Checking.", "Tool said: Echo: hello 1 (error=false)"]);
    expect(message.content).toHaveLength(2);
    expect(message.id).toBe("msg_iter_1");
    expect(message.stop_reason).toBe("end_turn");
    expect(message.usage).toMatchObject({
      input_tokens: 300,
      output_tokens: 30,
      cache_read_input_tokens: 10,
    });
    expect(events.filter((type) => type === "message_start")).toHaveLength(1);
    expect(events.filter((type) => type === "message_stop")).toHaveLength(1);

    // The raw bytes too: contiguous indexes, a ping, and no trace of the injected call.
    const raw = await (
      await SELF.fetch(`${GATEWAY}/anthropic/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": key, "content-type": "application/json", "x-test-id": "a-stream-raw" },
        body: JSON.stringify({ ...question(), stream: true }),
      })
    ).text();
    expect(raw).not.toContain("bmcp_");
    expect(raw).toContain("event: ping");
    const starts = [...raw.matchAll(/"type":"content_block_start","index":(\d+)/g)].map((m) => Number(m[1]));
    expect(starts).toEqual([0, 1]);

    const id = (await upstreamRequests("a-stream-raw")).length;
    expect(id).toBe(2);
  });

  it("stops at MCP_MAX_ITERATIONS, ends the answer cleanly and records why", async () => {
    const stream = client("a-cap", "always").messages.stream(question());
    const message = await stream.finalMessage();
    expect(texts(message.content)).toEqual(["Round 1.", "Round 2.", "Round 3."]);
    expect(message.stop_reason).toBe("end_turn");
    expect(message.content.some((block) => block.type === "tool_use")).toBe(false);
    expect(await upstreamRequests("a-cap")).toHaveLength(3);

    const response = await client("a-cap-blocking", "always").messages.create(question()).withResponse();
    expect(texts(response.data.content)).toEqual(["Round 1.", "Round 2.", "Round 3."]);
    const { interception, tools, tokens } = await endedInterception(
      response.response.headers.get("x-aibridge-interception-id")!,
    );
    expect(interception).toMatchObject({ status: "completed", stop_reason: "mcp_iteration_cap" });
    expect(tokens).toHaveLength(3);
    expect(tools.map((row) => row.invocation_error)).toEqual([
      null,
      null,
      expect.stringContaining("limit of 3"),
    ]);
  });

  it("feeds tool errors and unknown tools back to the model as error results", async () => {
    const bad = await client("a-bad-args", "bad-args").messages.create(question()).withResponse();
    expect(texts(bad.data.content)[1]).toMatch(/^Tool said: .*Invalid arguments.*\(error=true\)$/s);
    const badRecord = await endedInterception(bad.response.headers.get("x-aibridge-interception-id")!);
    expect(badRecord.tools[0]).toMatchObject({
      tool: "bmcp_everything_get-sum",
      injected: 1,
      server_url: MCP_URL,
    });
    expect(badRecord.tools[0]!.invocation_error).toContain("Invalid arguments");

    const unknown = await client("a-unknown", "unknown").messages.stream(question()).finalMessage();
    expect(texts(unknown.content)[1]).toBe("Tool said: Unknown tool: bmcp_everything_nope (error=true)");
  });

  it("an upstream error after a tool ran reaches the client (status, or error event) and fails the interception", async () => {
    const blocking = await SELF.fetch(`${GATEWAY}/anthropic/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": key, "content-type": "application/json", "x-fake-scenario": "fail-after-tool" },
      body: JSON.stringify(question()),
    });
    expect(blocking.status).toBe(529);
    expect(await blocking.json()).toMatchObject({ type: "error", error: { type: "overloaded_error" } });
    const record = await endedInterception(blocking.headers.get("x-aibridge-interception-id")!);
    expect(record.interception).toMatchObject({ status: "failed", error_type: "overloaded_error" });
    expect(record.tools).toEqual([expect.objectContaining({ injected: 1, invocation_error: null })]);

    const stream = client("a-fail-stream", "fail-after-tool").messages.stream(question());
    await expect(stream.finalMessage()).rejects.toThrow(/Overloaded/);
  });

  it("a continuation that is not JSON is relayed as sent; the record names the error, never the body", async () => {
    const response = await SELF.fetch(`${GATEWAY}/anthropic/v1/messages`, {
      method: "POST",
      headers: {
        "x-api-key": key,
        "content-type": "application/json",
        "x-fake-scenario": "garbage-after-tool",
      },
      body: JSON.stringify(question()),
    });
    expect(response.status).toBe(200);
    const body = await response.text();
    expect(body).toContain("sk-ant-api03-leaked-in-a-page");
    const record = await endedInterception(response.headers.get("x-aibridge-interception-id")!);
    expect(record.interception).toMatchObject({
      status: "failed",
      error_type: "unparseable_response",
      error_message: "The upstream's body is not valid JSON (SyntaxError).",
    });
    expect(record.tools).toEqual([expect.objectContaining({ injected: 1, invocation_error: null })]);
    expect(JSON.stringify(record)).not.toContain("leaked-in-a-page");
  });

  it("a turn mixing a client tool and an injected tool goes to the client without the injected call", async () => {
    const message = await client("a-mixed", "mixed").messages.stream(question()).finalMessage();
    expect(message.stop_reason).toBe("tool_use");
    expect(message.content.map((block) => (block.type === "tool_use" ? block.name : block.type))).toEqual([
      "text",
      "get_weather",
    ]);
    expect(await upstreamRequests("a-mixed")).toHaveLength(1);
  });

  it("skips injection for models matching MCP_SKIP_MODELS: the upstream gets the client's bytes", async () => {
    const body = JSON.stringify(question("claude-haiku-4-5"));
    const response = await SELF.fetch(`${GATEWAY}/anthropic/v1/messages`, {
      method: "POST",
      headers: {
        "x-api-key": key,
        "content-type": "application/json",
        "x-test-id": "a-skip",
        "x-fake-scenario": "none",
      },
      body,
    });
    expect(response.status).toBe(200);
    const [sent] = await upstreamRequests("a-skip");
    expect(sent!.text).toBe(body);
  });

  it("a client that disconnects mid-loop: the upstream is drained and recorded, no further iteration starts", async () => {
    const response = await SELF.fetch(`${GATEWAY}/anthropic/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": key, "content-type": "application/json", "x-test-id": "a-disconnect" },
      body: JSON.stringify({ ...question(), stream: true }),
    });
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain("event: message_start");
    await reader.cancel();
    const { interception, tokens, tools } = await endedInterception(
      response.headers.get("x-aibridge-interception-id")!,
    );
    expect(interception.status).toBe("client_disconnected");
    // The first message's final usage (from its last events, read after the client left).
    expect(tokens.map((row) => [row.provider_response_id, row.output_tokens])).toEqual([["msg_iter_1", 10]]);
    expect(tools).toHaveLength(0);
    expect(await upstreamRequests("a-disconnect")).toHaveLength(1);
  });

  it("uses a cached tool list without contacting its MCP server (which is down)", async () => {
    const down = getMcpConfig(env as unknown as Env).servers.find((server) => server.name === "down")!;
    const entry: CacheEntry = {
      checkedAt: Date.now(),
      tools: [
        { name: "lookup", description: "From the cache", inputSchema: { type: "object", properties: {} } },
      ],
    };
    await env.KV.put(cacheKey(down), JSON.stringify(entry));
    const warn = vi.spyOn(console, "warn");
    await client("a-cached", "none").messages.create(question());
    const [sent] = await upstreamRequests("a-cached");
    expect(JSON.parse(sent!.text).tools.map((tool: { name: string }) => tool.name)).toContain(
      "bmcp_down_lookup",
    );
    // Contacting the down server would fail, be logged and rewrite the cache entry with the error
    // (falling back to the same cached tools, so the request alone cannot tell). Neither happened.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const unavailable = warn.mock.calls
      .map((args) => String(args[0]))
      .filter((line) => line.includes("mcp_server_unavailable") && line.includes('"server":"down"'));
    warn.mockRestore();
    expect(unavailable).toEqual([]);
    expect(await env.KV.get<CacheEntry>(cacheKey(down), "json")).toEqual(entry);
  });
});
