/**
 * The injected tool set for a request, and running those tools.
 *
 * Tool lists are cached in KV per server (stale-while-revalidate): a fresh list is used as is; a
 * stale one is used at once and refreshed in ctx.waitUntil, so a warm request never waits on an MCP
 * server. Only a cold cache makes a request wait (bounded by the MCP timeout). A server that cannot
 * be reached has its tools left out (or keeps its last good list), is logged, and is retried in the
 * background after a short pause rather than on every request.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { Env } from "../config";
import { log } from "../log";
import { writeMetric } from "../metrics/write";
import { callServerTool, connectMcp, type ListedTool, listServerTools, safeMessage } from "./client";
import { type McpConfig, type McpServerConfig, toolAllowed } from "./config";
import { fnv1a32, injectedToolName } from "./naming";

export interface InjectedTool {
  /** The name the model sees: bmcp_<server>_<tool>. */
  name: string;
  /** The server's own name for the tool. */
  tool: string;
  server: McpServerConfig;
  description?: string;
  inputSchema: Record<string, unknown>;
}

export interface CacheEntry {
  /** When the server was last asked (successfully or not). */
  checkedAt: number;
  tools: ListedTool[] | null;
  error?: string;
}

interface WaitUntil {
  waitUntil(promise: Promise<unknown>): void;
}

/** Stale lists stay in KV this long, so a server that is down keeps its last good tools for a while. */
const KV_KEEP_SECONDS = 24 * 60 * 60;
/** After a failed refresh, the next attempt waits this long (per isolate, requests are not slowed). */
const RETRY_AFTER_MS = 30_000;

export function cacheKey(server: McpServerConfig): string {
  return `mcp:tools:v1:${server.name}:${fnv1a32(server.url)}`;
}

/**
 * The tools to inject, in a stable order (servers in configuration order, tools by name), so the
 * same configuration and lists always give the same bytes.
 */
export async function loadInjectedTools(
  env: Env,
  ctx: WaitUntil,
  config: McpConfig,
): Promise<InjectedTool[]> {
  const lists = await Promise.all(config.servers.map((server) => serverTools(env, ctx, config, server)));
  const tools: InjectedTool[] = [];
  const seen = new Set<string>();
  config.servers.forEach((server, i) => {
    const listed = [...(lists[i] ?? [])].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const tool of listed) {
      if (!toolAllowed(server, tool.name)) continue;
      const name = injectedToolName(server.name, tool.name);
      if (seen.has(name)) {
        log.warn("mcp_tool_name_clash", { server: server.name, tool: tool.name, name });
        continue;
      }
      seen.add(name);
      tools.push({
        name,
        tool: tool.name,
        server,
        ...(tool.description ? { description: tool.description } : {}),
        inputSchema: tool.inputSchema,
      });
    }
  });
  return tools;
}

async function serverTools(env: Env, ctx: WaitUntil, config: McpConfig, server: McpServerConfig) {
  const key = cacheKey(server);
  let entry: CacheEntry | null = null;
  try {
    entry = await env.KV.get<CacheEntry>(key, "json");
  } catch (error) {
    log.warn("mcp_cache_read_failed", { server: server.name, error: String(error) });
  }
  if (!entry) return refresh(env, config, server, null);
  const freshFor = entry.error ? RETRY_AFTER_MS : config.cacheTtlSeconds * 1000;
  if (Date.now() - entry.checkedAt >= freshFor) ctx.waitUntil(refresh(env, config, server, entry));
  return entry.tools ?? [];
}

/** One refresh per server at a time in this isolate. */
const inflight = new Map<string, Promise<ListedTool[]>>();

function refresh(env: Env, config: McpConfig, server: McpServerConfig, previous: CacheEntry | null) {
  const key = cacheKey(server);
  const running = inflight.get(key);
  if (running) return running;
  const work = (async (): Promise<ListedTool[]> => {
    let entry: CacheEntry;
    try {
      entry = { checkedAt: Date.now(), tools: await listServerTools(server, config.timeoutMs) };
    } catch (error) {
      const message = safeMessage(server, error);
      log.warn("mcp_server_unavailable", {
        server: server.name,
        url: server.url,
        error: message,
        servingCachedTools: Boolean(previous?.tools),
      });
      const event = { event: "mcp_server_unavailable", detail: server.name };
      writeMetric(env.METRICS, "gateway_event", event, { count: 1 });
      entry = { checkedAt: Date.now(), tools: previous?.tools ?? null, error: message };
    }
    try {
      await env.KV.put(key, JSON.stringify(entry), { expirationTtl: KV_KEEP_SECONDS });
    } catch (error) {
      log.warn("mcp_cache_write_failed", { server: server.name, error: String(error) });
    }
    return entry.tools ?? [];
  })().finally(() => inflight.delete(key));
  inflight.set(key, work);
  return work;
}

export interface ToolRun {
  /** What goes back to the model. */
  text: string;
  isError: boolean;
  /** For the record: why the call failed (tool error, transport error, unknown tool), or null. */
  error: string | null;
  serverUrl: string | null;
}

/**
 * The injected tools of one request, and the MCP connections opened to run them (one per server,
 * opened on first use, closed with close()).
 */
export class Toolbox {
  private readonly byName: Map<string, InjectedTool>;
  private readonly clients = new Map<string, Promise<Client>>();

  constructor(
    readonly tools: InjectedTool[],
    private readonly timeoutMs: number,
  ) {
    this.byName = new Map(tools.map((tool) => [tool.name, tool]));
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Never throws: every failure becomes an error result the model can read. */
  async call(name: string, argumentsJson: string): Promise<ToolRun> {
    const tool = this.byName.get(name);
    if (!tool) {
      const text = `Unknown tool: ${name}`;
      return { text, isError: true, error: text, serverUrl: null };
    }
    const serverUrl = tool.server.url;
    let args: unknown;
    try {
      args = argumentsJson.trim() === "" ? {} : JSON.parse(argumentsJson);
    } catch {
      args = undefined;
    }
    if (!args || typeof args !== "object" || Array.isArray(args)) {
      const text = "The tool arguments must be a JSON object.";
      return { text, isError: true, error: text, serverUrl };
    }
    try {
      const client = await this.client(tool.server);
      const outcome = await callServerTool(
        client,
        tool.tool,
        args as Record<string, unknown>,
        this.timeoutMs,
      );
      return {
        text: outcome.text,
        isError: outcome.isError,
        error: outcome.isError ? outcome.text.slice(0, 2000) || "tool error" : null,
        serverUrl,
      };
    } catch (error) {
      // A broken connection should not poison later calls in the same request.
      this.clients.delete(tool.server.name);
      const message = safeMessage(tool.server, error);
      log.warn("mcp_tool_call_failed", { server: tool.server.name, tool: tool.tool, error: message });
      return { text: `Tool call failed: ${message}`, isError: true, error: message, serverUrl };
    }
  }

  async close(): Promise<void> {
    const clients = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(clients.map((client) => client.then((c) => c.close()).catch(() => {})));
  }

  private client(server: McpServerConfig): Promise<Client> {
    let client = this.clients.get(server.name);
    if (!client) {
      client = connectMcp(server, this.timeoutMs);
      this.clients.set(server.name, client);
    }
    return client;
  }
}
