/**
 * A tiny HTTP server harness for fake upstreams. It records every request it gets (method, path
 * with query, headers, exact body bytes) so tests can check what the gateway forwarded, and exposes
 * them at GET /__fake/requests (newest last) and DELETE /__fake/requests.
 *
 * Scenarios are chosen by the client through the `x-fake-scenario` request header, which the
 * gateway forwards like any other header.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  bodyBase64: string;
  receivedAt: number;
}

export type FakeHandler = (
  request: IncomingMessage,
  body: Buffer,
  response: ServerResponse,
) => void | Promise<void>;

export interface FakeServer {
  url: string;
  port: number;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export async function startFakeServer(handler: FakeHandler, port = 0): Promise<FakeServer> {
  const requests: RecordedRequest[] = [];
  const server: Server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    if (request.url?.startsWith("/__fake/requests")) {
      if (request.method === "DELETE") requests.length = 0;
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify(requests));
      return;
    }
    requests.push({
      method: request.method ?? "GET",
      url: request.url ?? "/",
      headers: request.headers,
      bodyBase64: body.toString("base64"),
      receivedAt: Date.now(),
    });
    try {
      await handler(request, body, response);
    } catch (error) {
      if (!response.headersSent) response.writeHead(500, { "content-type": "text/plain" });
      response.end(`fake server error: ${error instanceof Error ? error.message : String(error)}`);
    }
  });
  // Like a real provider, keep idle connections open well past any test: a short keep-alive races
  // workerd reusing a pooled connection the fake is closing ("Network connection lost" → 502), which
  // under load failed the 200-stream load test and the first request after a long stream.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Writes SSE text in pieces with a pause between them, so chunk boundaries fall where the test says. */
export async function writeInPieces(
  response: ServerResponse,
  text: string,
  pieceSizes: number[] | number,
  delayMs = 0,
) {
  const bytes = Buffer.from(text, "utf8");
  let offset = 0;
  let i = 0;
  while (offset < bytes.length) {
    const size = Array.isArray(pieceSizes) ? (pieceSizes[i % pieceSizes.length] ?? 1) : pieceSizes;
    response.write(bytes.subarray(offset, offset + size));
    offset += size;
    i++;
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
  }
}

export function scenarioOf(request: IncomingMessage): string {
  const value = request.headers["x-fake-scenario"];
  return (Array.isArray(value) ? value[0] : value) ?? "default";
}
