/**
 * Middleware for the provider routes of an instance: which instance the path names, and whether
 * it insists on the user's own token. Refusals are in the API's own error shape.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";
import { ConfigError } from "../config";
import { getInstance } from "./instances";

type ErrorResponse = (status: number, message: string, type?: string) => Response;

/** Puts the instance named by the path on the context (after `configured`). */
export function instanceResolved(errorResponse: ErrorResponse): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    let instance: ReturnType<typeof getInstance>;
    try {
      instance = getInstance(c.env, c.req.param("instance") ?? "");
    } catch (error) {
      if (error instanceof ConfigError) return errorResponse(500, error.message);
      throw error;
    }
    if (!instance) return errorResponse(404, `No provider instance at ${c.req.path}.`);
    c.set("instance", instance);
    await next();
  };
}

/** Instances that take no central key (Copilot): the request must bring the user's own token. */
export function ownTokenRequired(errorResponse: ErrorResponse): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const instance = c.get("instance");
    if (instance.byokOnly && !c.get("actor").byokCredential) {
      const how = c.get("config").byok
        ? "send it in Authorization: Bearer and your gateway key in X-AIBridge-Key"
        : "but BYOK is turned off on this gateway (BYOK=false)";
      return errorResponse(
        401,
        `The ${instance.name} provider needs your own ${instance.type} token: ${how}.`,
      );
    }
    await next();
  };
}
