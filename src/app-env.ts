import type { Actor } from "./auth/actor";
import type { Config, Env } from "./config";

/** Hono's typing for this app: the Worker bindings plus what middleware puts on the context. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    config: Config;
    actor: Actor;
    /** Milliseconds spent resolving the caller (key lookup), for Server-Timing and metrics. */
    authMs: number;
  };
}
