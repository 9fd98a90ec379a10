/**
 * Injected tools as JSON text, one function per API. The text is built from the cached lists in a
 * fixed order, so the same configuration gives the same bytes on every request (the provider's
 * prompt cache is an exact prefix match). Each returns the array elements joined by commas, ready
 * to be spliced into a tools array.
 */
import type { InjectedTool } from "./tools";

/** The server's schema, minus `$schema` (a draft URL the providers do not need), always an object type. */
function parameters(tool: InjectedTool): Record<string, unknown> {
  const { $schema: _ignored, ...schema } = tool.inputSchema;
  return schema.type === "object" ? schema : { type: "object", ...schema };
}

function description(tool: InjectedTool): { description?: string } {
  return tool.description ? { description: tool.description } : {};
}

export function anthropicToolsJson(tools: InjectedTool[]): string {
  return tools
    .map((tool) => JSON.stringify({ name: tool.name, ...description(tool), input_schema: parameters(tool) }))
    .join(",");
}

export function chatToolsJson(tools: InjectedTool[]): string {
  return tools
    .map((tool) =>
      JSON.stringify({
        type: "function",
        function: { name: tool.name, ...description(tool), parameters: parameters(tool) },
      }),
    )
    .join(",");
}

/** Responses function tools are strict by default; MCP schemas are not written for strict mode. */
export function responsesToolsJson(tools: InjectedTool[]): string {
  return tools
    .map((tool) =>
      JSON.stringify({
        type: "function",
        name: tool.name,
        ...description(tool),
        parameters: parameters(tool),
        strict: false,
      }),
    )
    .join(",");
}
