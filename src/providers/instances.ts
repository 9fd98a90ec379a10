/**
 * Named provider instances (PROVIDERS). Each instance is one upstream mounted at `/{name}` with the
 * routes of its type. Unset PROVIDERS means today's two instances, `anthropic` and `openai`, built
 * from ANTHROPIC_* / OPENAI_* exactly as before (no breaker, no fallback, one key each).
 *
 * Key values name Worker secrets as `${SECRET}` and are resolved here, once per env object; errors
 * name the instance and the variable, never a value.
 */
import type { UpstreamCredential } from "../auth/actor";
import { type Config, ConfigError, type Env, getConfig } from "../config";

export type InstanceType = "anthropic" | "openai" | "bedrock" | "copilot";
/** The API clients speak to an instance: Anthropic Messages or OpenAI (chat completions, responses). */
export type InstanceApi = "anthropic" | "openai";

export interface BreakerSettings {
  /** Failures (5xx, 529, unreachable, timeout) within the window that open the breaker. */
  failures: number;
  windowMs: number;
  /** How long the breaker stays open before one probe is let through. */
  cooldownMs: number;
}

export interface BedrockSettings {
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string | undefined;
  /** Client model id → Bedrock model id (or inference profile id); unmapped ids pass through. */
  modelMap: Record<string, string>;
}

export interface ProviderInstance {
  name: string;
  type: InstanceType;
  api: InstanceApi;
  /** No trailing slash. Anthropic: the host root; OpenAI-compatible: the prefix before /chat/completions. */
  baseUrl: string;
  /** Central keys (resolved secrets: never log or record them). Empty: BYOK only. */
  keys: string[];
  /**
   * The header a central key travels in: `x-api-key` (Anthropic), `authorization` (Bearer, OpenAI)
   * or `api-key` (Azure OpenAI; `"auth": "api-key"`). Clients of an `api-key` instance may also put
   * their credential there.
   */
  keyHeader: UpstreamCredential["header"];
  /** What to say (variable, problem) when a request needs a central key and there is none. */
  noKey: [variable: string, problem: string];
  /** The user's own token is required (Copilot): the gateway never uses a central key. */
  byokOnly: boolean;
  /** Models this instance serves (a fallback is skipped for others); null = any. */
  models: string[] | null;
  fallback: string | null;
  breaker: BreakerSettings | null;
  /** Anthropic streams: a `ping` after this much upstream silence. */
  keepaliveMs: number;
  /** Headers every upstream request of this instance carries (Copilot's editor identity). */
  headers: Record<string, string>;
  bedrock: BedrockSettings | null;
}

export const DEFAULT_BREAKER: BreakerSettings = { failures: 5, windowMs: 60_000, cooldownMs: 30_000 };
export const DEFAULT_KEEPALIVE_MS = 10_000;

/**
 * The headers GitHub's Copilot API expects from an editor integration (Copilot-Integration-Id,
 * Editor-Version, Editor-Plugin-Version): observed in open-source Copilot clients, since GitHub
 * does not document the chat endpoint. The client's own values win (only missing ones are added).
 */
export const COPILOT_HEADERS: Record<string, string> = {
  "copilot-integration-id": "vscode-chat",
  "editor-version": "vscode/1.104.1",
  "editor-plugin-version": "copilot-chat/0.26.7",
  "openai-intent": "conversation-panel",
};

const TYPES: Record<InstanceType, InstanceApi> = {
  anthropic: "anthropic",
  bedrock: "anthropic",
  openai: "openai",
  copilot: "openai",
};

// Becomes the first path segment; the gateway's own segments are reserved.
const NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const RESERVED = new Set(["admin", "healthz"]);
const SECRET_REF = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;
const VAR = "PROVIDERS";
const LEGACY_NO_KEY = "is not set (and the request brought no key of its own)";

const cache = new WeakMap<object, ProviderInstance[]>();

/** Name → type, without resolving secrets or URLs (routing needs only this). */
export function instanceTypes(env: Env): Map<string, InstanceType> {
  if (!isSet(env.PROVIDERS)) {
    return new Map([
      ["anthropic", "anthropic"],
      ["openai", "openai"],
    ]);
  }
  return new Map(getInstances(env).map((instance) => [instance.name, instance.type]));
}

/**
 * The type a broken PROVIDERS declares for a name, best effort: so its configuration error can
 * still be answered in the shape of the API the client speaks.
 */
export function declaredType(env: Env, name: string): InstanceType | undefined {
  try {
    const list = JSON.parse(String(env.PROVIDERS)) as { name?: unknown; type?: unknown }[];
    const type = list.find((entry) => entry?.name === name)?.type;
    return typeof type === "string" && type in TYPES ? (type as InstanceType) : undefined;
  } catch {
    return undefined;
  }
}

export function getInstances(env: Env): ProviderInstance[] {
  let instances = cache.get(env);
  if (!instances) {
    instances = isSet(env.PROVIDERS) ? parseInstances(env) : legacyInstances(getConfig(env));
    cache.set(env, instances);
  }
  return instances;
}

export function getInstance(env: Env, name: string): ProviderInstance | undefined {
  return getInstances(env).find((instance) => instance.name === name);
}

function isSet(value: unknown): boolean {
  return value !== undefined && value !== null && value !== "";
}

/** Today's configuration as two instances: same URLs, same key, same error texts. */
function legacyInstances(config: Config): ProviderInstance[] {
  const common = {
    byokOnly: false,
    models: null,
    fallback: null,
    breaker: null,
    keepaliveMs: DEFAULT_KEEPALIVE_MS,
    headers: {},
    bedrock: null,
  };
  return [
    {
      ...common,
      name: "anthropic",
      type: "anthropic",
      api: "anthropic",
      baseUrl: config.anthropicBaseUrl,
      keys: config.anthropicApiKey ? [config.anthropicApiKey] : [],
      keyHeader: "x-api-key",
      noKey: ["ANTHROPIC_API_KEY", LEGACY_NO_KEY],
    },
    {
      ...common,
      name: "openai",
      type: "openai",
      api: "openai",
      baseUrl: config.openaiBaseUrl,
      keys: config.openaiApiKey ? [config.openaiApiKey] : [],
      keyHeader: "authorization",
      noKey: ["OPENAI_API_KEY", LEGACY_NO_KEY],
    },
  ];
}

export function parseInstances(env: Env): ProviderInstance[] {
  const raw = env.PROVIDERS;
  if (typeof raw !== "string") throw new ConfigError(VAR, "must be a string");
  let list: unknown;
  try {
    list = JSON.parse(raw);
  } catch {
    throw new ConfigError(VAR, "is not valid JSON");
  }
  if (!Array.isArray(list) || list.length === 0) {
    throw new ConfigError(VAR, "must be a non-empty JSON list of instances");
  }
  const names = new Set<string>();
  const instances = list.map((entry, position) => {
    const instance = parseInstance(env, entry, position);
    if (names.has(instance.name))
      throw new ConfigError(VAR, `instance "${instance.name}": name is used twice`);
    names.add(instance.name);
    return instance;
  });
  for (const instance of instances) {
    if (instance.fallback === null) continue;
    const fail = (problem: string) => new ConfigError(VAR, `instance "${instance.name}": ${problem}`);
    const target = instances.find((other) => other.name === instance.fallback);
    if (!target) throw fail(`fallback "${instance.fallback}" is not an instance`);
    if (target === instance) throw fail("cannot fall back to itself");
    if (target.api !== instance.api)
      throw fail(`fallback "${target.name}" speaks another API (${target.api})`);
    if (target.byokOnly) throw fail(`fallback "${target.name}" needs the user's own token`);
  }
  return instances;
}

function parseInstance(env: Env, entry: unknown, position: number): ProviderInstance {
  const named =
    entry && typeof entry === "object" && typeof (entry as { name?: unknown }).name === "string"
      ? `instance "${String((entry as { name: string }).name).slice(0, 40)}"`
      : `instance #${position + 1}`;
  const fail = (problem: string) => new ConfigError(VAR, `${named}: ${problem}`);
  if (!entry || typeof entry !== "object" || Array.isArray(entry)) throw fail("must be an object");
  const field = entry as Record<string, unknown>;

  const name = field.name;
  if (typeof name !== "string" || !NAME.test(name)) {
    throw fail("name must be 1-32 lower-case letters, digits, - or _, starting with a letter or digit");
  }
  if (RESERVED.has(name)) throw fail(`name "${name}" is reserved by the gateway`);
  const type = field.type;
  if (typeof type !== "string" || !(type in TYPES)) {
    throw fail("type must be one of anthropic, openai, bedrock, copilot");
  }
  const instanceType = type as InstanceType;

  const secret = (key: string, required: boolean): string | undefined => {
    const value = field[key];
    if (value === undefined || value === null) {
      if (required) throw fail(`${key} is required`);
      return undefined;
    }
    return resolveSecret(env, value, `${named}: ${key}`);
  };

  const keyRefs: unknown[] = [];
  if (field.key !== undefined) keyRefs.push(field.key);
  if (field.keys !== undefined) {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the syntax the message asks for
    if (!Array.isArray(field.keys)) throw fail("keys must be a list of ${SECRET} references");
    keyRefs.push(...field.keys);
  }
  if (instanceType === "copilot" && keyRefs.length > 0) {
    throw fail("copilot takes no central key: every user brings their own token");
  }
  if (instanceType === "bedrock" && keyRefs.length > 0) {
    throw fail("bedrock signs with access_key_id / secret_access_key, not key");
  }
  const single = field.key !== undefined ? 1 : 0;
  const keys = keyRefs.map((ref, i) =>
    resolveSecret(env, ref, `${named}: ${i < single ? "key" : `keys[${i - single}]`}`),
  );

  let bedrock: BedrockSettings | null = null;
  if (instanceType === "bedrock") {
    const region = field.region;
    if (typeof region !== "string" || !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) {
      throw fail('region must be an AWS region such as "us-east-1"');
    }
    const modelMap = field.model_map ?? {};
    if (
      typeof modelMap !== "object" ||
      modelMap === null ||
      Array.isArray(modelMap) ||
      !Object.values(modelMap).every((v) => typeof v === "string" && v.length > 0)
    ) {
      throw fail("model_map must map model ids to Bedrock model ids (strings)");
    }
    bedrock = {
      region,
      accessKeyId: secret("access_key_id", true) as string,
      secretAccessKey: secret("secret_access_key", true) as string,
      sessionToken: secret("session_token", false),
      modelMap: modelMap as Record<string, string>,
    };
  }

  const defaults: Record<InstanceType, string> = {
    anthropic: "https://api.anthropic.com",
    openai: "https://api.openai.com/v1",
    copilot: "https://api.githubcopilot.com",
    bedrock: `https://bedrock-runtime.${bedrock?.region ?? ""}.amazonaws.com`,
  };
  const baseUrl = parseUrl(field.base_url ?? defaults[instanceType], fail);
  const keyHeader = parseAuth(instanceType, field.auth, baseUrl, fail);

  let models: string[] | null = null;
  if (field.models !== undefined) {
    if (!Array.isArray(field.models) || !field.models.every((m) => typeof m === "string")) {
      throw fail("models must be a list of model ids");
    }
    models = field.models as string[];
  }
  const fallback = field.fallback ?? null;
  if (fallback !== null && typeof fallback !== "string") throw fail("fallback must be an instance name");

  return {
    name,
    type: instanceType,
    api: TYPES[instanceType],
    baseUrl,
    keys,
    keyHeader,
    noKey: [VAR, `instance "${name}" has no key (and the request brought no key of its own)`],
    byokOnly: instanceType === "copilot",
    models,
    fallback,
    breaker: parseBreaker(field.breaker, fail),
    keepaliveMs: positiveNumber(field.keepalive_seconds, 10, "keepalive_seconds", fail) * 1000,
    headers: instanceType === "copilot" ? COPILOT_HEADERS : {},
    bedrock,
  };
}

/** `${NAME}` → the secret's value. A literal would put a credential in plain [vars]: refused. */
function resolveSecret(env: Env, ref: unknown, where: string): string {
  const match = typeof ref === "string" ? SECRET_REF.exec(ref) : null;
  if (!match?.[1]) {
    throw new ConfigError(VAR, `${where} must name a secret as \${SECRET_NAME}, never hold the value itself`);
  }
  const value = env[match[1]];
  if (typeof value !== "string" || value === "") {
    throw new ConfigError(
      VAR,
      `${where} names ${match[1]}, which is not set (wrangler secret put ${match[1]})`,
    );
  }
  if (/\s/.test(value)) throw new ConfigError(VAR, `${where}: the secret ${match[1]} contains whitespace`);
  return value;
}

function parseUrl(value: unknown, fail: (problem: string) => ConfigError): string {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw fail("base_url is not a valid URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw fail("base_url must be an http(s) URL");
  if (url.search || url.hash) throw fail("base_url must not have a query string or fragment");
  return String(value).replace(/\/+$/, "");
}

/**
 * Hosts of Azure OpenAI / Foundry resources. Their OpenAI-compatible API is the v1 API at
 * `/openai/v1` (Chat Completions, Responses, models: no `api-version` needed), keyed by an `api-key`
 * header. The classic `/openai/deployments/{name}/…?api-version=` API has other paths than the
 * gateway's OpenAI routes and is not supported: refused here rather than answering 404s later.
 */
const AZURE_HOST = /\.(openai\.azure\.com|cognitiveservices\.azure\.com|services\.ai\.azure\.com)$/i;

/**
 * `auth` (OpenAI type only): `bearer` sends the central key as `Authorization: Bearer`, `api-key`
 * as Azure's `api-key` header. Default: `api-key` on an Azure host, else `bearer`.
 */
function parseAuth(
  type: InstanceType,
  value: unknown,
  baseUrl: string,
  fail: (problem: string) => ConfigError,
): UpstreamCredential["header"] {
  if (type === "anthropic" || type === "bedrock" || type === "copilot") {
    if (value !== undefined) throw fail(`auth applies to openai instances only (${type} has its own)`);
    return type === "copilot" ? "authorization" : "x-api-key";
  }
  const url = new URL(baseUrl);
  const azure = AZURE_HOST.test(url.hostname);
  if (azure && url.pathname.replace(/\/+$/, "") !== "/openai/v1") {
    throw fail(
      "base_url on Azure must be the v1 API, https://{resource}.openai.azure.com/openai/v1 (the classic /openai/deployments/{name}?api-version= API is not supported)",
    );
  }
  if (value === undefined) return azure ? "api-key" : "authorization";
  if (value === "bearer") return "authorization";
  if (value === "api-key") return "api-key";
  throw fail('auth must be "bearer" or "api-key"');
}

function parseBreaker(value: unknown, fail: (problem: string) => ConfigError): BreakerSettings | null {
  if (value === false) return null;
  if (value === undefined || value === true) return DEFAULT_BREAKER;
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw fail("breaker must be false or {failures, window_seconds, cooldown_seconds}");
  }
  const field = value as Record<string, unknown>;
  return {
    failures: positiveNumber(field.failures, DEFAULT_BREAKER.failures, "breaker.failures", fail),
    windowMs:
      positiveNumber(field.window_seconds, DEFAULT_BREAKER.windowMs / 1000, "breaker.window_seconds", fail) *
      1000,
    cooldownMs:
      positiveNumber(
        field.cooldown_seconds,
        DEFAULT_BREAKER.cooldownMs / 1000,
        "breaker.cooldown_seconds",
        fail,
      ) * 1000,
  };
}

function positiveNumber(
  value: unknown,
  fallback: number,
  name: string,
  fail: (problem: string) => ConfigError,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw fail(`${name} must be a positive number`);
  }
  return value;
}
