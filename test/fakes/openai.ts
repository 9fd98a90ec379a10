/**
 * A fake OpenAI API (Chat Completions and Responses, blocking and streaming), written from the
 * public API reference. Output is deterministic (fixed ids and timestamps), so a test can compare a
 * stream relayed by the gateway with a direct call byte for byte.
 *
 * Like the real API, chat streams with `stream_options.include_usage` put `"usage":null` on every
 * chunk and end with a usage-only chunk (`"choices":[]`) before `data: [DONE]`. Streams are written
 * in odd-sized pieces so network chunks end mid-event and mid-UTF-8 character.
 *
 * Scenarios (x-fake-scenario): default (text), tools (parallel tool calls / function calls with
 * reasoning), reasoning (reasoning, cached, audio and prediction tokens), error-400|401|429|500,
 * midstream-error, failed, incomplete, error-event, truncated (Responses), hangup (socket destroyed: an
 * unreachable upstream), slow (a 2 s chat stream; GET /__fake/sent/{x-fake-trace} says whether it was
 * written to the end), echo (the model "repeats" the last user text: in a tool call's arguments
 * and, for Responses, in its reasoning summary; for tests of what gets recorded).
 *
 * Background responses (`background: true`, not streamed) get their own id (`resp_bg_N`) and stay
 * `queued`, then `in_progress` on the next GET, until POST /__fake/complete/{id}; from then on
 * GET /v1/responses/{id} shows them completed with BACKGROUND_USAGE. Like the real API, a stored
 * response belongs to the key that created it: GET and cancel with another key, or on another fake
 * server (another upstream), answer 404. POST /v1/responses/{id}/cancel ends one as `cancelled`
 * with the partial CANCELLED_USAGE.
 *
 * Azure OpenAI's v1 API: the same API under `/openai/v1/…` (https://{resource}.openai.azure.com
 * /openai/v1), where a request must carry one of FAKE_AZURE_KEYS' keys in an `api-key` header, or
 * its Entra ID token in `Authorization: Bearer` (else 401 in Azure's error shape);
 * `x-fake-429-key: <key>` answers 429 with retry-after to that key only.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { FAKE_AZURE_KEYS } from "./azure-credentials";
import { advanceClock, openaiResponsesCacheUsage } from "./prompt-cache";
import { scenarioOf, startFakeServer, writeInPieces } from "./server";

const CREATED = 1_760_000_000;
/** Piece sizes for streamed bodies: small and uneven, so boundaries fall everywhere. */
const PIECES = [7, 61, 3, 130, 1, 29];

function json(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  response.writeHead(status, {
    "content-type": "application/json",
    "x-request-id": "req_fake_openai",
    ...headers,
  });
  response.end(JSON.stringify(body));
}

function openSse(response: ServerResponse) {
  response.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    "x-request-id": "req_fake_openai_stream",
    "openai-processing-ms": "42",
  });
}

const ERRORS: Record<
  string,
  { status: number; headers: Record<string, string>; error: Record<string, unknown> }
> = {
  "error-400": {
    status: 400,
    headers: {},
    error: {
      message: "Invalid value for 'temperature': must be at most 2.",
      type: "invalid_request_error",
      param: "temperature",
      code: "invalid_value",
    },
  },
  "error-401": {
    status: 401,
    headers: {},
    error: {
      message: "Incorrect API key provided: sk-user********1234.",
      type: "invalid_request_error",
      param: null,
      code: "invalid_api_key",
    },
  },
  "error-429": {
    status: 429,
    headers: {
      "retry-after": "0",
      "x-ratelimit-limit-requests": "500",
      "x-ratelimit-remaining-requests": "0",
      "x-ratelimit-reset-requests": "120ms",
    },
    error: {
      message: "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 500.",
      type: "requests",
      param: null,
      code: "rate_limit_exceeded",
    },
  },
  "error-500": {
    status: 500,
    headers: {},
    error: {
      message: "The server had an error while processing your request.",
      type: "server_error",
      param: null,
      code: null,
    },
  },
};

// ---------------------------------------------------------------------------------------------
// Chat Completions
// ---------------------------------------------------------------------------------------------

interface ChatRequest {
  model: string;
  messages?: { role?: string; content?: unknown }[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean } | null;
}

const CHAT_TEXT = ["Hello", " from the", " fake upstream", " — café ☕", "."];
const TOOL_CALLS = [
  { id: "call_weather_paris", name: "get_weather", args: ['{"ci', 'ty":"Pa', 'ris","unit":"c', '"}'] },
  { id: "call_time_tokyo", name: "get_time", args: ['{"tz"', ':"Asia/', 'Tokyo"}'] },
];

function chatUsage(scenario: string) {
  if (scenario === "reasoning") {
    return {
      prompt_tokens: 1200,
      completion_tokens: 300,
      total_tokens: 1500,
      prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 5 },
      completion_tokens_details: {
        reasoning_tokens: 256,
        audio_tokens: 7,
        accepted_prediction_tokens: 11,
        rejected_prediction_tokens: 3,
      },
    };
  }
  return {
    prompt_tokens: 50,
    completion_tokens: scenario === "tools" ? 40 : 9,
    total_tokens: scenario === "tools" ? 90 : 59,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

function chatHeader(model: string) {
  return { id: "chatcmpl-fake0001", object: "chat.completion.chunk", created: CREATED, model };
}

type ToolCall = { id: string; name: string; args: string[] };

/** The echo scenario's one tool call: Bash with the text as its command, arguments in pieces. */
function echoCalls(text: string): ToolCall[] {
  const args = JSON.stringify({ command: text });
  return [{ id: "call_echo_bash", name: "Bash", args: splitIn(args, 4) }];
}

/** The text of the last user message or input item (string content or text parts, joined). */
function lastUserText(items: unknown): string {
  if (typeof items === "string") return items;
  const list = Array.isArray(items) ? (items as { role?: string; content?: unknown }[]) : [];
  const last = [...list].reverse().find((item) => item.role === "user");
  if (!last) return "";
  if (typeof last.content === "string") return last.content;
  return Array.isArray(last.content)
    ? (last.content as { text?: unknown }[])
        .map((part) => (typeof part.text === "string" ? part.text : ""))
        .join("")
    : "";
}

function chatCompletion(model: string, scenario: string, calls: ToolCall[] = TOOL_CALLS) {
  const tools = scenario === "tools" || scenario === "echo";
  return {
    id: "chatcmpl-fake0001",
    object: "chat.completion",
    created: CREATED,
    model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: tools ? null : CHAT_TEXT.join(""),
          refusal: null,
          annotations: [],
          ...(tools
            ? {
                tool_calls: calls.map((call) => ({
                  id: call.id,
                  type: "function",
                  function: { name: call.name, arguments: call.args.join("") },
                })),
              }
            : {}),
        },
        logprobs: null,
        finish_reason: tools ? "tool_calls" : "stop",
      },
    ],
    usage: chatUsage(scenario),
    service_tier: "default",
    system_fingerprint: "fp_fake01",
  };
}

/** The chunks of a chat stream, before `usage` handling (see chatStream). */
function chatChunks(model: string, scenario: string, calls: ToolCall[]): Record<string, unknown>[] {
  const header = chatHeader(model);
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
    ...header,
    service_tier: "default",
    system_fingerprint: "fp_fake01",
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });
  if (scenario === "tools" || scenario === "echo") {
    const chunks = [chunk({ role: "assistant", content: null, refusal: null })];
    calls.forEach((call, index) => {
      chunks.push(
        chunk({
          tool_calls: [
            { index, id: call.id, type: "function", function: { name: call.name, arguments: "" } },
          ],
        }),
      );
      for (const piece of call.args)
        chunks.push(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
    });
    chunks.push(chunk({}, "tool_calls"));
    return chunks;
  }
  return [
    chunk({ role: "assistant", content: "", refusal: null }),
    ...CHAT_TEXT.map((content) => chunk({ content })),
    chunk({}, "stop"),
  ];
}

function chatStream(
  model: string,
  scenario: string,
  includeUsage: boolean,
  calls: ToolCall[] = TOOL_CALLS,
): string {
  const events = chatChunks(model, scenario, calls).map((chunk) =>
    includeUsage ? { ...chunk, usage: null } : chunk,
  );
  if (scenario === "midstream-error") {
    const partial = events.slice(0, 3).map((event) => `data: ${JSON.stringify(event)}\n\n`);
    const error = {
      message: "The server had an error while processing your request.",
      type: "server_error",
      param: null,
      code: null,
    };
    return `${partial.join("")}data: ${JSON.stringify({ error })}\n\n`;
  }
  if (includeUsage) {
    events.push({
      ...chatHeader(model),
      service_tier: "default",
      system_fingerprint: "fp_fake01",
      choices: [],
      usage: chatUsage(scenario),
    });
  }
  return `${events.map((event) => `data: ${JSON.stringify(event)}\n\n`).join("")}data: [DONE]\n\n`;
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

interface ResponsesRequest {
  model: string;
  stream?: boolean;
  background?: boolean;
  store?: boolean;
  previous_response_id?: string | null;
  include?: string[];
  input?: unknown;
}

const RESPONSE_ID = "resp_fake0001";

/** Scenario prompt-cache: the usage simulated once per request (prompt-cache.ts). */
const simulatedUsage = new WeakMap<object, { input_tokens: number; cached_tokens: number }>();

function responsesUsage(scenario: string, request?: ResponsesRequest) {
  const cache = request ? simulatedUsage.get(request) : undefined;
  if (cache) {
    return {
      input_tokens: cache.input_tokens,
      input_tokens_details: { cached_tokens: cache.cached_tokens },
      output_tokens: 12,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: cache.input_tokens + 12,
    };
  }
  const tools = scenario === "tools";
  return {
    input_tokens: tools ? 9000 : 40,
    input_tokens_details: { cached_tokens: tools ? 8192 : 0 },
    output_tokens: tools ? 500 : 8,
    output_tokens_details: { reasoning_tokens: tools ? 320 : 0 },
    total_tokens: tools ? 9500 : 48,
  };
}

function responseItems(request: ResponsesRequest, scenario: string): Record<string, unknown>[] {
  const message = {
    id: "msg_fake0001",
    type: "message",
    status: "completed",
    role: "assistant",
    content: [{ type: "output_text", annotations: [], logprobs: [], text: CHAT_TEXT.join("") }],
  };
  if (scenario === "echo") {
    const text = lastUserText(request.input);
    const [call] = echoCalls(text);
    return [
      { id: "rs_fake_echo", type: "reasoning", summary: [{ type: "summary_text", text }] },
      {
        id: "fc_fake_echo",
        type: "function_call",
        status: "completed",
        arguments: call?.args.join("") ?? "",
        call_id: call?.id,
        name: call?.name,
      },
      message,
    ];
  }
  if (scenario !== "tools") return [message];
  const reasoning: Record<string, unknown> = {
    id: "rs_fake0001",
    type: "reasoning",
    summary: [
      { type: "summary_text", text: "**Planning** I should check the weather first." },
      { type: "summary_text", text: "Then look at the repository." },
    ],
  };
  if (request.include?.includes("reasoning.encrypted_content"))
    reasoning.encrypted_content = "gAAAAABfake-encrypted==";
  return [
    reasoning,
    {
      id: "ws_fake0001",
      type: "web_search_call",
      status: "completed",
      action: { type: "search", query: "weather paris" },
    },
    {
      id: "fc_fake0001",
      type: "function_call",
      status: "completed",
      arguments: '{"city":"Paris","unit":"c"}',
      call_id: "call_weather_paris",
      name: "get_weather",
    },
    {
      id: "fc_fake0002",
      type: "function_call",
      status: "completed",
      arguments: '{"path":"README.md"}',
      call_id: "call_read_readme",
      name: "read_file",
      namespace: "mcp__repo",
    },
    {
      id: "ctc_fake0001",
      type: "custom_tool_call",
      status: "completed",
      call_id: "call_patch_1",
      name: "apply_patch",
      input: "*** Begin Patch\n*** End Patch",
    },
  ];
}

function responseObject(request: ResponsesRequest, scenario: string, status: string, output: unknown[]) {
  const done = status === "completed" || status === "incomplete";
  return {
    id: RESPONSE_ID,
    object: "response",
    created_at: CREATED,
    status,
    background: request.background ?? false,
    error: null,
    incomplete_details: status === "incomplete" ? { reason: "max_output_tokens" } : null,
    instructions: null,
    max_output_tokens: null,
    model: request.model,
    output,
    parallel_tool_calls: true,
    previous_response_id: request.previous_response_id ?? null,
    reasoning: { effort: null, summary: null },
    store: request.store ?? true,
    temperature: 1,
    text: { format: { type: "text" } },
    tool_choice: "auto",
    tools: [],
    top_p: 1,
    truncation: "disabled",
    usage: done ? responsesUsage(scenario, request) : null,
    metadata: {},
  };
}

/** The streamed events of one response, in the order the reference documents. */
function responsesEvents(request: ResponsesRequest, scenario: string): Record<string, unknown>[] {
  const events: Record<string, unknown>[] = [];
  const base = responseObject(request, scenario, "in_progress", []);
  events.push({ type: "response.created", response: base });
  events.push({ type: "response.in_progress", response: base });
  if (scenario === "failed") {
    const failed = {
      ...base,
      status: "failed",
      error: { code: "server_error", message: "The model failed to generate a response." },
    };
    events.push({ type: "response.failed", response: failed });
    return events;
  }
  const items = responseItems(request, scenario);
  items.forEach((item, output_index) => {
    const id = item.id as string;
    if (item.type === "message") {
      events.push({
        type: "response.output_item.added",
        output_index,
        item: { ...item, status: "in_progress", content: [] },
      });
      const part = { type: "output_text", annotations: [], logprobs: [], text: "" };
      events.push({ type: "response.content_part.added", item_id: id, output_index, content_index: 0, part });
      for (const delta of CHAT_TEXT) {
        events.push({
          type: "response.output_text.delta",
          item_id: id,
          output_index,
          content_index: 0,
          delta,
          logprobs: [],
        });
      }
      const text = CHAT_TEXT.join("");
      events.push({
        type: "response.output_text.done",
        item_id: id,
        output_index,
        content_index: 0,
        text,
        logprobs: [],
      });
      events.push({
        type: "response.content_part.done",
        item_id: id,
        output_index,
        content_index: 0,
        part: { ...part, text },
      });
      if (scenario === "error-event") {
        events.push({
          type: "error",
          code: "server_error",
          message: "Stream interrupted by the fake.",
          param: null,
        });
        return;
      }
    } else if (item.type === "reasoning") {
      events.push({ type: "response.output_item.added", output_index, item: { ...item, summary: [] } });
      (item.summary as { text: string }[]).forEach((part, summary_index) => {
        events.push({
          type: "response.reasoning_summary_part.added",
          item_id: id,
          output_index,
          summary_index,
          part: { type: "summary_text", text: "" },
        });
        for (const delta of splitIn(part.text, 3)) {
          events.push({
            type: "response.reasoning_summary_text.delta",
            item_id: id,
            output_index,
            summary_index,
            delta,
          });
        }
        events.push({
          type: "response.reasoning_summary_text.done",
          item_id: id,
          output_index,
          summary_index,
          text: part.text,
        });
        events.push({
          type: "response.reasoning_summary_part.done",
          item_id: id,
          output_index,
          summary_index,
          part,
        });
      });
    } else if (item.type === "function_call" || item.type === "custom_tool_call") {
      const field = item.type === "function_call" ? "arguments" : "input";
      const event =
        item.type === "function_call"
          ? "response.function_call_arguments"
          : "response.custom_tool_call_input";
      events.push({
        type: "response.output_item.added",
        output_index,
        item: { ...item, status: "in_progress", [field]: "" },
      });
      for (const delta of splitIn(item[field] as string, 3))
        events.push({ type: `${event}.delta`, item_id: id, output_index, delta });
      events.push({ type: `${event}.done`, item_id: id, output_index, [field]: item[field] });
    } else {
      events.push({
        type: "response.output_item.added",
        output_index,
        item: { ...item, status: "in_progress" },
      });
      events.push({ type: "response.web_search_call.in_progress", item_id: id, output_index });
      events.push({ type: "response.web_search_call.completed", item_id: id, output_index });
    }
    events.push({ type: "response.output_item.done", output_index, item });
  });
  if (scenario === "error-event") return events;
  const status = scenario === "incomplete" ? "incomplete" : "completed";
  events.push({ type: `response.${status}`, response: responseObject(request, scenario, status, items) });
  return events;
}

function splitIn(text: string, parts: number): string[] {
  const size = Math.ceil(text.length / parts);
  const pieces: string[] = [];
  for (let i = 0; i < text.length; i += size) pieces.push(text.slice(i, i + size));
  return pieces;
}

function responsesStream(request: ResponsesRequest, scenario: string): string {
  let events = responsesEvents(request, scenario === "truncated" ? "tools" : scenario);
  // truncated: the connection ends cleanly in the middle of a function call's arguments.
  if (scenario === "truncated")
    events = events.slice(
      0,
      events.findIndex((e) => e.type === "response.function_call_arguments.done"),
    );
  return events
    .map(
      (event, sequence_number) =>
        `event: ${event.type}\ndata: ${JSON.stringify({ ...event, sequence_number })}\n\n`,
    )
    .join("");
}

// ---------------------------------------------------------------------------------------------

/** What a background response reports once it is done (distinct from every other scenario's). */
export const BACKGROUND_USAGE = {
  input_tokens: 1200,
  input_tokens_details: { cached_tokens: 200 },
  output_tokens: 345,
  output_tokens_details: { reasoning_tokens: 100 },
  total_tokens: 1545,
};
/** What a background response cancelled while running reports (the work done until then). */
export const CANCELLED_USAGE = {
  input_tokens: 900,
  input_tokens_details: { cached_tokens: 0 },
  output_tokens: 77,
  output_tokens_details: { reasoning_tokens: 40 },
  total_tokens: 977,
};
const backgroundResponses = new Map<string, { status: string; request: ResponsesRequest; owner: string }>();

/**
 * Who may read a stored response: the upstream (host) and the key it was created with. Azure's
 * keys (`api-key`, or an Entra token) belong to one resource and all see its responses.
 */
function ownerOf(request: IncomingMessage): string {
  const azure =
    request.headers["api-key"] !== undefined ||
    request.headers.authorization === `Bearer ${FAKE_AZURE_KEYS.entraToken}`;
  return `${request.headers.host ?? ""} ${azure ? "azure" : (request.headers.authorization ?? "")}`;
}
let backgroundCount = 0;

/** slow: per x-fake-trace, whether the fake wrote its whole stream before the connection closed. */
const slowStreams = new Map<string, { completed: boolean }>();

/** 40 content chunks 50 ms apart, then the usage chunk (completion_tokens 4242) and [DONE]. */
async function slowChatStream(response: ServerResponse, model: string, trace: string, includeUsage: boolean) {
  const state = { completed: false };
  slowStreams.set(trace, state);
  const write = (chunk: Record<string, unknown>) =>
    !response.destroyed &&
    response.write(`data: ${JSON.stringify(includeUsage ? { usage: null, ...chunk } : chunk)}\n\n`);
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
    ...chatHeader(model),
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });
  openSse(response);
  write(chunk({ role: "assistant", content: "" }));
  for (let i = 0; i < 40; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (response.destroyed) return;
    write(chunk({ content: `word${i} ` }));
  }
  write(chunk({}, "stop"));
  if (includeUsage) {
    const usage = { prompt_tokens: 30, completion_tokens: 4242, total_tokens: 4272 };
    response.write(`data: ${JSON.stringify({ ...chatHeader(model), choices: [], usage })}\n\n`);
  }
  response.end("data: [DONE]\n\n", () => {
    state.completed = true;
  });
}

/** Azure's key check on /openai/v1: true when the request was answered here (refused). */
function azureRefused(request: IncomingMessage, response: ServerResponse): boolean {
  const apiKey = request.headers["api-key"];
  const keys = [FAKE_AZURE_KEYS.central1, FAKE_AZURE_KEYS.central2, FAKE_AZURE_KEYS.user];
  // Microsoft Entra ID: a token in Authorization: Bearer instead of a key.
  const entra = request.headers.authorization === `Bearer ${FAKE_AZURE_KEYS.entraToken}`;
  if (!entra && (typeof apiKey !== "string" || !keys.includes(apiKey))) {
    json(response, 401, {
      error: {
        code: "401",
        message:
          "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.",
      },
    });
    return true;
  }
  if (apiKey !== undefined && request.headers["x-fake-429-key"] === apiKey) {
    json(
      response,
      429,
      { error: { code: "429", message: "Requests to the OpenAI API have exceeded the rate limit." } },
      { "retry-after": "30" },
    );
    return true;
  }
  return false;
}

export async function handleOpenAI(request: IncomingMessage, body: Buffer, response: ServerResponse) {
  if (request.url?.startsWith("/openai/v1/")) {
    if (azureRefused(request, response)) return;
    request.url = request.url.slice("/openai".length);
  }
  const url = new URL(request.url ?? "/", "http://fake");
  const scenario = scenarioOf(request);
  if (url.pathname.startsWith("/__fake/complete/")) {
    const job = backgroundResponses.get(decodeURIComponent(url.pathname.slice("/__fake/complete/".length)));
    if (job) job.status = "completed";
    return json(response, job ? 200 : 404, { completed: Boolean(job) });
  }
  if (url.pathname.startsWith("/__fake/sent/")) {
    const state = slowStreams.get(decodeURIComponent(url.pathname.slice("/__fake/sent/".length)));
    return json(response, state ? 200 : 404, state ?? { error: "no such trace" });
  }
  if (scenario === "hangup") {
    request.socket.destroy();
    return;
  }
  const error = ERRORS[scenario];
  if (error) return json(response, error.status, { error: error.error }, error.headers);
  const path = url.pathname;

  if (request.method === "POST" && path === "/v1/chat/completions") {
    const parsed = JSON.parse(body.toString("utf8")) as ChatRequest;
    const calls = scenario === "echo" ? echoCalls(lastUserText(parsed.messages)) : TOOL_CALLS;
    if (!parsed.stream) return json(response, 200, chatCompletion(parsed.model, scenario, calls));
    if (scenario === "slow") {
      const trace = String(request.headers["x-fake-trace"] ?? "untraced");
      return slowChatStream(response, parsed.model, trace, parsed.stream_options?.include_usage === true);
    }
    openSse(response);
    await writeInPieces(
      response,
      chatStream(parsed.model, scenario, parsed.stream_options?.include_usage === true, calls),
      PIECES,
    );
    response.end();
    return;
  }

  if (request.method === "POST" && path === "/__fake/clock") {
    const { advance_ms } = JSON.parse(body.toString("utf8") || "{}") as { advance_ms?: number };
    return json(response, 200, {
      now: advanceClock(String(request.headers["x-fake-clock"] ?? "default"), advance_ms ?? 0),
    });
  }

  if (request.method === "POST" && path === "/v1/responses") {
    const parsed = JSON.parse(body.toString("utf8")) as ResponsesRequest;
    if (scenario === "prompt-cache") {
      const clock = String(request.headers["x-fake-clock"] ?? "default");
      simulatedUsage.set(parsed, openaiResponsesCacheUsage(parsed as never, clock));
    }
    if (!parsed.stream) {
      // background: accepted at once, output and usage come later (GET /v1/responses/{id}).
      if (parsed.background) {
        const id = `resp_bg_${++backgroundCount}`;
        backgroundResponses.set(id, { status: "queued", request: parsed, owner: ownerOf(request) });
        return json(response, 200, { ...responseObject(parsed, scenario, "queued", []), id });
      }
      const status = scenario === "incomplete" ? "incomplete" : "completed";
      return json(response, 200, responseObject(parsed, scenario, status, responseItems(parsed, scenario)));
    }
    openSse(response);
    await writeInPieces(response, responsesStream(parsed, scenario), PIECES);
    response.end();
    return;
  }

  if (request.method === "GET" && path === "/v1/models") {
    return json(response, 200, {
      object: "list",
      data: [{ id: "gpt-4o-mini", object: "model", created: CREATED, owned_by: "openai" }],
    });
  }
  const model = /^\/v1\/models\/([^/]+)$/.exec(path);
  if (request.method === "GET" && model) {
    return json(response, 200, {
      id: decodeURIComponent(model[1]!),
      object: "model",
      created: CREATED,
      owned_by: "openai",
    });
  }
  const stored = /^\/v1\/responses\/([^/]+)(\/input_items|\/cancel)?$/.exec(path);
  if (stored) {
    const [, id, sub] = stored;
    const job = backgroundResponses.get(id!);
    if (job && job.owner !== ownerOf(request)) {
      return json(response, 404, {
        error: {
          message: `Response with id '${id}' not found.`,
          type: "invalid_request_error",
          param: null,
          code: null,
        },
      });
    }
    if (request.method === "POST" && sub === "/cancel" && job) {
      if (job.status === "queued" || job.status === "in_progress") job.status = "cancelled";
    }
    const showsJob = (request.method === "GET" && !sub) || (request.method === "POST" && sub === "/cancel");
    if (job?.status === "cancelled" && showsJob) {
      const body = responseObject(job.request, "default", "cancelled", []);
      return json(response, 200, { ...body, id, usage: CANCELLED_USAGE });
    }
    if (request.method === "GET" && !sub && job) {
      const done = job.status === "completed";
      const body = responseObject(
        job.request,
        "default",
        job.status,
        done ? responseItems(job.request, "default") : [],
      );
      if (job.status === "queued") job.status = "in_progress";
      return json(response, 200, { ...body, id, usage: done ? BACKGROUND_USAGE : null });
    }
    if (request.method === "GET" && !sub) {
      return json(response, 200, { ...responseObject({ model: "gpt-5" }, "default", "completed", []), id });
    }
    if (request.method === "DELETE" && !sub)
      return json(response, 200, { id, object: "response", deleted: true });
    if (request.method === "GET" && sub === "/input_items") {
      return json(response, 200, {
        object: "list",
        data: [],
        first_id: null,
        last_id: null,
        has_more: false,
      });
    }
    if (request.method === "POST" && sub === "/cancel") {
      return json(response, 200, {
        ...responseObject({ model: "gpt-5", background: true }, "default", "cancelled", []),
        id,
      });
    }
  }
  if (path === "/v1/conversations" || path.startsWith("/v1/conversations/")) {
    return json(response, 200, { object: "conversation", id: "conv_fake0001", method: request.method, path });
  }
  return json(response, 404, {
    error: {
      message: `Invalid URL (${request.method} ${path})`,
      type: "invalid_request_error",
      param: null,
      code: null,
    },
  });
}

/** The fake serves the API under /v1, like api.openai.com (OPENAI_BASE_URL = url + "/v1"). */
export const startFakeOpenAI = (port?: number) => startFakeServer(handleOpenAI, port);
