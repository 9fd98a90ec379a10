/**
 * Central MCP tools are spliced into every request byte-stably, so they must never show up as a
 * prompt-cache break: a Claude Code-shaped session through the MCP loop, against a fake model whose
 * cache counts come from the simulated prefix (test/fakes/prompt-cache.ts), has no breaks.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ClaudeCodeSession } from "../worker/cache-sessions";
import { admin, createKey, eventually } from "../worker/helpers";
import { upstreamRequests } from "./helpers";

let key: string;

beforeAll(async () => {
  ({ key } = await createKey("mcp-cache@example.com"));
});

interface Turn {
  cache: null | { read_tokens: number; write_tokens: number; expected_read_tokens: number; break: unknown };
}

describe("prompt cache with injected MCP tools", () => {
  it("a session whose requests carry injected tools reads its whole prefix every turn: no break", async () => {
    const session = new ClaudeCodeSession(key, undefined, {
      "x-fake-scenario": "none",
      "x-fake-prompt-cache": "1",
      "x-test-id": "cache-mcp",
    });
    for (let i = 0; i < 4; i++) await session.turn(`Step ${i}.`);

    // The upstream saw the injected tools after the client's 25, the same bytes every turn.
    const sent = await upstreamRequests("cache-mcp");
    expect(sent).toHaveLength(4);
    const injected = sent.map(({ text }) => {
      const tools = (JSON.parse(text) as { tools: { name: string }[] }).tools;
      return JSON.stringify(tools.slice(25));
    });
    expect(injected[0]).toContain("bmcp_everything_echo");
    expect(new Set(injected).size).toBe(1);

    const answer = await eventually(async () => {
      const body = (await (await admin(`/sessions/${session.sessionId}`)).json()) as {
        interceptions: Turn[];
        totals: { cache: { breaks: number } };
      };
      if (body.interceptions.filter((t) => t.cache).length !== 4) throw new Error("not analyzed yet");
      return body;
    }, 20_000);
    const turns = answer.interceptions.map((t) => t.cache as NonNullable<Turn["cache"]>);
    for (let i = 1; i < 4; i++) {
      const previous = turns[i - 1] as NonNullable<Turn["cache"]>;
      expect(turns[i]?.expected_read_tokens).toBe(previous.read_tokens + previous.write_tokens);
      expect(turns[i]?.read_tokens).toBe(turns[i]?.expected_read_tokens);
      expect(turns[i]?.break).toBeNull();
    }
    expect(answer.totals.cache.breaks).toBe(0);
  });
});
