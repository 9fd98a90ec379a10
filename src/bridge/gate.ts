/**
 * The one middleware in front of every provider route: configuration, the instance the path names,
 * size caps, who is calling, and whether the instance insists on the caller's own token. One
 * function rather than a chain: every request pays each middleware's async frame and promise.
 * Every refusal is in the provider's own error shape, so SDKs show it like a provider error.
 */
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "../app-env";
import { type CredentialStyle, resolveActor } from "../auth/actor";
import { ConfigError, getConfig } from "../config";
import { getInstance, type ProviderInstance } from "../providers/instances";

export const MAX_BODY_BYTES = 32 * 1024 * 1024;
/** Providers and their proxies refuse far smaller header blocks; refuse clearly here instead of a 502. */
export const MAX_HEADER_BYTES = 32 * 1024;

type ErrorResponse = (status: number, message: string, type?: string) => Response;

/** `style` may depend on the instance (one whose upstream takes `api-key`). */
export function providerGate(
  errorResponse: ErrorResponse,
  style: CredentialStyle | ((instance: ProviderInstance) => CredentialStyle),
): MiddlewareHandler<AppEnv> {
  const tooLarge = () =>
    errorResponse(413, `Request body is larger than ${MAX_BODY_BYTES / 1024 / 1024} MiB.`);
  // Only for a body of unknown length (chunked): it is counted as it is read.
  const countedBody = bodyLimit({ maxSize: MAX_BODY_BYTES, onError: tooLarge });

  return async (c, next) => {
    let config: ReturnType<typeof getConfig>;
    let instance: ReturnType<typeof getInstance>;
    try {
      config = getConfig(c.env);
      instance = getInstance(c.env, c.req.param("instance") ?? "");
    } catch (error) {
      if (error instanceof ConfigError) return errorResponse(500, error.message);
      throw error;
    }
    if (!instance) return errorResponse(404, `No provider instance at ${c.req.path}.`);
    c.set("config", config);
    c.set("instance", instance);

    const headers = c.req.raw.headers;
    let headerBytes = 0;
    for (const [name, value] of headers) headerBytes += name.length + value.length + 4;
    if (headerBytes > MAX_HEADER_BYTES) {
      return errorResponse(431, `Request headers are larger than ${MAX_HEADER_BYTES / 1024} KiB.`);
    }
    const length = headers.get("content-length");
    const lengthKnown = length !== null && !headers.has("transfer-encoding");
    if (lengthKnown && Number.parseInt(length, 10) > MAX_BODY_BYTES) return tooLarge();

    const started = performance.now();
    const where = typeof style === "function" ? style(instance) : style;
    const result = await resolveActor(headers, where, c.env.DB, config.byok);
    if (!result.ok) return errorResponse(401, result.message);
    c.set("actor", result.actor);
    c.set("authMs", performance.now() - started);

    // Instances that take no central key (Copilot): the request must bring the user's own token.
    if (instance.byokOnly && !result.actor.byokCredential) {
      const how = config.byok
        ? "send it in Authorization: Bearer and your gateway key in X-AIBridge-Key"
        : "but BYOK is turned off on this gateway (BYOK=false)";
      return errorResponse(
        401,
        `The ${instance.name} provider needs your own ${instance.type} token: ${how}.`,
      );
    }
    if (lengthKnown) {
      await next();
      return;
    }
    return countedBody(c, next);
  };
}
