/** Admin routes need `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time. */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";
import { timingSafeEqualText } from "../auth/keys";
import { ConfigError, getConfig } from "../config";

export function adminAuth(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    let token: string | undefined;
    try {
      token = getConfig(c.env).adminToken;
    } catch (error) {
      if (error instanceof ConfigError) return c.json({ error: error.message }, 500);
      throw error;
    }
    if (!token) return c.json({ error: "The admin API is disabled: set the ADMIN_TOKEN secret." }, 503);
    const presented = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header("authorization") ?? "")?.[1] ?? "";
    if (!timingSafeEqualText(presented, token)) {
      return c.json({ error: "Missing or wrong admin token (Authorization: Bearer <ADMIN_TOKEN>)." }, 401);
    }
    await next();
  };
}
