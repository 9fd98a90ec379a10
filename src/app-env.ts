import type { Actor } from "./auth/actor";
import type { Interception } from "./bridge/interception";
import type { Config, Env } from "./config";
import type { ProviderInstance } from "./providers/instances";

/** Hono's typing for this app: the Worker bindings plus what middleware puts on the context. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    config: Config;
    actor: Actor;
    /** The provider instance the path names (src/providers/instances.ts). */
    instance: ProviderInstance;
    /** Milliseconds spent resolving the caller (key lookup), for Server-Timing and metrics. */
    authMs: number;
    /** The bridged request's interception, so an unexpected error still ends it (app.onError). */
    interception: Interception;
  };
}
