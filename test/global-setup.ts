/**
 * Starts the real local servers the Worker tests talk to (fake provider upstreams, a real MCP
 * server) and hands their addresses to the tests through vitest's provide/inject.
 */
import type { TestProject } from "vitest/node";
import { startFakeAnthropic } from "./fakes/anthropic";
import { startFakeBedrock } from "./fakes/bedrock";
import { startFakeFlaky } from "./fakes/flaky";
import { startEverythingServer } from "./fakes/mcp";
import { startFakeOpenAI } from "./fakes/openai";

declare module "vitest" {
  export interface ProvidedContext {
    anthropicUrl: string;
    openaiUrl: string;
    /** A second fake OpenAI (another upstream on its own port): a named instance's. */
    openaiSecondUrl: string;
    mcpUrl: string;
    bedrockUrl: string;
    flakyUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const [anthropic, openai, mcp, bedrock, flaky, openaiSecond] = await Promise.all([
    startFakeAnthropic(),
    startFakeOpenAI(),
    startEverythingServer(),
    startFakeBedrock(),
    startFakeFlaky(),
    startFakeOpenAI(),
  ]);
  project.provide("anthropicUrl", anthropic.url);
  project.provide("openaiUrl", openai.url);
  project.provide("openaiSecondUrl", openaiSecond.url);
  project.provide("mcpUrl", mcp.url);
  project.provide("bedrockUrl", bedrock.url);
  project.provide("flakyUrl", flaky.url);
  return async () => {
    await Promise.all([
      anthropic.close(),
      openai.close(),
      mcp.stop(),
      bedrock.close(),
      flaky.close(),
      openaiSecond.close(),
    ]);
  };
}
