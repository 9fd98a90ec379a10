/**
 * MCP configuration: MCP_SERVERS (a JSON list of servers) and the MCP_* settings around it.
 * Parsed once per env object. Header values may name Worker secrets as `${NAME}`; they are resolved
 * here and live only in the returned object: errors name the server, the header and the secret,
 * never a value.
 */
import { ConfigError, type Env } from "../config";

export interface McpServerConfig {
  name: string;
  url: string;
  /** Resolved header values (may hold secrets: never log or record them). */
  headers: Record<string, string>;
  /** The secret values used in headers, so error texts can be scrubbed of them. */
  secrets: string[];
  allow: RegExp[];
  deny: RegExp[];
}

export interface McpConfig {
  servers: McpServerConfig[];
  /** Models that never get injected tools (e.g. Claude Code's small/fast model). */
  skipModels: RegExp | null;
  /** Upper bound on upstream calls per client request while the gateway runs injected tools. */
  maxIterations: number;
  /** How long a cached tool list counts as fresh; older lists are served and refreshed in the background. */
  cacheTtlSeconds: number;
  /** Per MCP request (connect, list, call). */
  timeoutMs: number;
}

// Server names become part of tool names (`bmcp_<server>_<tool>`, at most 64 characters).
const SERVER_NAME = /^[A-Za-z0-9-]{1,24}$/;
const SECRET_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

const cache = new WeakMap<object, McpConfig>();

export function getMcpConfig(env: Env): McpConfig {
  let config = cache.get(env);
  if (!config) {
    config = parseMcpConfig(env);
    cache.set(env, config);
  }
  return config;
}

export function parseMcpConfig(env: Env): McpConfig {
  return {
    servers: parseServers(env),
    skipModels: parseRegex("MCP_SKIP_MODELS", stringVar(env, "MCP_SKIP_MODELS")),
    maxIterations: positiveInt(env, "MCP_MAX_ITERATIONS", 10),
    cacheTtlSeconds: positiveInt(env, "MCP_CACHE_TTL_SECONDS", 300),
    timeoutMs: positiveInt(env, "MCP_TIMEOUT_SECONDS", 30) * 1000,
  };
}

function parseServers(env: Env): McpServerConfig[] {
  const raw = stringVar(env, "MCP_SERVERS") ?? "[]";
  let list: unknown;
  try {
    list = JSON.parse(raw);
  } catch {
    throw new ConfigError("MCP_SERVERS", "is not valid JSON");
  }
  if (!Array.isArray(list)) throw new ConfigError("MCP_SERVERS", "must be a JSON list of servers");
  const names = new Set<string>();
  return list.map((entry, position) => {
    const label =
      entry && typeof entry === "object" && typeof entry.name === "string"
        ? `server "${entry.name.slice(0, 40)}"`
        : `server #${position + 1}`;
    const fail = (problem: string) => new ConfigError("MCP_SERVERS", `${label}: ${problem}`);
    if (!entry || typeof entry !== "object" || Array.isArray(entry)) throw fail("must be an object");
    const { name, url, headers, allow, deny } = entry as Record<string, unknown>;
    if (typeof name !== "string" || !SERVER_NAME.test(name)) {
      throw fail("name must be 1-24 letters, digits or dashes");
    }
    if (names.has(name)) throw fail("name is used twice");
    names.add(name);
    if (typeof url !== "string" || !isHttpUrl(url)) throw fail("url must be an http(s) URL");
    const secrets: string[] = [];
    return {
      name,
      url,
      headers: resolveHeaders(env, headers, secrets, fail),
      secrets,
      allow: regexList(allow, "allow", fail),
      deny: regexList(deny, "deny", fail),
    };
  });
}

function resolveHeaders(
  env: Env,
  headers: unknown,
  secrets: string[],
  fail: (problem: string) => ConfigError,
): Record<string, string> {
  if (headers === undefined) return {};
  if (!headers || typeof headers !== "object" || Array.isArray(headers))
    throw fail("headers must be an object");
  const resolved: Record<string, string> = {};
  for (const [header, value] of Object.entries(headers)) {
    if (typeof value !== "string") throw fail(`header "${header}" must be a string`);
    resolved[header] = value.replace(SECRET_REF, (_, secret: string) => {
      const found = env[secret];
      if (typeof found !== "string" || found === "") {
        throw fail(`header "${header}" names secret ${secret}, which is not set`);
      }
      secrets.push(found);
      return found;
    });
  }
  return resolved;
}

function regexList(value: unknown, field: string, fail: (problem: string) => ConfigError): RegExp[] {
  if (value === undefined) return [];
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list)) throw fail(`${field} must be a list of regular expressions`);
  return list.map((pattern) => {
    if (typeof pattern !== "string") throw fail(`${field} must be a list of regular expressions`);
    try {
      return new RegExp(pattern);
    } catch {
      throw fail(`${field} has an invalid regular expression: ${pattern.slice(0, 100)}`);
    }
  });
}

function isHttpUrl(value: string): boolean {
  try {
    return ["http:", "https:"].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

/** Deny wins; with no allow list every tool not denied is allowed. */
export function toolAllowed(server: McpServerConfig, tool: string): boolean {
  if (server.deny.some((pattern) => pattern.test(tool))) return false;
  return server.allow.length === 0 || server.allow.some((pattern) => pattern.test(tool));
}

function stringVar(env: Env, name: string): string | undefined {
  const value = env[name];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new ConfigError(name, "must be a string");
  return value;
}

function parseRegex(name: string, value: string | undefined): RegExp | null {
  if (value === undefined) return null;
  try {
    return new RegExp(value);
  } catch {
    throw new ConfigError(name, "is not a valid regular expression");
  }
}

function positiveInt(env: Env, name: string, fallback: number): number {
  const raw = stringVar(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new ConfigError(name, "must be a positive integer");
  return value;
}
