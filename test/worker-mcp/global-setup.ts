/** Starts the fake model that calls injected (bmcp_) tools, for the worker-mcp project. */
import type { TestProject } from "vitest/node";
import { startMcpUpstream } from "../fakes/mcp-upstream";

declare module "vitest" {
  export interface ProvidedContext {
    mcpUpstreamUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const upstream = await startMcpUpstream();
  project.provide("mcpUpstreamUrl", upstream.url);
  return () => upstream.close();
}
