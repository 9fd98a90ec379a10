/**
 * A fake OpenAI API (Chat Completions and Responses), written from the public API reference.
 * Scenarios are chosen with x-fake-scenario. Extended by the OpenAI bridge tests.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { startFakeServer } from "./server";

function json(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  response.writeHead(status, { "content-type": "application/json", "x-request-id": "req_fake_openai", ...headers });
  response.end(JSON.stringify(body));
}

export async function handleOpenAI(request: IncomingMessage, _body: Buffer, response: ServerResponse) {
  const url = new URL(request.url ?? "/", "http://fake");
  if (request.method === "GET" && url.pathname === "/v1/models") {
    return json(response, 200, { object: "list", data: [{ id: "gpt-4o-mini", object: "model", owned_by: "openai" }] });
  }
  return json(response, 404, {
    error: { message: "not found", type: "invalid_request_error", param: null, code: "not_found" },
  });
}

/** The fake serves the API under /v1, like api.openai.com (OPENAI_BASE_URL = url + "/v1"). */
export const startFakeOpenAI = (port?: number) => startFakeServer(handleOpenAI, port);
