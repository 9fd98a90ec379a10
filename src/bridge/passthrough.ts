/**
 * Reverse proxy for the allowlisted non-bridged routes (models, count_tokens, …): authenticated,
 * credentials swapped, bodies streamed through untouched, not recorded as interceptions.
 */
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import type { UpstreamCredential } from "../auth/actor";
import { writeMetric } from "../metrics/write";
import {
  clientResponseHeaders,
  fetchUpstream,
  UpstreamUnreachableError,
  upstreamRequestHeaders,
  withoutCredentialParams,
} from "./http";

export interface PassthroughOptions {
  target: (c: Context<AppEnv>) => string;
  credential: (c: Context<AppEnv>) => UpstreamCredential;
  defaultHeaders?: Record<string, string> | ((c: Context<AppEnv>) => Record<string, string>);
  errorResponse: (status: number, message: string) => Response;
}

export function passthroughHandler(options: PassthroughOptions) {
  return async (c: Context<AppEnv>): Promise<Response> => {
    const request = c.req.raw;
    const headers = upstreamRequestHeaders(request.headers, options.credential(c));
    const defaults =
      typeof options.defaultHeaders === "function" ? options.defaultHeaders(c) : options.defaultHeaders;
    for (const [name, value] of Object.entries(defaults ?? {})) {
      if (!headers.has(name)) headers.set(name, value);
    }
    const hasBody = request.method !== "GET" && request.method !== "HEAD";
    const started = Date.now();
    const count = (status: number) =>
      writeMetric(
        c.env.METRICS,
        "passthrough",
        // The matched route pattern (e.g. /anthropic/v1/models/:id, the instance name filled in)
        // keeps label cardinality bounded.
        {
          provider: c.req.path.split("/")[1] ?? "",
          route: c.req.routePath.replace("/:instance", `/${c.req.path.split("/")[1] ?? ""}`),
          method: request.method,
          status: String(status),
        },
        { count: 1, duration_ms: Date.now() - started },
      );
    let upstream: Response;
    try {
      upstream = await fetchUpstream(withoutCredentialParams(options.target(c)), {
        method: request.method,
        headers,
        body: hasBody ? request.body : undefined,
      });
    } catch (error) {
      if (!(error instanceof UpstreamUnreachableError)) throw error;
      count(502);
      return options.errorResponse(502, "The gateway could not reach the provider.");
    }
    count(upstream.status);
    return new Response(upstream.body, {
      status: upstream.status,
      headers: clientResponseHeaders(upstream.headers),
    });
  };
}

/** Path segments taken from the client (ids) must be plain ids: no slashes, dots-only or encodings. */
export function safeSegment(value: string | undefined): string | null {
  if (!value || !/^[A-Za-z0-9_\-.:@]+$/.test(value) || /^\.+$/.test(value)) return null;
  return value;
}
