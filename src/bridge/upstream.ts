/**
 * The upstream call of a bridged request, across instances: the instance the client addressed,
 * then its `fallback` chain. Per instance: the circuit breaker (breaker.ts) may skip it, central
 * keys rotate and a key that got a 429 is benched (credentials.ts, keys.ts), Bedrock requests are adapted and
 * signed, and Anthropic streams get `ping` keep-alives. A fallback is only ever tried before any
 * byte reaches the client: the decision is made on the upstream's status, before this returns.
 *
 * The handler and the MCP loop call `send` once per upstream request; everything else about the
 * request (recording, relaying) is theirs.
 */
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import type { UpstreamCredential } from "../auth/actor";
import { anthropicShapedError } from "../providers/bedrock/errors";
import { bedrockRequest } from "../providers/bedrock/request";
import { transcodeEventStream } from "../providers/bedrock/transcode";
import { getInstance, type ProviderInstance } from "../providers/instances";
import type { ProviderAdapter } from "./adapter";
import { admit, releaseProbe, reportFailure, reportSuccess } from "./breaker";
import { instanceCredential, sendWithKeys } from "./credentials";
import { fetchUpstream, UpstreamUnreachableError, withoutCredentialParams } from "./http";
import type { Interception } from "./interception";

/** How many instances one request may try (the addressed one plus fallbacks). */
const MAX_CHAIN = 4;

export interface UpstreamRoute {
  instance: ProviderInstance;
  /** The credential of the first attempt (the handler builds its base headers with it). */
  credential: UpstreamCredential;
  /** The addressed instance's URL for this API. */
  url: string;
  send(body: Uint8Array | string, headers: Headers, interception: Interception): Promise<Response>;
}

/**
 * The client's query string as it goes upstream ("" or "?…"): credentials in it (?key=, a gateway
 * key) never travel. Worked out once per request; most requests have no query to parse.
 */
function upstreamSearch(url: string): string {
  if (!url.includes("?")) return "";
  const cleaned = withoutCredentialParams(url);
  const start = cleaned.indexOf("?");
  return start < 0 || start === cleaned.length - 1 ? "" : cleaned.slice(start);
}

export function upstreamRoute(c: Context<AppEnv>, adapter: ProviderAdapter, model: string): UpstreamRoute {
  const instance = c.get("instance");
  const actor = c.get("actor");
  // Bedrock signs with the instance's AWS credentials; everything else needs a key now (as before).
  const credential =
    instance.type === "bedrock"
      ? { header: "x-api-key" as const, value: "" }
      : instanceCredential(instance, actor, 0);
  const search = upstreamSearch(c.req.url);
  return {
    instance,
    credential,
    url: adapter.upstreamUrl(instance.baseUrl, search),
    send: (body, headers, interception) => send(c, adapter, model, search, body, headers, interception),
  };
}

/** Fallbacks apply to central keys only: a user's own key belongs to the instance they addressed. */
function chain(c: Context<AppEnv>, model: string): ProviderInstance[] {
  const first = c.get("instance");
  const out = [first];
  if (c.get("actor").byokCredential) return out;
  let next = first.fallback;
  while (next && out.length < MAX_CHAIN) {
    const instance = getInstance(c.env, next);
    if (!instance || out.includes(instance)) break;
    // A fallback must serve the model and be able to authenticate by itself.
    const serves = !instance.models || instance.models.includes(model);
    if (serves && (instance.type === "bedrock" || instance.keys.length > 0)) out.push(instance);
    next = instance.fallback;
  }
  return out;
}

/** Statuses that make the gateway try the next instance and count against the breaker (not 429). */
function isUpstreamFailure(status: number): boolean {
  return status >= 500;
}

async function send(
  c: Context<AppEnv>,
  adapter: ProviderAdapter,
  model: string,
  search: string,
  body: Uint8Array | string,
  headers: Headers,
  interception: Interception,
): Promise<Response> {
  const candidates = chain(c, model);
  let lastError: unknown = null;
  // The last failed answer, buffered (error bodies are small): relayed if no later instance answers.
  let lastFailure: { instance: ProviderInstance; position: number; response: Response } | null = null;
  let openFor: number | null = null;
  for (const [position, instance] of candidates.entries()) {
    const hasNext = position < candidates.length - 1;
    const admission = admit(instance.name, model, instance.breaker);
    if (!admission.allowed) {
      openFor = Math.min(openFor ?? Number.POSITIVE_INFINITY, admission.retryAfterMs);
      continue;
    }
    let response: Response;
    try {
      response = await attempt(c, adapter, instance, search, body, headers);
    } catch (error) {
      if (!(error instanceof UpstreamUnreachableError)) {
        if (admission.probe) releaseProbe(instance.name, model);
        throw error;
      }
      reportFailure(instance.name, model, instance.breaker);
      lastError = error;
      continue;
    }
    if (isUpstreamFailure(response.status)) {
      reportFailure(instance.name, model, instance.breaker);
    } else if (response.status === 429) {
      if (admission.probe) releaseProbe(instance.name, model);
    } else {
      reportSuccess(instance.name, model, instance.breaker);
    }
    const retryable = response.status === 429 || isUpstreamFailure(response.status);
    if (retryable && hasNext) {
      const buffered = new Response(await response.arrayBuffer(), response);
      lastFailure = { instance, position, response: buffered };
      lastError = null;
      continue;
    }
    interception.recordUpstream(instance.name, position > 0);
    return markKeepalive(instance, response);
  }
  // No instance answered well: the last real failure beats an unreachable fallback or a breaker.
  if (lastFailure) {
    interception.recordUpstream(lastFailure.instance.name, lastFailure.position > 0);
    return lastFailure.response;
  }
  if (lastError) throw lastError;
  // Every candidate's breaker is open: fail fast, in the API's shape, without touching the upstream.
  const seconds = Math.max(1, Math.ceil((openFor ?? 1000) / 1000));
  const first = candidates[0] as ProviderInstance;
  const refusal = adapter.errorResponse(
    503,
    `${first.name} is unavailable for ${model} (the gateway's circuit breaker is open); retry in ${seconds} s.`,
    first.api === "anthropic" ? "overloaded_error" : undefined,
  );
  refusal.headers.set("retry-after", String(seconds));
  return refusal;
}

/** One instance, over its keys: a 429 benches the key and the next key is tried at once. */
async function attempt(
  c: Context<AppEnv>,
  adapter: ProviderAdapter,
  instance: ProviderInstance,
  search: string,
  body: Uint8Array | string,
  clientHeaders: Headers,
): Promise<Response> {
  const timeoutMs = c.get("config").upstreamIdleTimeoutMs;
  const headers = new Headers(clientHeaders);
  for (const [name, value] of Object.entries(instance.headers))
    if (!headers.has(name)) headers.set(name, value);

  if (instance.type === "bedrock") {
    const request = await bedrockRequest(instance, body, headers);
    if (!request.ok) return adapter.errorResponse(400, request.message);
    const response = await fetchUpstream(request.url, request.init, timeoutMs);
    if (!response.ok) return anthropicShapedError(response);
    if (
      response.body &&
      response.headers.get("content-type")?.includes("application/vnd.amazon.eventstream")
    ) {
      const sseHeaders = new Headers(response.headers);
      sseHeaders.set("content-type", "text/event-stream; charset=utf-8");
      sseHeaders.delete("content-length");
      return new Response(transcodeEventStream(response.body), {
        status: response.status,
        headers: sseHeaders,
      });
    }
    return response;
  }

  const url = adapter.upstreamUrl(instance.baseUrl, search);
  // The addressed instance's credential is already in the headers when it is the user's own key.
  return sendWithKeys(instance, c.get("actor"), headers, (keyed) =>
    fetchUpstream(url, { method: "POST", headers: keyed, body }, timeoutMs),
  );
}

/** The keep-alive interval of each streamed answer that gets pings (read by the relay). */
const keepalives = new WeakMap<Response, number>();

/** Anthropic streams get keep-alive pings: the relay sends them (relay.ts), at the answering instance's interval. */
function markKeepalive(instance: ProviderInstance, response: Response): Response {
  const streaming = response.ok && response.headers.get("content-type")?.includes("text/event-stream");
  if (streaming && instance.api === "anthropic") keepalives.set(response, instance.keepaliveMs);
  return response;
}

/** The keep-alive interval for relaying this upstream answer, or null for none. */
export function keepaliveFor(response: Response): number | null {
  return keepalives.get(response) ?? null;
}
