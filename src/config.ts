/**
 * Bindings and configuration. Vars and secrets are parsed and validated once per isolate (per env
 * object); a bad value becomes a ConfigError that names the variable, never its value.
 */

import { type PriceOverrides, parsePriceOverrides } from "./pricing/overrides";
import { parseRecordingConfig, type RecordingConfig } from "./redaction/config";

export interface Env {
  DB: D1Database;
  KV: KVNamespace;
  RECORDS: Queue<unknown>;
  METRICS?: AnalyticsEngineDataset;
  /** Long tool arguments, thoughts and text parts (src/recorder/content.ts); optional. */
  CONTENT?: R2Bucket;
  CONTENT_OFFLOAD_BYTES?: string;
  /** Per-user limits (src/limits): one Durable Object per user. */
  LIMITER?: DurableObjectNamespace<import("./limits/limiter").UserLimiter>;
  ANTHROPIC_BASE_URL?: string;
  OPENAI_BASE_URL?: string;
  ANTHROPIC_API_KEY?: string;
  OPENAI_API_KEY?: string;
  ADMIN_TOKEN?: string;
  BYOK?: string;
  MCP_SERVERS?: string;
  RETENTION_DAYS?: string;
  CONTENT_RETENTION_DAYS?: string;
  USAGE_RETENTION_DAYS?: string;
  ROLLUP_RETENTION_DAYS?: string;
  PRICING_OVERRIDES?: string;
  RECORDS_RETRY_BASE_SECONDS?: string;
  UPSTREAM_IDLE_TIMEOUT_SECONDS?: string;
  DISCONNECT_DRAIN_SECONDS?: string;
  START_RECORD_DELAY_SECONDS?: string;
  BACKGROUND_POLL_FIRST_SECONDS?: string;
  /** Follow-up polls for background responses (src/background/follow.ts). */
  BACKGROUND?: Queue<unknown>;
  CORS_ORIGINS?: string;
  RECORD_CONTENT?: string;
  REDACTION_KEY?: string;
  [secret: string]: unknown;
}

export interface Config {
  anthropicBaseUrl: string;
  openaiBaseUrl: string;
  anthropicApiKey: string | undefined;
  openaiApiKey: string | undefined;
  adminToken: string | undefined;
  byok: boolean;
  /** Days prompts, tool arguments, thoughts (and dead letters) are kept. */
  contentRetentionDays: number;
  /** Days interceptions and token-usage rows are kept. */
  usageRetentionDays: number;
  /** Days the daily usage rollups are kept (default: as long as the usage rows). */
  rollupRetentionDays: number;
  /** Longest wait for upstream response headers, and longest silence inside a stream. */
  upstreamIdleTimeoutMs: number;
  /** After a client disconnect, how long the relay keeps reading for the final usage (≤ 30 s). */
  disconnectDrainMs: number;
  /** How long a request runs before its start record is queued on its own (src/bridge/interception.ts). */
  startRecordDelayMs: number;
  /** First delay before polling a background response; doubles per poll (src/background). */
  backgroundPollFirstSeconds: number;
  /** First retry delay for a failed D1 write in the records consumer (0 = at once). */
  recordsRetryBaseSeconds: number;
  /** Browser origins allowed to call the provider routes; empty = no CORS headers at all. */
  corsOrigins: string[];
  /** Raw MCP_SERVERS JSON; parsed and validated by src/mcp/config.ts. */
  mcpServersJson: string;
  /** Per-model prices from PRICING_OVERRIDES (lower-cased model id or family → USD per MTok). */
  pricingOverrides: PriceOverrides;
  /** RECORD_CONTENT and the marker key (src/redaction/config.ts). */
  recording: RecordingConfig;
  /** Which interceptions end with a log line: "errors" (any not completed) or "all". */
  logInterceptions: "errors" | "all";
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`Invalid configuration: ${variable} ${problem}`);
    this.name = "ConfigError";
  }
}

const cache = new WeakMap<object, Config>();

export function getConfig(env: Env): Config {
  let config = cache.get(env);
  if (!config) {
    config = parseConfig(env);
    cache.set(env, config);
  }
  return config;
}

export function parseConfig(env: Env): Config {
  const adminToken = parseAdminToken(env);
  return {
    anthropicBaseUrl: parseBaseUrl(env, "ANTHROPIC_BASE_URL", "https://api.anthropic.com"),
    openaiBaseUrl: parseBaseUrl(env, "OPENAI_BASE_URL", "https://api.openai.com/v1"),
    anthropicApiKey: optionalSecret(env, "ANTHROPIC_API_KEY"),
    openaiApiKey: optionalSecret(env, "OPENAI_API_KEY"),
    adminToken,
    byok: parseBoolean(env, "BYOK", true),
    // RETENTION_DAYS (the single knob of earlier versions) still sets both when they are not set.
    contentRetentionDays: parsePositiveInt(
      env,
      "CONTENT_RETENTION_DAYS",
      parsePositiveInt(env, "RETENTION_DAYS", 30),
    ),
    usageRetentionDays: parsePositiveInt(
      env,
      "USAGE_RETENTION_DAYS",
      parsePositiveInt(env, "RETENTION_DAYS", 400),
    ),
    // Large organisations keep raw usage rows briefly and the (small) daily rollups long.
    rollupRetentionDays: parsePositiveInt(
      env,
      "ROLLUP_RETENTION_DAYS",
      parsePositiveInt(env, "USAGE_RETENTION_DAYS", parsePositiveInt(env, "RETENTION_DAYS", 400)),
    ),
    corsOrigins: parseOrigins(env, "CORS_ORIGINS"),
    upstreamIdleTimeoutMs: parsePositiveInt(env, "UPSTREAM_IDLE_TIMEOUT_SECONDS", 300) * 1000,
    // waitUntil gives a request about 30 s after its response ends; the drain must finish within it.
    disconnectDrainMs: parseIntInRange(env, "DISCONNECT_DRAIN_SECONDS", 25, 1, 28) * 1000,
    // Held in waitUntil when the handler throws, so it must stay within waitUntil's ~30 s.
    startRecordDelayMs: parseIntInRange(env, "START_RECORD_DELAY_SECONDS", 10, 0, 25) * 1000,
    backgroundPollFirstSeconds: parseIntInRange(env, "BACKGROUND_POLL_FIRST_SECONDS", 5, 1, 3600),
    recordsRetryBaseSeconds: parseIntInRange(env, "RECORDS_RETRY_BASE_SECONDS", 2, 0, 300),
    mcpServersJson: stringVar(env, "MCP_SERVERS") ?? "[]",
    pricingOverrides: parsePricingOverrides(env),
    recording: parseRecording(env, adminToken),
    logInterceptions: parseChoice(env, "LOG_INTERCEPTIONS", ["errors", "all"], "errors"),
  };
}

function stringVar(env: Env, name: string): string | undefined {
  const value = env[name];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new ConfigError(name, "must be a string");
  return value;
}

function parseBaseUrl(env: Env, name: string, fallback: string): string {
  const raw = stringVar(env, name) ?? fallback;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, "is not a valid URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new ConfigError(name, "must be an http(s) URL");
  }
  if (url.search || url.hash) throw new ConfigError(name, "must not have a query string or fragment");
  return raw.replace(/\/+$/, "");
}

function optionalSecret(env: Env, name: string): string | undefined {
  const value = stringVar(env, name);
  if (value !== undefined && /\s/.test(value)) throw new ConfigError(name, "contains whitespace");
  return value;
}

function parseAdminToken(env: Env): string | undefined {
  const token = optionalSecret(env, "ADMIN_TOKEN");
  // A short admin token is guessable; refuse it rather than protect the admin API with it.
  if (token !== undefined && token.length < 16) {
    throw new ConfigError("ADMIN_TOKEN", "must be at least 16 characters");
  }
  return token;
}

function parseBoolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = stringVar(env, name);
  if (raw === undefined) return fallback;
  const lowered = raw.trim().toLowerCase();
  if (["true", "1", "yes", "on"].includes(lowered)) return true;
  if (["false", "0", "no", "off"].includes(lowered)) return false;
  throw new ConfigError(name, "must be true or false");
}

function parseChoice<T extends string>(env: Env, name: string, choices: readonly T[], fallback: T): T {
  const raw = stringVar(env, name)?.trim().toLowerCase();
  if (raw === undefined || raw === "") return fallback;
  if ((choices as readonly string[]).includes(raw)) return raw as T;
  throw new ConfigError(name, `must be one of ${choices.join(", ")}`);
}

function parsePricingOverrides(env: Env): PriceOverrides {
  const result = parsePriceOverrides(stringVar(env, "PRICING_OVERRIDES") ?? "{}");
  if (typeof result === "string") throw new ConfigError("PRICING_OVERRIDES", result);
  return result;
}

function parseRecording(env: Env, adminToken: string | undefined): RecordingConfig {
  const vars = {
    RECORD_CONTENT: stringVar(env, "RECORD_CONTENT"),
    REDACTION_KEY: stringVar(env, "REDACTION_KEY"),
  };
  const result = parseRecordingConfig(vars, adminToken);
  if ("problem" in result) throw new ConfigError(result.variable, result.problem);
  return result;
}

function parsePositiveInt(env: Env, name: string, fallback: number): number {
  const raw = stringVar(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new ConfigError(name, "must be a positive integer");
  return value;
}

function parseIntInRange(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = stringVar(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new ConfigError(name, `must be an integer from ${min} to ${max}`);
  return value;
}

function parseOrigins(env: Env, name: string): string[] {
  const raw = stringVar(env, name);
  if (raw === undefined) return [];
  return raw
    .split(",")
    .map((origin) => origin.trim())
    .filter(Boolean)
    .map((origin) => {
      let url: URL;
      try {
        url = new URL(origin);
      } catch {
        throw new ConfigError(name, "must be a comma-separated list of origins like https://app.example.com");
      }
      if (url.origin !== origin)
        throw new ConfigError(name, "entries must be bare origins (scheme://host[:port])");
      return origin;
    });
}
