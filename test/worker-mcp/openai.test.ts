/**
 * The MCP inner loop on OpenAI Chat Completions and Responses, end to end: the official `openai`
 * SDK (its stream accumulators) as client, the gateway Worker, a fake model that calls injected tools
 * (test/fakes/mcp-upstream.ts), the real MCP server, and D1 through the queue consumer.
 */
import { SELF } from "cloudflare:test";
import OpenAI from "openai";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { createKey, endedInterception, GATEWAY } from "../worker/helpers";
import { upstreamRequests } from "./helpers";

const MCP_URL = inject("mcpUrl");
const FINAL = "Tool said: Echo: hello 1 (error=false)";
let key: string;

beforeAll(async () => {
  ({ key } = await createKey("mcp-openai@example.com"));
});

function client(test: string, scenario = "call") {
  return new OpenAI({
    baseURL: `${GATEWAY}/openai/v1`,
    apiKey: key,
    maxRetries: 0,
    defaultHeaders: { "x-test-id": test, "x-fake-scenario": scenario },
    fetch: SELF.fetch.bind(SELF),
  });
}

async function raw(path: string, test: string, body: unknown, scenario = "call"): Promise<string> {
  const response = await SELF.fetch(`${GATEWAY}/openai/v1${path}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${key}`,
      "content-type": "application/json",
      "x-test-id": test,
      "x-fake-scenario": scenario,
    },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  return response.text();
}

function dataLines(stream: string): string[] {
  return stream
    .split("\n")
    .filter((line) => line.startsWith("data: "))
    .map((line) => line.slice(6));
}

const chatBody = {
  model: "gpt-4o-mini",
  messages: [{ role: "user" as const, content: "Echo hello, please." }],
};

describe("Chat Completions with injected MCP tools", () => {
  it("blocking: one completion with the final answer and summed usage; the tool call recorded in D1", async () => {
    const { data, response } = await client("c-blocking").chat.completions.create(chatBody).withResponse();
    expect(data.id).toBe("chatcmpl_iter_1");
    expect(data.choices[0]!.message.content).toBe(`Checking.${FINAL}`);
    expect(data.choices[0]!.message.tool_calls).toBeUndefined();
    expect(data.choices[0]!.finish_reason).toBe("stop");
    expect(data.usage).toMatchObject({ prompt_tokens: 300, completion_tokens: 30, total_tokens: 330 });

    const sent = await upstreamRequests("c-blocking");
    expect(sent).toHaveLength(2);
    const original = JSON.stringify(chatBody);
    expect(sent[0]!.text.startsWith(original.slice(0, -1))).toBe(true);
    const first = JSON.parse(sent[0]!.text);
    expect(first.parallel_tool_calls).toBe(false);
    expect(first.tools.map((tool: { function: { name: string } }) => tool.function.name)).toEqual([
      "bmcp_everything_echo",
      "bmcp_everything_get-sum",
    ]);
    const second = JSON.parse(sent[1]!.text);
    expect(second.messages.slice(1)).toEqual([
      {
        role: "assistant",
        content: "Checking.",
        tool_calls: [
          {
            id: "call_1",
            type: "function",
            function: { name: "bmcp_everything_echo", arguments: '{"message":"hello 1"}' },
          },
        ],
      },
      { role: "tool", tool_call_id: "call_1", content: "Echo: hello 1" },
    ]);

    const { interception, tokens, tools } = await endedInterception(
      response.headers.get("x-aibridge-interception-id")!,
    );
    expect(interception).toMatchObject({
      status: "completed",
      stop_reason: "stop",
      provider_name: "chat_completions",
    });
    expect(tokens).toHaveLength(2);
    expect(tools).toEqual([
      expect.objectContaining({
        tool: "bmcp_everything_echo",
        injected: 1,
        server_url: MCP_URL,
        invocation_error: null,
      }),
    ]);
  });

  it("streaming: the SDK accumulates one completion; one id, no injected deltas, usage only if asked", async () => {
    const stream = client("c-stream").chat.completions.stream({ ...chatBody, stream: true });
    const completion = await stream.finalChatCompletion();
    expect(completion.id).toBe("chatcmpl_iter_1");
    expect(completion.choices[0]!.message.content).toBe(`Checking.${FINAL}`);
    expect(completion.choices[0]!.message.tool_calls ?? []).toEqual([]);
    expect(completion.choices[0]!.finish_reason).toBe("stop");

    const plain = dataLines(await raw("/chat/completions", "c-stream-raw", { ...chatBody, stream: true }));
    expect(plain.filter((line) => line === "[DONE]")).toHaveLength(1);
    const chunks = plain.filter((line) => line !== "[DONE]").map((line) => JSON.parse(line));
    expect(new Set(chunks.map((chunk) => chunk.id))).toEqual(new Set(["chatcmpl_iter_1"]));
    expect(plain.join("\n")).not.toContain("bmcp_");
    // The client did not ask for usage: no usage chunk and no usage members, as a direct call.
    expect(plain.join("\n")).not.toContain('"usage"');
    expect(chunks.filter((chunk) => chunk.choices[0]?.finish_reason)).toHaveLength(1);

    const withUsage = dataLines(
      await raw("/chat/completions", "c-stream-usage", {
        ...chatBody,
        stream: true,
        stream_options: { include_usage: true },
      }),
    );
    const last = JSON.parse(withUsage[withUsage.length - 2]!);
    expect(last).toMatchObject({
      id: "chatcmpl_iter_1",
      choices: [],
      usage: { prompt_tokens: 300, completion_tokens: 30 },
    });
  });

  it("stops at the cap with finish_reason stop, and injects the same bytes every time", async () => {
    const completion = await client("c-cap", "always")
      .chat.completions.stream({ ...chatBody, stream: true })
      .finalChatCompletion();
    expect(completion.choices[0]!.message.content).toBe("Round 1.Round 2.Round 3.");
    expect(completion.choices[0]!.finish_reason).toBe("stop");
    const sent = await upstreamRequests("c-cap");
    expect(sent).toHaveLength(3);

    await client("c-stable", "none").chat.completions.create(chatBody);
    const [again] = await upstreamRequests("c-stable");
    // Same client body (plus what the stream asks for): the first iteration's bytes match exactly.
    const [blockingFirst] = await upstreamRequests("c-blocking");
    expect(again!.text).toBe(blockingFirst!.text);
  });

  it("leaves requests it cannot loop over (several choices) untouched, tools and all", async () => {
    const body = { ...chatBody, n: 2 };
    await raw("/chat/completions", "c-n2", body, "none");
    const [sent] = await upstreamRequests("c-n2");
    expect(sent!.text).toBe(JSON.stringify(body));
  });

  it("a tool error reaches the model as an error result", async () => {
    const completion = await client("c-bad", "bad-args").chat.completions.create(chatBody);
    expect(completion.choices[0]!.message.content).toMatch(/Tool said: Error: .*Invalid arguments/s);
  });
});

const responsesBody = { model: "gpt-5-codex", input: "Echo hello, please.", store: false };

describe("Responses with injected MCP tools", () => {
  it("blocking: one response, visible items from every iteration, summed usage; continuation built from items", async () => {
    const { data, response } = await client("r-blocking").responses.create(responsesBody).withResponse();
    expect(data.id).toBe("resp_iter_1");
    expect(data.output.map((item) => item.type)).toEqual(["message", "message"]);
    expect(data.output_text).toBe(`Checking.${FINAL}`);
    expect(data.usage).toMatchObject({ input_tokens: 300, output_tokens: 30, total_tokens: 330 });

    const sent = await upstreamRequests("r-blocking");
    expect(sent).toHaveLength(2);
    const first = JSON.parse(sent[0]!.text);
    expect(first.parallel_tool_calls).toBe(false);
    expect(first.tools[0]).toMatchObject({ type: "function", name: "bmcp_everything_echo", strict: false });
    const second = JSON.parse(sent[1]!.text);
    // The string input became its list form, followed by the model's items and the tool output.
    expect(second.input[0]).toEqual({ role: "user", content: "Echo hello, please." });
    expect(second.input.slice(1).map((item: { type: string }) => item.type)).toEqual([
      "message",
      "function_call",
      "function_call_output",
    ]);
    expect(second.input[3]).toEqual({
      type: "function_call_output",
      call_id: "call_1",
      output: "Echo: hello 1",
    });

    const { tools, tokens } = await endedInterception(response.headers.get("x-aibridge-interception-id")!);
    expect(tokens).toHaveLength(2);
    expect(tools).toEqual([
      expect.objectContaining({
        tool: "bmcp_everything_echo",
        injected: 1,
        server_url: MCP_URL,
        provider_tool_call_id: "call_1",
      }),
    ]);
  });

  it("streaming: the SDK's response stream accumulates one response with consistent sequence numbers", async () => {
    const stream = client("r-stream").responses.stream({
      ...responsesBody,
      input: [{ role: "user", content: "Echo hello" }],
    });
    const final = await stream.finalResponse();
    expect(final.id).toBe("resp_iter_1");
    expect(final.output.map((item) => item.type)).toEqual(["message", "message"]);
    expect(final.output_text).toBe(`Checking.${FINAL}`);
    expect(final.usage).toMatchObject({ input_tokens: 300, output_tokens: 30 });

    const text = await raw("/responses", "r-stream-raw", { ...responsesBody, stream: true });
    const events = dataLines(text).map((line) => JSON.parse(line));
    // Only the response's echo of the request's `tools` names injected tools; no item or event does.
    const { response: _echo, ...rest } = events.find((event) => event.type === "response.completed");
    expect(JSON.stringify(rest)).not.toContain("bmcp_");
    expect(JSON.stringify(events.filter((event) => !event.response))).not.toContain("bmcp_");
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events.filter((event) => event.type === "response.created")).toHaveLength(1);
    expect(events.filter((event) => event.type === "response.completed")).toHaveLength(1);
    const added = events.filter((event) => event.type === "response.output_item.added");
    expect(added.map((event) => event.output_index)).toEqual([0, 1]);
    const completed = events.find((event) => event.type === "response.completed");
    expect(completed.response.id).toBe("resp_iter_1");
    expect(JSON.stringify(completed.response.output)).not.toContain("bmcp_");
    expect(completed.response.usage).toMatchObject({ input_tokens: 300, output_tokens: 30 });
  });

  it("stops at the cap, and an unknown tool comes back as an error result", async () => {
    const capped = await client("r-cap", "always").responses.create(responsesBody);
    expect(capped.output_text).toBe("Round 1.Round 2.Round 3.");
    expect(capped.output.some((item) => item.type === "function_call")).toBe(false);
    expect(await upstreamRequests("r-cap")).toHaveLength(3);

    const unknown = await client("r-unknown", "unknown").responses.stream(responsesBody).finalResponse();
    expect(unknown.output_text).toContain("Tool said: Error: Unknown tool: bmcp_everything_nope");
  });
});
