/**
 * Starts the real local servers the Worker tests talk to (fake provider upstreams, an MCP server)
 * and hands their addresses to the tests through vitest's provide/inject.
 */
import type { TestProject } from "vitest/node";
import { startFakeAnthropic } from "./fakes/anthropic";

declare module "vitest" {
  export interface ProvidedContext {
    anthropicUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const anthropic = await startFakeAnthropic();
  project.provide("anthropicUrl", anthropic.url);
  return async () => {
    await anthropic.close();
  };
}
