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

/** fetch() that turns a network failure (refused, reset, DNS) into one typed error for a 502. */
export async function fetchUpstream(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    throw new UpstreamUnreachableError(error);
  }
}
