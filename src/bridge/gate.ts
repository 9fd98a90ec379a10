/**
 * Middleware in front of every provider route: configuration, body size cap, and who is calling.
 * Every refusal is in the provider's own error shape, so SDKs show it like a provider error.
 */
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "../app-env";
import { type CredentialStyle, resolveActor } from "../auth/actor";
import { ConfigError, getConfig } from "../config";

export const MAX_BODY_BYTES = 32 * 1024 * 1024;
/** Providers and their proxies refuse far smaller header blocks; refuse clearly here instead of a 502. */
export const MAX_HEADER_BYTES = 32 * 1024;

type ErrorResponse = (status: number, message: string, type?: string) => Response;

export function configured(errorResponse: ErrorResponse): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    try {
      c.set("config", getConfig(c.env));
    } catch (error) {
      if (error instanceof ConfigError) return errorResponse(500, error.message);
      throw error;
    }
    await next();
  };
}

export function sizeCapped(errorResponse: ErrorResponse): MiddlewareHandler<AppEnv> {
  const limitBody = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => errorResponse(413, `Request body is larger than ${MAX_BODY_BYTES / 1024 / 1024} MiB.`),
  });
  return async (c, next) => {
    let headerBytes = 0;
    for (const [name, value] of c.req.raw.headers) headerBytes += name.length + value.length + 4;
    if (headerBytes > MAX_HEADER_BYTES) {
      return errorResponse(431, `Request headers are larger than ${MAX_HEADER_BYTES / 1024} KiB.`);
    }
    return limitBody(c, next);
  };
}

/** `style` may depend on the request (an instance whose upstream takes `api-key`). */
export function authenticated(
  style: CredentialStyle | ((c: Context<AppEnv>) => CredentialStyle),
  errorResponse: ErrorResponse,
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    const where = typeof style === "function" ? style(c) : style;
    const result = await resolveActor(c.req.raw.headers, where, c.env.DB, c.get("config").byok);
    if (!result.ok) return errorResponse(401, result.message);
    c.set("actor", result.actor);
    c.set("authMs", performance.now() - started);
    await next();
  };
}
