/**
 * A fake model for the MCP inner-loop tests, speaking Anthropic Messages, OpenAI Chat Completions
 * and OpenAI Responses (blocking and streaming, shapes from the public API references). It decides
 * from the conversation, like a model would: with no tool result yet it calls an injected tool;
 * once the last turn carries a tool result it answers with that result's text. Scenarios
 * (x-fake-scenario): call (default) · always (never stops calling: the loop cap) · bad-args (a call
 * the MCP server rejects) · unknown (a bmcp_ tool that does not exist) · mixed (a client tool and an
 * injected tool in one turn) · none (plain answer) · fail-after-tool (Anthropic: 529 once a tool
 * result comes back) · garbage-after-tool (Anthropic: a 200 whose body is not JSON, and quotes a
 * key, once a tool result comes back).
 * Each iteration N has its own message id (…_iter_N) and usage (input 100·N, output 10·N), or, on
 * Anthropic with the x-fake-prompt-cache header, input and cache counts from the simulated prompt
 * cache (prompt-cache.ts).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type AnthropicCacheUsage, anthropicCacheUsage } from "./prompt-cache";
import { scenarioOf, startFakeServer, writeInPieces } from "./server";

interface Call {
  id: string;
  name: string;
  args: string;
}

interface Answer {
  iteration: number;
  text: string;
  calls: Call[];
}

// biome-ignore lint/suspicious/noExplicitAny: request bodies of three APIs, read loosely by a fake
type Json = Record<string, any>;

/** Not JSON, and it quotes a key: what a broken proxy's error page could hold. */
const GARBAGE_ANSWER = "<html>upstream said: sk-ant-api03-leaked-in-a-page</html>";

/** What the "model" says, given the tool results so far. */
function decide(scenario: string, results: { text: string; isError: boolean }[]): Answer {
  const iteration = results.length + 1;
  const last = results[results.length - 1];
  const echo = (n: number): Call => ({
    id: `call_${n}`,
    name: "bmcp_everything_echo",
    args: `{"message":"hello ${n}"}`,
  });
  if (scenario === "none") return { iteration, text: "Just text.", calls: [] };
  if (scenario === "always") return { iteration, text: `Round ${iteration}.`, calls: [echo(iteration)] };
  if (last) {
    return { iteration, text: `Tool said: ${last.text} (error=${last.isError})`, calls: [] };
  }
  if (scenario === "bad-args") {
    return {
      iteration,
      text: "Adding.",
      calls: [{ id: "call_1", name: "bmcp_everything_get-sum", args: '{"a":"x"}' }],
    };
  }
  if (scenario === "unknown") {
    return {
      iteration,
      text: "Trying.",
      calls: [{ id: "call_1", name: "bmcp_everything_nope", args: "{}" }],
    };
  }
  if (scenario === "mixed") {
    return {
      iteration,
      text: "Both.",
      calls: [{ id: "call_client", name: "get_weather", args: '{"city":"Paris"}' }, echo(1)],
    };
  }
  return { iteration, text: "Checking.", calls: [echo(1)] };
}

const sse = (event: string | null, data: unknown) =>
  `${event ? `event: ${event}\n` : ""}data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;

function halves(text: string): string[] {
  const middle = Math.ceil(text.length / 2);
  return [text.slice(0, middle), text.slice(middle)].filter((part) => part !== "");
}

// ---------- Anthropic Messages ----------

function anthropicResults(body: Json) {
  const results: { text: string; isError: boolean }[] = [];
  for (const message of body.messages ?? []) {
    if (message.role !== "user" || !Array.isArray(message.content)) continue;
    for (const block of message.content) {
      if (block.type === "tool_result") {
        const text = typeof block.content === "string" ? block.content : JSON.stringify(block.content);
        results.push({ text, isError: block.is_error === true });
      }
    }
  }
  return results;
}

function anthropicMessage(body: Json, answer: Answer, cache?: AnthropicCacheUsage) {
  const n = answer.iteration;
  return {
    id: `msg_iter_${n}`,
    type: "message",
    role: "assistant",
    model: body.model,
    content: [
      { type: "text", text: answer.text },
      ...answer.calls.map((call) => ({
        type: "tool_use",
        id: call.id,
        name: call.name,
        input: JSON.parse(call.args),
      })),
    ],
    stop_reason: answer.calls.length > 0 ? "tool_use" : "end_turn",
    stop_sequence: null,
    usage: {
      input_tokens: 100 * n,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 5,
      ...cache,
      output_tokens: 10 * n,
    },
  };
}

function anthropicStream(message: ReturnType<typeof anthropicMessage>, answer: Answer): string {
  let out = sse("message_start", {
    type: "message_start",
    message: { ...message, content: [], stop_reason: null, usage: { ...message.usage, output_tokens: 1 } },
  });
  message.content.forEach((block, index) => {
    if (block.type === "text") {
      out += sse("content_block_start", {
        type: "content_block_start",
        index,
        content_block: { type: "text", text: "" },
      });
      for (const piece of halves(answer.text)) {
        out += sse("content_block_delta", {
          type: "content_block_delta",
          index,
          delta: { type: "text_delta", text: piece },
        });
      }
    } else {
      const call = answer.calls[index - 1]!;
      out += sse("content_block_start", {
        type: "content_block_start",
        index,
        content_block: { type: "tool_use", id: call.id, name: call.name, input: {} },
      });
      for (const piece of halves(call.args)) {
        out += sse("content_block_delta", {
          type: "content_block_delta",
          index,
          delta: { type: "input_json_delta", partial_json: piece },
        });
      }
    }
    out += sse("content_block_stop", { type: "content_block_stop", index });
  });
  out += sse("message_delta", {
    type: "message_delta",
    delta: { stop_reason: message.stop_reason, stop_sequence: null },
    usage: { output_tokens: message.usage.output_tokens },
  });
  return out + sse("message_stop", { type: "message_stop" });
}

// ---------- OpenAI Chat Completions ----------

function chatResults(body: Json) {
  return (body.messages ?? [])
    .filter((message: Json) => message.role === "tool")
    .map((message: Json) => ({
      text: String(message.content),
      isError: String(message.content).startsWith("Error:"),
    }));
}

function chatCompletion(body: Json, answer: Answer) {
  const n = answer.iteration;
  return {
    id: `chatcmpl_iter_${n}`,
    object: "chat.completion",
    created: 1_700_000_000 + n,
    model: body.model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: answer.text,
          ...(answer.calls.length > 0
            ? {
                tool_calls: answer.calls.map((call) => ({
                  id: call.id,
                  type: "function",
                  function: { name: call.name, arguments: call.args },
                })),
              }
            : {}),
          refusal: null,
        },
        logprobs: null,
        finish_reason: answer.calls.length > 0 ? "tool_calls" : "stop",
      },
    ],
    usage: {
      prompt_tokens: 100 * n,
      completion_tokens: 10 * n,
      total_tokens: 110 * n,
      prompt_tokens_details: { cached_tokens: 5 },
      completion_tokens_details: { reasoning_tokens: 0 },
    },
  };
}

function chatStream(body: Json, completion: ReturnType<typeof chatCompletion>, answer: Answer): string {
  const includeUsage = body.stream_options?.include_usage === true;
  const base = {
    id: completion.id,
    object: "chat.completion.chunk",
    created: completion.created,
    model: body.model,
  };
  const chunk = (delta: Json, finish: string | null = null) =>
    sse(null, {
      ...base,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(includeUsage ? { usage: null } : {}),
    });
  let out = chunk({ role: "assistant", content: "", refusal: null });
  for (const piece of halves(answer.text)) out += chunk({ content: piece });
  answer.calls.forEach((call, index) => {
    out += chunk({
      tool_calls: [{ index, id: call.id, type: "function", function: { name: call.name, arguments: "" } }],
    });
    for (const piece of halves(call.args))
      out += chunk({ tool_calls: [{ index, function: { arguments: piece } }] });
  });
  out += chunk({}, completion.choices[0]!.finish_reason);
  if (includeUsage) out += sse(null, { ...base, choices: [], usage: completion.usage });
  return out + sse(null, "[DONE]");
}

// ---------- OpenAI Responses ----------

function responsesResults(body: Json) {
  if (!Array.isArray(body.input)) return [];
  return body.input
    .filter((item: Json) => item.type === "function_call_output")
    .map((item: Json) => ({ text: String(item.output), isError: String(item.output).startsWith("Error:") }));
}

function responseObject(body: Json, answer: Answer) {
  const n = answer.iteration;
  return {
    id: `resp_iter_${n}`,
    object: "response",
    created_at: 1_700_000_000 + n,
    status: "completed",
    model: body.model,
    output: [
      {
        type: "message",
        id: `msg_iter_${n}`,
        status: "completed",
        role: "assistant",
        content: [{ type: "output_text", text: answer.text, annotations: [] }],
      },
      ...answer.calls.map((call) => ({
        type: "function_call",
        id: `fc_${call.id}`,
        call_id: call.id,
        name: call.name,
        arguments: call.args,
        status: "completed",
      })),
    ],
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    tools: body.tools ?? [],
    usage: {
      input_tokens: 100 * n,
      input_tokens_details: { cached_tokens: 5 },
      output_tokens: 10 * n,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 110 * n,
    },
  };
}

function responsesStream(response: ReturnType<typeof responseObject>, answer: Answer): string {
  let seq = 0;
  const event = (type: string, data: Json) => sse(type, { type, sequence_number: seq++, ...data });
  const pending = { ...response, status: "in_progress", output: [], usage: null };
  let out = event("response.created", { response: pending });
  out += event("response.in_progress", { response: pending });
  response.output.forEach((item, output_index) => {
    if (item.type === "message") {
      out += event("response.output_item.added", {
        output_index,
        item: { ...item, status: "in_progress", content: [] },
      });
      const part = { type: "output_text", text: "", annotations: [] };
      out += event("response.content_part.added", { item_id: item.id, output_index, content_index: 0, part });
      for (const delta of halves(answer.text)) {
        out += event("response.output_text.delta", {
          item_id: item.id,
          output_index,
          content_index: 0,
          delta,
        });
      }
      out += event("response.output_text.done", {
        item_id: item.id,
        output_index,
        content_index: 0,
        text: answer.text,
      });
      out += event("response.content_part.done", {
        item_id: item.id,
        output_index,
        content_index: 0,
        part: { ...part, text: answer.text },
      });
    } else {
      const call = item as Json;
      out += event("response.output_item.added", {
        output_index,
        item: { ...call, arguments: "", status: "in_progress" },
      });
      for (const delta of halves(call.arguments)) {
        out += event("response.function_call_arguments.delta", { item_id: call.id, output_index, delta });
      }
      out += event("response.function_call_arguments.done", {
        item_id: call.id,
        output_index,
        arguments: call.arguments,
      });
    }
    out += event("response.output_item.done", { output_index, item });
  });
  return out + event("response.completed", { response });
}

// ---------- server ----------

/** Streams tagged with x-fake-trace: whether the fake wrote their last byte (GET /__mcp/sent/<trace>). */
const sent = new Map<string, boolean>();

async function handle(request: IncomingMessage, raw: Buffer, response: ServerResponse): Promise<void> {
  const url = new URL(request.url ?? "/", "http://fake");
  if (request.method === "GET" && url.pathname.startsWith("/__mcp/sent/")) {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify({ completed: sent.get(url.pathname.slice("/__mcp/sent/".length)) ?? null }));
    return;
  }
  const body = JSON.parse(raw.toString("utf8")) as Json;
  const scenario = scenarioOf(request);
  const trace = request.headers["x-fake-trace"] as string | undefined;
  const stream = async (text: string) => {
    response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    if (trace) sent.set(trace, false);
    // Small pieces: chunk boundaries fall inside events, as they do on real networks. With
    // x-fake-slow the pieces come 25 ms apart, so a client can hang up mid-stream.
    await writeInPieces(
      response,
      text,
      request.headers["x-fake-slow"] ? 16 : [7, 31, 64],
      request.headers["x-fake-slow"] ? 25 : 0,
    );
    response.end();
    if (trace) sent.set(trace, true);
  };
  const json = (value: unknown) => {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify(value));
  };
  if (url.pathname === "/v1/messages") {
    if (scenario === "fail-after-tool" && anthropicResults(body).length > 0) {
      response.writeHead(529, { "content-type": "application/json" });
      response.end('{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}');
      return;
    }
    if (scenario === "garbage-after-tool" && anthropicResults(body).length > 0) {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(GARBAGE_ANSWER);
      return;
    }
    const answer = decide(scenario, anthropicResults(body));
    const clock = String(request.headers["x-fake-clock"] ?? "default");
    const cache = request.headers["x-fake-prompt-cache"] ? anthropicCacheUsage(body, clock) : undefined;
    const message = anthropicMessage(body, answer, cache);
    return body.stream ? stream(anthropicStream(message, answer)) : json(message);
  }
  if (url.pathname === "/v1/chat/completions") {
    const answer = decide(scenario, chatResults(body));
    const completion = chatCompletion(body, answer);
    return body.stream ? stream(chatStream(body, completion, answer)) : json(completion);
  }
  if (url.pathname === "/v1/responses") {
    const answer = decide(scenario, responsesResults(body));
    const object = responseObject(body, answer);
    return body.stream ? stream(responsesStream(object, answer)) : json(object);
  }
  response.writeHead(404, { "content-type": "application/json" });
  response.end('{"error":{"message":"not found"}}');
}

/** Serves Anthropic at / (…/v1/messages) and OpenAI at /v1 (…/v1/chat/completions, …/v1/responses). */
export const startMcpUpstream = (port?: number) => startFakeServer(handle, port);
