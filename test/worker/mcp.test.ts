/**
 * MCP building blocks against the real MCP server the test setup runs
 * (@modelcontextprotocol/server-everything over Streamable HTTP): configuration, naming, the KV
 * tool-list cache, rendering and tool calls.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, inject, it, vi } from "vitest";
import { ConfigError, type Env } from "../../src/config";
import { parseMcpConfig } from "../../src/mcp/config";
import { injectedToolName } from "../../src/mcp/naming";
import { anthropicToolsJson, chatToolsJson, responsesToolsJson } from "../../src/mcp/render";
import { type CacheEntry, cacheKey, loadInjectedTools, Toolbox } from "../../src/mcp/tools";

const MCP_URL = inject("mcpUrl");
/** Nothing listens here: connections are refused at once. */
const DOWN_URL = "http://127.0.0.1:9/mcp";
const SECRET = "mcp-test-SECRET-token-4242";
/** The `${NAME}` placeholder MCP_SERVERS header values use to name a secret. */
const ref = (name: string) => `$${"{"}${name}}`;

function envWith(vars: Record<string, unknown>): Env {
  return { ...(env as unknown as Env), ...vars };
}

function configFor(servers: unknown[], vars: Record<string, unknown> = {}) {
  return parseMcpConfig(envWith({ MCP_SERVERS: JSON.stringify(servers), ...vars }));
}

function configError(servers: unknown, vars: Record<string, unknown> = {}): ConfigError {
  try {
    parseMcpConfig(
      envWith({ MCP_SERVERS: typeof servers === "string" ? servers : JSON.stringify(servers), ...vars }),
    );
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

afterEach(() => vi.restoreAllMocks());

describe("MCP configuration", () => {
  it("parses servers, resolves secret references in headers, and has the documented defaults", () => {
    const config = configFor(
      [
        {
          name: "gh",
          url: "https://mcp.example.com/mcp",
          headers: { Authorization: `Bearer ${ref("GH_TOKEN")}` },
          allow: ["^get"],
        },
      ],
      { GH_TOKEN: SECRET },
    );
    expect(config.servers).toHaveLength(1);
    expect(config.servers[0]?.headers).toEqual({ Authorization: `Bearer ${SECRET}` });
    expect(config.maxIterations).toBe(10);
    expect(config.cacheTtlSeconds).toBe(300);
    expect(config.skipModels).toBeNull();
    const tuned = configFor([], { MCP_MAX_ITERATIONS: "3", MCP_SKIP_MODELS: "haiku" });
    expect(tuned.maxIterations).toBe(3);
    expect(tuned.skipModels?.test("claude-haiku-4-5")).toBe(true);
    expect(tuned.skipModels?.test("claude-sonnet-4-5")).toBe(false);
  });

  it("names the server (never a secret value) in every configuration error", () => {
    const missing = configError([
      { name: "gh", url: "https://x.test/mcp", headers: { Authorization: `Bearer ${ref("NOPE")}` } },
    ]);
    expect(missing.variable).toBe("MCP_SERVERS");
    expect(missing.message).toContain('server "gh"');
    expect(missing.message).toContain("NOPE");

    const badRegex = configError(
      [
        {
          name: "gh",
          url: "https://x.test/mcp",
          headers: { Authorization: `Bearer ${ref("GH_TOKEN")}` },
          deny: ["("],
        },
      ],
      { GH_TOKEN: SECRET },
    );
    expect(badRegex.message).toContain('server "gh"');
    expect(badRegex.message).not.toContain(SECRET);

    expect(configError([{ name: "bad name!", url: "https://x.test" }]).message).toContain(
      'server "bad name!"',
    );
    expect(configError([{ name: "a", url: "ftp://x.test" }]).message).toContain('server "a": url');
    expect(
      configError([
        { name: "a", url: "https://x.test" },
        { name: "a", url: "https://y.test" },
      ]).message,
    ).toContain("used twice");
    expect(configError("{not json").message).toContain("not valid JSON");
    expect(configError({ name: "a" }).message).toContain("list");
    expect(configError([], { MCP_MAX_ITERATIONS: "0" }).variable).toBe("MCP_MAX_ITERATIONS");
    expect(configError([], { MCP_SKIP_MODELS: "(" }).variable).toBe("MCP_SKIP_MODELS");
  });
});

describe("injected tool names", () => {
  it("are bmcp_<server>_<tool> when that fits, else cut with a stable hash suffix", () => {
    expect(injectedToolName("everything", "get-sum")).toBe("bmcp_everything_get-sum");
    const long = "a".repeat(80);
    const name = injectedToolName("everything", long);
    expect(name.length).toBe(64);
    expect(name).toMatch(/^bmcp_everything_a+_[0-9a-f]{8}$/);
    expect(injectedToolName("everything", long)).toBe(name);
    expect(injectedToolName("everything", `${long}b`)).not.toBe(name);
    // Characters providers reject are replaced, and the hash keeps "a.b" and "a_b" apart.
    expect(injectedToolName("s", "a.b")).toMatch(/^bmcp_s_a_b_[0-9a-f]{8}$/);
    expect(injectedToolName("s", "a_b")).toBe("bmcp_s_a_b");
    for (const n of [name, injectedToolName("s", "a.b")]) expect(n).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
  });
});

describe("tool lists (KV cache, stale-while-revalidate)", () => {
  it("lists a real server's tools on a cold cache, filtered by allow/deny, and caches them in KV", async () => {
    const config = configFor([
      { name: "everything", url: MCP_URL, allow: ["^get-", "^echo$"], deny: ["^get-env$"] },
    ]);
    const ctx = createExecutionContext();
    const tools = await loadInjectedTools(envWith({}), ctx, config);
    const names = tools.map((tool) => tool.name);
    expect(names).toContain("bmcp_everything_echo");
    expect(names).toContain("bmcp_everything_get-sum");
    expect(names).not.toContain("bmcp_everything_get-env"); // deny wins over allow
    expect(names).not.toContain("bmcp_everything_toggle-simulated-logging"); // not allowed
    expect(names).toEqual([...names].sort());
    const entry = await env.KV.get<CacheEntry>(cacheKey(config.servers[0]!), "json");
    expect(entry?.tools?.map((tool) => tool.name)).toContain("get-env"); // the cache holds the unfiltered list
    await waitOnExecutionContext(ctx);
  });

  it("renders byte-identical tool JSON for the same configuration, one shape per API", async () => {
    const config = configFor([{ name: "everything", url: MCP_URL, allow: ["^echo$", "^get-sum$"] }]);
    const first = await loadInjectedTools(envWith({}), createExecutionContext(), config);
    const second = await loadInjectedTools(
      envWith({}),
      createExecutionContext(),
      configFor([{ name: "everything", url: MCP_URL, allow: ["^echo$", "^get-sum$"] }]),
    );
    expect(anthropicToolsJson(second)).toBe(anthropicToolsJson(first));
    expect(chatToolsJson(second)).toBe(chatToolsJson(first));
    expect(responsesToolsJson(second)).toBe(responsesToolsJson(first));

    const anthropic = JSON.parse(`[${anthropicToolsJson(first)}]`);
    expect(anthropic[0]).toEqual({
      name: "bmcp_everything_echo",
      description: "Echoes back the input string",
      input_schema: {
        type: "object",
        properties: { message: { type: "string", description: "Message to echo" } },
        required: ["message"],
      },
    });
    const chat = JSON.parse(`[${chatToolsJson(first)}]`);
    expect(chat[1]).toMatchObject({ type: "function", function: { name: "bmcp_everything_get-sum" } });
    expect(chat[1].function.parameters.required).toEqual(["a", "b"]);
    const responses = JSON.parse(`[${responsesToolsJson(first)}]`);
    expect(responses[0]).toMatchObject({ type: "function", name: "bmcp_everything_echo", strict: false });
    expect(responses[0].parameters.properties.message.type).toBe("string");
  });

  it("uses a fresh cached list without contacting the server (its URL refuses connections)", async () => {
    const config = configFor([{ name: "cached", url: DOWN_URL }]);
    const entry: CacheEntry = {
      checkedAt: Date.now(),
      tools: [
        { name: "lookup", description: "From the cache", inputSchema: { type: "object", properties: {} } },
      ],
    };
    await env.KV.put(cacheKey(config.servers[0]!), JSON.stringify(entry));
    const warn = vi.spyOn(console, "warn");
    const ctx = createExecutionContext();
    const tools = await loadInjectedTools(envWith({}), ctx, config);
    await waitOnExecutionContext(ctx);
    expect(tools.map((tool) => tool.name)).toEqual(["bmcp_cached_lookup"]);
    expect(warn).not.toHaveBeenCalled(); // no refresh was tried, so no failure to log
  });

  it("serves a stale list at once and refreshes it in the background (waitUntil)", async () => {
    const config = configFor([{ name: "stale", url: MCP_URL }], { MCP_CACHE_TTL_SECONDS: "60" });
    const key = cacheKey(config.servers[0]!);
    const stale: CacheEntry = {
      checkedAt: Date.now() - 61_000,
      tools: [{ name: "old-tool", inputSchema: { type: "object" } }],
    };
    await env.KV.put(key, JSON.stringify(stale));
    const ctx = createExecutionContext();
    const tools = await loadInjectedTools(envWith({}), ctx, config);
    expect(tools.map((tool) => tool.name)).toEqual(["bmcp_stale_old-tool"]);
    await waitOnExecutionContext(ctx);
    const refreshed = await env.KV.get<CacheEntry>(key, "json");
    expect(refreshed?.tools?.map((tool) => tool.name)).toContain("echo");
    expect(refreshed?.checkedAt).toBeGreaterThan(stale.checkedAt);
  });

  it("leaves out a server that is down, logs it without the secret, and keeps the other servers", async () => {
    const log: string[] = [];
    for (const level of ["log", "warn", "error"] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void log.push(args.join(" ")));
    }
    const config = configFor(
      [
        { name: "down", url: DOWN_URL, headers: { Authorization: `Bearer ${ref("DOWN_TOKEN")}` } },
        { name: "everything", url: MCP_URL, allow: ["^echo$"] },
      ],
      { DOWN_TOKEN: SECRET },
    );
    const ctx = createExecutionContext();
    const tools = await loadInjectedTools(envWith({}), ctx, config);
    await waitOnExecutionContext(ctx);
    expect(tools.map((tool) => tool.name)).toEqual(["bmcp_everything_echo"]);
    expect(
      log.some((line) => line.includes('"mcp_server_unavailable"') && line.includes('"server":"down"')),
    ).toBe(true);
    expect(log.join("\n")).not.toContain(SECRET);
    // The failure is remembered, so the next request does not wait on the down server again.
    const entry = await env.KV.get<CacheEntry>(cacheKey(config.servers[0]!), "json");
    expect(entry?.error).toBeTruthy();
    expect(JSON.stringify(entry)).not.toContain(SECRET);
  });
});

describe("tool calls", () => {
  async function toolbox(servers: unknown[]) {
    const config = configFor(servers);
    const tools = await loadInjectedTools(envWith({}), createExecutionContext(), config);
    return new Toolbox(tools, 5_000);
  }

  it("runs a tool over MCP and turns isError, bad arguments and unknown tools into error results", async () => {
    const box = await toolbox([{ name: "everything", url: MCP_URL, allow: ["^echo$", "^get-sum$"] }]);
    try {
      expect(await box.call("bmcp_everything_echo", '{"message":"hi"}')).toEqual({
        text: "Echo: hi",
        isError: false,
        error: null,
        serverUrl: MCP_URL,
      });
      expect(await box.call("bmcp_everything_get-sum", '{"a":2,"b":3}')).toMatchObject({
        text: expect.stringContaining("5"),
        isError: false,
      });
      const invalid = await box.call("bmcp_everything_get-sum", '{"a":"x"}');
      expect(invalid).toMatchObject({ isError: true, serverUrl: MCP_URL });
      expect(invalid.error).toContain("Invalid arguments");
      expect(await box.call("bmcp_everything_echo", "[1]")).toMatchObject({
        isError: true,
        error: expect.stringContaining("JSON object"),
      });
      expect(await box.call("bmcp_everything_nope", "{}")).toMatchObject({
        isError: true,
        serverUrl: null,
        error: "Unknown tool: bmcp_everything_nope",
      });
    } finally {
      await box.close();
    }
  });

  it("turns a server that cannot be reached into an error result, without the secret", async () => {
    const config = configFor([{ name: "gone", url: DOWN_URL, headers: { "x-token": ref("T") } }], {
      T: SECRET,
    });
    const tools = [
      { name: "bmcp_gone_x", tool: "x", server: config.servers[0]!, inputSchema: { type: "object" } },
    ];
    const box = new Toolbox(tools, 2_000);
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const run = await box.call("bmcp_gone_x", "{}");
    expect(run).toMatchObject({ isError: true, serverUrl: DOWN_URL });
    expect(run.text).not.toContain(SECRET);
    await box.close();
  });
});
