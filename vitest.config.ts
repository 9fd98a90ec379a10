import { execFileSync } from "node:child_process";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

/** Test-only secrets. They are fake, and tests grep outputs for them to prove they never leak. */
export const TEST_SECRETS = {
  ANTHROPIC_API_KEY: "sk-ant-test-CENTRAL-SECRET-0000000000",
  OPENAI_API_KEY: "sk-openai-test-CENTRAL-SECRET-000000",
  ADMIN_TOKEN: "admin-test-token-0123456789abcdef",
};

export default defineConfig(async () => {
  // The dashboard's files module the Worker imports (wrangler builds it itself for dev and deploy; the
  // pool does not).
  execFileSync(process.execPath, ["scripts/build-dashboard.mjs"], { stdio: "inherit" });
  const migrations = await readD1Migrations("./migrations");
  return {
    test: {
      projects: [
        {
          plugins: [
            cloudflareTest(({ inject }) => ({
              main: "./src/index.ts",
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: {
                bindings: {
                  ...TEST_SECRETS,
                  ANTHROPIC_BASE_URL: inject("anthropicUrl"),
                  OPENAI_BASE_URL: `${inject("openaiUrl")}/v1`,
                  TEST_MIGRATIONS: migrations,
                  // Retry failed record writes at once, so the dead-letter path runs in seconds.
                  RECORDS_RETRY_BASE_SECONDS: "0",
                  // Lets tests move the limits Durable Object's clock (rollover, rate windows).
                  LIMITS_TEST_CLOCK: "true",
                  // Every interception logs, so the tests that check no secret reaches a log see them all.
                  LOG_INTERCEPTIONS: "all",
                },
              },
            })),
          ],
          test: {
            name: "worker",
            include: ["test/worker/**/*.test.ts"],
            setupFiles: ["./test/worker/setup.ts"],
            globalSetup: ["./test/global-setup.ts"],
            // Records reach D1 through the real queue (~1 s per hop locally); tests wait on them.
            testTimeout: 30_000,
          },
        },
        {
          // The MCP inner loop: MCP_SERVERS points at the real MCP server (plus one that is down),
          // and the provider base URLs at a fake model that calls the injected tools.
          plugins: [
            cloudflareTest(({ inject }) => ({
              main: "./src/index.ts",
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: {
                bindings: {
                  ...TEST_SECRETS,
                  ANTHROPIC_BASE_URL: inject("mcpUpstreamUrl"),
                  OPENAI_BASE_URL: `${inject("mcpUpstreamUrl")}/v1`,
                  MCP_SERVERS: JSON.stringify([
                    {
                      name: "everything",
                      url: inject("mcpUrl"),
                      // biome-ignore lint/suspicious/noTemplateCurlyInString: how MCP_SERVERS names a secret
                      headers: { "x-mcp-token": "${MCP_TEST_TOKEN}" },
                      allow: ["^echo$", "^get-sum$"],
                    },
                    { name: "down", url: "http://127.0.0.1:9/mcp" },
                  ]),
                  MCP_TEST_TOKEN: "mcp-test-TOKEN-must-never-leak-9f3a",
                  MCP_SKIP_MODELS: "haiku",
                  MCP_MAX_ITERATIONS: "3",
                  TEST_MIGRATIONS: migrations,
                  LIMITS_TEST_CLOCK: "true",
                },
              },
            })),
          ],
          test: {
            name: "worker-mcp",
            include: ["test/worker-mcp/**/*.test.ts"],
            setupFiles: ["./test/worker/setup.ts"],
            globalSetup: ["./test/global-setup.ts", "./test/worker-mcp/global-setup.ts"],
            // The first request of a file loads the MCP SDK and lists the tools cold.
            testTimeout: 20_000,
          },
        },
        {
          test: {
            name: "node",
            include: ["test/node/**/*.test.ts"],
            environment: "node",
            testTimeout: 120_000,
            hookTimeout: 120_000,
          },
        },
      ],
    },
  };
});
