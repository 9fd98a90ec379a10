/**
 * A small Anthropic Messages upstream whose failures the test chooses per request, for key
 * rotation, fallback and the circuit breaker (the full fake is test/fakes/anthropic.ts):
 *
 *   x-fake-429-key: <key>   answer 429 (rate_limit_error, retry-after: 30) when x-api-key is that key
 *   x-fake-status: <code>   answer that status in Anthropic's error shape (529 = overloaded_error)
 *   x-fake-reset: 1         stream: message_start and one delta, then the connection is reset
 *
 * Otherwise a short text answer ("Hello from flaky"), blocking or streaming per the body's `stream`;
 * POST /v1/messages/count_tokens answers `{"input_tokens": 11}` and GET /v1/models a one-model list
 * (the same x-fake-429-key check applies to both).
 * Every request is kept (GET /__fake/requests), with the key it carried.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type FakeServer, startFakeServer } from "./server";

const header = (request: IncomingMessage, name: string) => {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

function error(response: ServerResponse, status: number, type: string, message: string, extra = {}) {
  response.writeHead(status, { "content-type": "application/json", "request-id": "req_flaky", ...extra });
  response.end(JSON.stringify({ type: "error", error: { type, message } }));
}

const message = (model: string) => ({
  id: "msg_flaky_01",
  type: "message",
  role: "assistant",
  model,
  content: [{ type: "text", text: "Hello from flaky" }],
  stop_reason: "end_turn",
  stop_sequence: null,
  usage: { input_tokens: 11, output_tokens: 4 },
});

async function handle(request: IncomingMessage, body: Buffer, response: ServerResponse) {
  const path = request.url?.split("?")[0];
  const models = request.method === "GET" && path === "/v1/models";
  if (!models && (request.method !== "POST" || !path?.startsWith("/v1/messages"))) {
    error(response, 404, "not_found_error", "Not found");
    return;
  }
  if (header(request, "x-fake-429-key") === header(request, "x-api-key")) {
    error(response, 429, "rate_limit_error", "Rate limited", { "retry-after": "30" });
    return;
  }
  if (models || path === "/v1/messages/count_tokens") {
    response.writeHead(200, { "content-type": "application/json", "request-id": "req_flaky" });
    const list = { data: [{ type: "model", id: "claude-sonnet-4-5", display_name: "Claude Sonnet 4.5" }] };
    response.end(JSON.stringify(models ? { ...list, has_more: false } : { input_tokens: 11 }));
    return;
  }
  const json = JSON.parse(body.toString("utf8")) as { model: string; stream?: boolean };
  const status = Number(header(request, "x-fake-status") ?? 0);
  if (status) {
    error(response, status, status === 529 ? "overloaded_error" : "api_error", `status ${status}`);
    return;
  }
  const full = message(json.model);
  if (!json.stream) {
    response.writeHead(200, { "content-type": "application/json", "request-id": "req_flaky" });
    response.end(JSON.stringify(full));
    return;
  }
  response.writeHead(200, { "content-type": "text/event-stream", "request-id": "req_flaky" });
  const event = (name: string, data: unknown) =>
    response.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  event("message_start", { type: "message_start", message: { ...full, content: [], stop_reason: null } });
  event("content_block_start", {
    type: "content_block_start",
    index: 0,
    content_block: { type: "text", text: "" },
  });
  event("content_block_delta", {
    type: "content_block_delta",
    index: 0,
    delta: { type: "text_delta", text: "Hello" },
  });
  if (header(request, "x-fake-reset")) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    response.destroy();
    return;
  }
  event("content_block_delta", {
    type: "content_block_delta",
    index: 0,
    delta: { type: "text_delta", text: " from flaky" },
  });
  event("content_block_stop", { type: "content_block_stop", index: 0 });
  event("message_delta", {
    type: "message_delta",
    delta: { stop_reason: "end_turn", stop_sequence: null },
    usage: { output_tokens: 4 },
  });
  event("message_stop", { type: "message_stop" });
  response.end();
}

export function startFakeFlaky(port = 0): Promise<FakeServer> {
  return startFakeServer(handle, port);
}
