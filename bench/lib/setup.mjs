/**
 * What every benchmark script sets up the same way: the requests it sends, the fake upstream
 * process, a gateway's local state with a key, and the gateway's vars.
 */
import { execFileSync, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { claudeCodeBody } from "../fixtures/claude-code-body.mjs";
import { PROVIDER_KEY } from "./upstream.mjs";
import { OFFLINE_ENV, PROJECT_ROOT, startWranglerDev, wranglerRun } from "./wrangler.mjs";

export const BLOCKING_BODY = JSON.stringify({
  model: "claude-sonnet-4-5-20250929",
  max_tokens: 1024,
  system: [{ type: "text", text: "You are a helpful assistant.", cache_control: { type: "ephemeral" } }],
  messages: [{ role: "user", content: "Say hello to the benchmark, in one short sentence please." }],
  metadata: { user_id: "user_bench_session_00000000-0000-4000-8000-000000000000" },
});
export const STREAM_BODY = JSON.stringify({ ...JSON.parse(BLOCKING_BODY), stream: true });
/** The request of an agentic coding turn (system prompt, tools, a conversation), as Claude Code sends it. */
export const TURN_BODY = claudeCodeBody(86 * 1024);

/** The two request shapes the CPU measurements use, by name: a small streamed chat, a Claude Code turn. */
export function requestShape(name, turnEvents = 1000) {
  return name === "turn"
    ? { body: TURN_BODY, headers: { "x-bench-shape": "claude-code", "x-bench-events": String(turnEvents) } }
    : { body: STREAM_BODY, headers: { "x-bench-events": "20" } };
}

/** bench/lib/upstream.mjs in its own process: { url, pid, bigWritten, stop() }. */
export async function startUpstreamProcess() {
  const child = fork(join(import.meta.dirname, "upstream.mjs"), [], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const { url } = await new Promise((resolve, reject) => {
    child.once("message", resolve);
    child.once("exit", (code) => reject(new Error(`upstream exited with ${code}`)));
  });
  const upstream = { url, pid: child.pid, bigWritten: 0, stop: () => child.kill("SIGTERM") };
  child.on("message", (message) => {
    if (typeof message?.bigWritten === "number") upstream.bigWritten = message.bigWritten;
  });
  return upstream;
}

/**
 * A gateway's local state under `persistTo`: the migrations of the checkout at `root` applied to
 * its D1, and a gateway key minted by that checkout's scripts/keys.mjs (returned).
 */
export async function createGatewayKey(persistTo, root = PROJECT_ROOT) {
  await mkdir(persistTo, { recursive: true });
  const config = join(root, "wrangler.toml");
  await wranglerRun(
    ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo, "--config", config],
    {
      cwd: root,
    },
  );
  const out = execFileSync(
    process.execPath,
    [join(root, "scripts/keys.mjs"), "create", "--user", "bench@example.com", "--persist-to", persistTo],
    { cwd: root, env: { ...process.env, ...OFFLINE_ENV } },
  );
  const key = out.toString().trim().split("\n").pop();
  if (!key?.startsWith("aib_")) throw new Error(`no key in keys.mjs output:\n${out}`);
  return key;
}

/**
 * bench/passthrough-worker under a `wrangler dev` of its own, state under `stateDir/name`. One per
 * measured path: a request that follows another to the same dev server finds that process warm
 * and runs faster, so paths that shared one would flatter each other.
 */
export function startPassthrough(name, upstreamUrl, stateDir) {
  return startWranglerDev({
    name,
    config: join(PROJECT_ROOT, "bench/passthrough-worker/wrangler.toml"),
    vars: { UPSTREAM_URL: upstreamUrl },
    persistTo: join(stateDir, name),
  });
}

/** The gateway's vars against the fake upstream (no MCP servers, a fresh admin token). */
export function gatewayVars(upstreamUrl) {
  return {
    ANTHROPIC_BASE_URL: upstreamUrl,
    OPENAI_BASE_URL: `${upstreamUrl}/v1`,
    ANTHROPIC_API_KEY: PROVIDER_KEY,
    OPENAI_API_KEY: "sk-openai-bench-unused",
    ADMIN_TOKEN: randomBytes(24).toString("hex"),
    MCP_SERVERS: "[]",
  };
}
