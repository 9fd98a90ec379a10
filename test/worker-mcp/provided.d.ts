// What the global setups hand to the tests (test/global-setup.ts and test/worker-mcp/global-setup.ts).
declare module "vitest" {
  export interface ProvidedContext {
    anthropicUrl: string;
    openaiUrl: string;
    openaiSecondUrl: string;
    mcpUrl: string;
    bedrockUrl: string;
    flakyUrl: string;
  }
}

export {};
