/**
 * What crosses the gateway in each direction. Requests keep the client's headers except hop-by-hop
 * ones (RFC 9110 §7.6.1: those named in Connection, plus the fixed set below), the client's
 * credentials and the gateway's own; responses keep the upstream's headers except hop-by-hop ones
 * and encodings the runtime already undid. Query strings lose any gateway credential too.
 */
import type { UpstreamCredential } from "../auth/actor";
import { log } from "../log";
import { finalResponseAfterInterim } from "./interim";

const DROPPED_REQUEST_HEADERS = new Set([
  "host",
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "content-length",
  // An expectation is between the client and the gateway: forwarded, the upstream answers
  // `100 Continue`, which the runtime's fetch took as the final response (the request was billed
  // and recorded as failed). The gateway reads the whole body before it calls the upstream anyway.
  "expect",
  // Proxy metadata about the client's hops (RFC 9110 §7.6.3, RFC 7239) stays here.
  "forwarded",
  "via",
  // The runtime negotiates compression with the upstream itself and hands us decoded bytes.
  "accept-encoding",
  // Credentials: the gateway key never leaves the gateway; the provider key is set below.
  "authorization",
  "x-api-key",
  // Azure OpenAI's key header (an Azure SDK client's own key, or a gateway key put there).
  "api-key",
  "x-aibridge-key",
  // The client's recording opt-down (src/redaction) is for the gateway only.
  "x-aibridge-record",
  "cookie",
  // Edge metadata about the client's connection is the gateway's, not the provider's.
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
  "x-real-ip",
  "true-client-ip",
]);

const DROPPED_RESPONSE_HEADERS = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "content-length",
  "content-encoding",
  "set-cookie",
]);

/** Header names a message's Connection header lists are hop-by-hop for that message (RFC 9110 §7.6.1). */
function connectionListed(headers: Headers): Set<string> {
  const listed = new Set<string>();
  for (const name of (headers.get("connection") ?? "").split(",")) {
    const trimmed = name.trim().toLowerCase();
    if (trimmed) listed.add(trimmed);
  }
  return listed;
}

/**
 * Query parameters that carry credentials. The gateway reads its key only from headers, but a
 * client (or a script) may also put it in the query: that copy must not reach the provider's logs.
 */
const CREDENTIAL_PARAMS = new Set([
  "api_key",
  "apikey",
  "api-key",
  "key",
  "x-api-key",
  "x-aibridge-key",
  "access_token",
]);

/** `url` without credential parameters (by name, or any value that is a gateway key). */
export function withoutCredentialParams(url: string): string {
  const parsed = new URL(url);
  if (!parsed.search) return url;
  const names = [...parsed.searchParams].filter(
    ([name, value]) => CREDENTIAL_PARAMS.has(name.toLowerCase()) || value.trim().startsWith("aib_"),
  );
  if (names.length === 0) return url;
  for (const [name] of names) parsed.searchParams.delete(name);
  return parsed.toString();
}

export function upstreamRequestHeaders(
  incoming: Headers,
  credential: UpstreamCredential,
  extra?: Record<string, string>,
): Headers {
  const headers = new Headers();
  const listed = connectionListed(incoming);
  for (const [name, value] of incoming) {
    if (DROPPED_REQUEST_HEADERS.has(name) || listed.has(name) || name.startsWith("cf-")) continue;
    headers.set(name, value);
  }
  headers.set(credential.header, credential.value);
  if (extra) for (const [name, value] of Object.entries(extra)) headers.set(name, value);
  return headers;
}

export function clientResponseHeaders(upstream: Headers): Headers {
  const headers = new Headers();
  const listed = connectionListed(upstream);
  for (const [name, value] of upstream) {
    if (!DROPPED_RESPONSE_HEADERS.has(name) && !listed.has(name)) headers.append(name, value);
  }
  return headers;
}

export class UpstreamUnreachableError extends Error {
  constructor(cause: unknown) {
    super(`Upstream unreachable: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "UpstreamUnreachableError";
  }
}

/** The upstream accepted the connection but sent no response headers in time (a 504). */
export class UpstreamTimeoutError extends UpstreamUnreachableError {
  constructor(readonly timeoutMs: number) {
    super(new Error(`no response headers within ${Math.round(timeoutMs / 1000)} s`));
    this.name = "UpstreamTimeoutError";
  }
}

/**
 * fetch() that turns a network failure (refused, reset, DNS) into one typed error for a 502, and
 * an upstream that sends no headers within `timeoutMs` into UpstreamTimeoutError. The timer stops
 * at the headers: a long answer after that is bounded by the relay's idle timeout instead.
 */
export async function fetchUpstream(url: string, init: RequestInit, timeoutMs?: number): Promise<Response> {
  const controller = new AbortController();
  let timedOut = false;
  const timer =
    timeoutMs === undefined
      ? null
      : setTimeout(() => {
          timedOut = true;
          controller.abort();
        }, timeoutMs);
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: controller.signal });
    // An interim (1xx) answer is never the final one; the final one follows (see interim.ts).
    if (response.status < 200) {
      log.warn("upstream_interim_response", { status: response.status });
      response = await finalResponseAfterInterim(response);
    }
  } catch (error) {
    if (timedOut && timeoutMs !== undefined) throw new UpstreamTimeoutError(timeoutMs);
    throw new UpstreamUnreachableError(error);
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
  // An interim (1xx) answer is never a final one: a Response cannot even carry such a status.
  // Treated as an unusable upstream (502), never as the end of the request's accounting.
  if (response.status < 200) {
    response.body?.cancel().catch(() => {});
    throw new UpstreamUnreachableError(
      new Error(`interim status ${response.status} where a final answer was due`),
    );
  }
  return response;
}
