/**
 * A fake Anthropic Messages API, written from the public API reference. Scenarios (x-fake-scenario):
 * default (text), see the scenario table below. Extended by the Anthropic bridge tests.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { scenarioOf, startFakeServer } from "./server";

function json(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  response.writeHead(status, { "content-type": "application/json", "request-id": "req_fake_1", ...headers });
  response.end(JSON.stringify(body));
}

export function textMessage(model: string) {
  return {
    id: "msg_fake_text_1",
    type: "message",
    role: "assistant",
    model,
    content: [{ type: "text", text: "Hello from the fake upstream." }],
    stop_reason: "end_turn",
    stop_sequence: null,
    usage: {
      input_tokens: 12,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      output_tokens: 7,
    },
  };
}

export async function handleAnthropic(request: IncomingMessage, body: Buffer, response: ServerResponse) {
  const url = new URL(request.url ?? "/", "http://fake");
  if (request.method === "POST" && url.pathname === "/v1/messages") {
    const parsed = JSON.parse(body.toString("utf8")) as { model: string; stream?: boolean };
    switch (scenarioOf(request)) {
      default:
        return json(response, 200, textMessage(parsed.model));
    }
  }
  if (request.method === "GET" && url.pathname === "/v1/models") {
    return json(response, 200, { data: [{ id: "claude-sonnet-4-5", type: "model" }], has_more: false });
  }
  return json(response, 404, { type: "error", error: { type: "not_found_error", message: "not found" } });
}

export const startFakeAnthropic = (port?: number) => startFakeServer(handleAnthropic, port);
