/**
 * The MCP inner loop keeps the relay's disconnect behaviour over real TCP (which the in-process pool
 * cannot reproduce): a client that hangs up mid-stream leaves the gateway reading the upstream to
 * its end, recording the final usage as client_disconnected, and starting no tool call or further
 * iteration. Runs the Worker under `wrangler dev` with the fake model and the real MCP server.
 */
import { randomUUID } from "node:crypto";
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type RunningMcpServer, startEverythingServer } from "../fakes/mcp";
import { startMcpUpstream } from "../fakes/mcp-upstream";
import type { FakeServer } from "../fakes/server";
import { startWranglerDev, type WranglerDev } from "./wrangler-dev";

let upstream: FakeServer;
let mcp: RunningMcpServer;
let dev: WranglerDev;

beforeAll(async () => {
  [upstream, mcp] = await Promise.all([startMcpUpstream(), startEverythingServer()]);
  dev = await startWranglerDev({
    vars: {
      ANTHROPIC_BASE_URL: upstream.url,
      MCP_SERVERS: JSON.stringify([{ name: "everything", url: mcp.url, allow: ["^echo$"] }]),
    },
  });
});

afterAll(async () => {
  await dev?.stop();
  await Promise.all([upstream?.close(), mcp?.stop()]);
});

describe("MCP loop: client disconnect against wrangler dev", () => {
  it("hanging up mid-stream drains and records the iteration, and runs no tool", async () => {
    const { key } = await dev.createKey("carol@example.com");
    const trace = randomUUID();
    const client = new Anthropic({ baseURL: `${dev.url}/anthropic`, apiKey: key, maxRetries: 0 });
    const stream = client.messages.stream(
      { model: "claude-sonnet-4-5", max_tokens: 256, messages: [{ role: "user", content: "echo hello" }] },
      { headers: { "x-fake-trace": trace, "x-fake-slow": "1" } },
    );
    const { response } = await stream.withResponse();
    const id = response.headers.get("x-aibridge-interception-id");
    expect(id).toBeTruthy();
    await new Promise<void>((resolve) => stream.on("text", () => resolve()));
    stream.abort();
    await expect(stream.done()).rejects.toThrow();
    const completed = async () =>
      (await (await fetch(`${upstream.url}/__mcp/sent/${trace}`)).json()).completed;
    expect(await completed()).toBe(false);

    // The gateway kept reading after the client left: the fake wrote its last byte.
    await vi.waitFor(async () => expect(await completed()).toBe(true), { timeout: 15_000, interval: 200 });
    const interception = await vi.waitFor(
      async () => {
        const [row] = await dev.d1<Record<string, unknown>>(
          `select * from aibridge_interceptions where id = '${id}'`,
        );
        if (!row?.ended_at) throw new Error(`interception not ended yet\n${dev.output().slice(-2000)}`);
        return row;
      },
      { timeout: 60_000, interval: 500 },
    );
    expect(interception).toMatchObject({ status: "client_disconnected", stop_reason: "tool_use" });
    const tokens = await dev.d1(`select * from aibridge_token_usages where interception_id = '${id}'`);
    expect(tokens).toEqual([
      expect.objectContaining({ provider_response_id: "msg_iter_1", output_tokens: 10 }),
    ]);
    // The model had asked for the tool, but nobody is listening: the gateway did not run it, nor ask again.
    expect(await dev.d1(`select * from aibridge_tool_usages where interception_id = '${id}'`)).toEqual([]);
    const requests = upstream.requests.filter((request) => request.headers["x-fake-trace"] === trace);
    expect(requests).toHaveLength(1);
  });
});
