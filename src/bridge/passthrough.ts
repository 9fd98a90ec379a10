/**
 * Reverse proxy for the allowlisted non-bridged routes (models, count_tokens, …): authenticated,
 * credentials swapped, bodies passed through untouched, not recorded as interceptions. Central keys
 * rotate and a 429 benches a key exactly as for bridged requests (credentials.ts), sharing its
 * state: a key rate-limited here is skipped there too, and the other way round.
 */
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { writeMetric } from "../metrics/write";
import { instanceCredential, mayRotate, sendWithKeys } from "./credentials";
import {
  clientResponseHeaders,
  fetchUpstream,
  UpstreamUnreachableError,
  upstreamRequestHeaders,
  withoutCredentialParams,
} from "./http";

export interface PassthroughOptions {
  target: (c: Context<AppEnv>) => string;
  defaultHeaders?: Record<string, string> | ((c: Context<AppEnv>) => Record<string, string>);
  errorResponse: (status: number, message: string) => Response;
}

export function passthroughHandler(options: PassthroughOptions) {
  return async (c: Context<AppEnv>): Promise<Response> => {
    const request = c.req.raw;
    const instance = c.get("instance");
    const actor = c.get("actor");
    // The user's own key, or the first central key (ConfigError → 500 when there is neither).
    const headers = upstreamRequestHeaders(request.headers, instanceCredential(instance, actor));
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
    // A body sent more than once (the next key after a 429) must be bytes; otherwise it streams.
    const body = !hasBody
      ? undefined
      : mayRotate(instance, actor)
        ? await request.arrayBuffer()
        : request.body;
    const target = withoutCredentialParams(options.target(c));
    let upstream: Response;
    try {
      upstream = await sendWithKeys(instance, actor, headers, (keyed) =>
        fetchUpstream(target, { method: request.method, headers: keyed, body }),
      );
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
