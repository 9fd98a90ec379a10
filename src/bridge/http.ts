/**
 * What crosses the gateway in each direction. Requests keep the client's headers except hop-by-hop
 * ones, the client's credentials and the gateway's own; responses keep the upstream's headers except
 * hop-by-hop ones and encodings the runtime already undid.
 */
import type { UpstreamCredential } from "../auth/actor";

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
  // The runtime negotiates compression with the upstream itself and hands us decoded bytes.
  "accept-encoding",
  // Credentials: the gateway key never leaves the gateway; the provider key is set below.
  "authorization",
  "x-api-key",
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

export function upstreamRequestHeaders(
  incoming: Headers,
  credential: UpstreamCredential,
  extra?: Record<string, string>,
): Headers {
  const headers = new Headers();
  for (const [name, value] of incoming) {
    if (DROPPED_REQUEST_HEADERS.has(name) || name.startsWith("cf-")) continue;
    headers.set(name, value);
  }
  headers.set(credential.header, credential.value);
  if (extra) for (const [name, value] of Object.entries(extra)) headers.set(name, value);
  return headers;
}

export function clientResponseHeaders(upstream: Headers): Headers {
  const headers = new Headers();
  for (const [name, value] of upstream) {
    if (!DROPPED_RESPONSE_HEADERS.has(name)) headers.append(name, value);
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
  try {
    return await fetch(url, { ...init, signal: controller.signal });
  } catch (error) {
    if (timedOut && timeoutMs !== undefined) throw new UpstreamTimeoutError(timeoutMs);
    throw new UpstreamUnreachableError(error);
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
}
