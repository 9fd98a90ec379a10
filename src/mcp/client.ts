/**
 * MCP over Streamable HTTP with the official SDK. The SDK is imported lazily: it is large, and only
 * requests that actually talk to an MCP server should pay for loading it. Inside workerd the SDK's
 * default (ajv) validator needs eval, which workerd forbids, hence CfWorkerJsonSchemaValidator.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { McpServerConfig } from "./config";

export interface ListedTool {
  name: string;
  description?: string;
  inputSchema: Record<string, unknown>;
}

export interface ToolOutcome {
  text: string;
  isError: boolean;
}

export async function connectMcp(server: McpServerConfig, timeoutMs: number): Promise<Client> {
  const [{ Client }, { StreamableHTTPClientTransport }, { CfWorkerJsonSchemaValidator }] = await Promise.all([
    import("@modelcontextprotocol/sdk/client/index.js"),
    import("@modelcontextprotocol/sdk/client/streamableHttp.js"),
    import("@modelcontextprotocol/sdk/validation/cfworker"),
  ]);
  const client = new Client(
    { name: "aibridge-worker", version: "0.1.0" },
    { jsonSchemaValidator: new CfWorkerJsonSchemaValidator() },
  );
  const transport = new StreamableHTTPClientTransport(new URL(server.url), {
    requestInit: { headers: server.headers },
  });
  try {
    await client.connect(transport, { timeout: timeoutMs });
  } catch (error) {
    await client.close().catch(() => {});
    throw error;
  }
  return client;
}

/** Every tool the server lists (all pages), in the server's order. */
export async function listServerTools(server: McpServerConfig, timeoutMs: number): Promise<ListedTool[]> {
  const client = await connectMcp(server, timeoutMs);
  try {
    const tools: ListedTool[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor ? { cursor } : undefined, { timeout: timeoutMs });
      for (const tool of page.tools) {
        tools.push({
          name: tool.name,
          ...(tool.description ? { description: tool.description } : {}),
          inputSchema: tool.inputSchema as Record<string, unknown>,
        });
      }
      cursor = page.nextCursor;
    } while (cursor);
    return tools;
  } finally {
    await client.close().catch(() => {});
  }
}

export async function callServerTool(
  client: Client,
  tool: string,
  args: Record<string, unknown>,
  timeoutMs: number,
): Promise<ToolOutcome> {
  const result = await client.callTool({ name: tool, arguments: args }, undefined, { timeout: timeoutMs });
  return { text: resultText(result), isError: result.isError === true };
}

type Content = {
  type?: string;
  text?: string;
  mimeType?: string;
  uri?: string;
  resource?: { uri?: string; text?: string };
};

/** The tool result as text for the model: text parts as they are, other parts described briefly. */
function resultText(result: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const item of (Array.isArray(result.content) ? result.content : []) as Content[]) {
    if (item.type === "text") parts.push(item.text ?? "");
    else if (item.type === "resource")
      parts.push(item.resource?.text ?? `[resource ${item.resource?.uri ?? ""}]`);
    else if (item.type === "resource_link") parts.push(`[resource ${item.uri ?? ""}]`);
    else parts.push(`[${item.type ?? "content"}${item.mimeType ? ` ${item.mimeType}` : ""}]`);
  }
  if (parts.length === 0 && result.structuredContent !== undefined)
    return JSON.stringify(result.structuredContent);
  // Compatibility results (old protocol) carry `toolResult` instead of content.
  if (parts.length === 0 && result.toolResult !== undefined) return JSON.stringify(result.toolResult);
  return parts.join("\n");
}

/** Error text safe to log or record: secret values from the headers are cut out. */
export function safeMessage(server: McpServerConfig, error: unknown): string {
  let message = error instanceof Error ? error.message : String(error);
  for (const secret of server.secrets) message = message.split(secret).join("[redacted]");
  return message.slice(0, 500);
}
