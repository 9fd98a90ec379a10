/**
 * A real MCP server for tests: @modelcontextprotocol/server-everything over Streamable HTTP, run as
 * a child process on a free port.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { PortTakenError, withFreePorts } from "../../scripts/lib/wrangler.mjs";

export interface RunningMcpServer {
  url: string;
  stop(): Promise<void>;
}

export function startEverythingServer(): Promise<RunningMcpServer> {
  // The server takes its port from PORT, chosen before it starts (retried if taken meanwhile).
  return withFreePorts(1, (ports) => startOnce(ports[0]!));
}

async function startOnce(port: number): Promise<RunningMcpServer> {
  const entry = createRequire(import.meta.url).resolve(
    "@modelcontextprotocol/server-everything/dist/index.js",
  );
  const child: ChildProcess = spawn(process.execPath, [entry, "streamableHttp"], {
    env: { ...process.env, PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise<never>((_, reject) =>
    child.once("exit", (code) => {
      const message = `MCP server exited early (${code}): ${output.slice(-500)}`;
      reject(/already in use|EADDRINUSE/.test(output) ? new PortTakenError(message) : new Error(message));
    }),
  );
  exited.catch(() => {}); // observed below; a server stopped later must not be an unhandled rejection
  const collect = (data: Buffer) => {
    output += data.toString();
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  // It logs "listening" before its bind has succeeded, so readiness is an HTTP answer instead
  // (and an exit, such as "Port … is already in use", ends the wait at once).
  const deadline = Date.now() + 15_000;
  const answered = async (): Promise<void> => {
    // Stops once the child has exited: the race below has already failed on that.
    while (Date.now() < deadline && child.exitCode === null) {
      const ok = await fetch(`http://127.0.0.1:${port}/mcp`, { signal: AbortSignal.timeout(1_000) }).then(
        async (r) => {
          await r.arrayBuffer();
          return true;
        },
        () => false,
      );
      if (ok && child.exitCode === null) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`MCP server did not start in 15 s: ${output.slice(-500)}`);
  };
  try {
    await Promise.race([answered(), exited]);
  } catch (error) {
    child.kill("SIGTERM");
    throw error;
  }
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    stop: async () => {
      child.kill("SIGTERM");
    },
  };
}
