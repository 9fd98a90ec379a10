/**
 * Mounts every provider instance at `/{name}`: the first path segment names the instance, its type
 * picks the routes (Anthropic Messages for anthropic and bedrock, OpenAI for openai and copilot).
 * Instances come from the env at request time, so routing is a lookup, not a static table: each
 * API's routes live in their own small app mounted at `/:instance`, and the dispatcher hands the
 * request to the one its instance speaks. Names that are not instances fall through (404).
 */
import { type Context, Hono, type Next } from "hono";
import { cors } from "hono/cors";
import type { AppEnv } from "../app-env";
import { ConfigError, getConfig } from "../config";
import { log } from "../log";
import { anthropicError } from "./anthropic/errors";
import { anthropicRoutes } from "./anthropic/routes";
import { declaredType, type InstanceType, instanceTypes } from "./instances";
import { openaiError } from "./openai/errors";
import { openaiRoutes } from "./openai/routes";

type ErrorResponse = (status: number, message: string, type?: string) => Response;

function apiApp(routes: Hono<AppEnv>, errorResponse: ErrorResponse): Hono<AppEnv> {
  const api = new Hono<AppEnv>();
  api.route("/:instance", routes);
  api.notFound((c) => errorResponse(404, `No route for ${c.req.method} ${c.req.path}.`));
  api.onError((error, c) => {
    if (error instanceof ConfigError) return errorResponse(500, error.message);
    log.error("unhandled_error", {
      path: c.req.path,
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    });
    return errorResponse(500, "Internal gateway error.");
  });
  return api;
}

const anthropicApi = apiApp(anthropicRoutes, anthropicError);
const openaiApi = apiApp(openaiRoutes, openaiError);
const apis: Record<InstanceType, Hono<AppEnv>> = {
  anthropic: anthropicApi,
  bedrock: anthropicApi,
  openai: openaiApi,
  copilot: openaiApi,
};

// No CORS unless CORS_ORIGINS lists origins: browsers elsewhere cannot call the gateway by default.
const providerCors = cors({
  origin: (origin, c) => (getConfig(c.env).corsOrigins.includes(origin) ? origin : null),
  allowHeaders: [
    "authorization",
    "x-api-key",
    "api-key",
    "x-aibridge-key",
    "content-type",
    "anthropic-version",
    "anthropic-beta",
  ],
  exposeHeaders: [
    "x-aibridge-interception-id",
    "server-timing",
    "request-id",
    "x-request-id",
    // Per-user limits (docs/limits.md).
    "retry-after",
    "x-aibridge-budget-remaining-usd",
    "x-aibridge-budget-reset",
  ],
  maxAge: 600,
});

const errorShapes: Record<InstanceType, (status: number, message: string) => Response> = {
  anthropic: anthropicError,
  bedrock: anthropicError,
  openai: openaiError,
  copilot: openaiError,
};

async function dispatch(c: Context<AppEnv>, next: Next) {
  const name = c.req.param("instance") ?? "";
  let type: InstanceType | undefined;
  try {
    type = instanceTypes(c.env).get(name);
  } catch (error) {
    // A broken PROVIDERS: answer in the shape of the API the path was meant for, when it says.
    const declared = error instanceof ConfigError ? declaredType(c.env, name) : undefined;
    if (!declared) throw error;
    return errorShapes[declared](500, (error as ConfigError).message);
  }
  if (!type) return next();
  let ctx: ExecutionContext | undefined;
  try {
    ctx = c.executionCtx as ExecutionContext;
  } catch {
    ctx = undefined;
  }
  const forward = async () => {
    c.res = await apis[type].fetch(c.req.raw, c.env, ctx);
  };
  let origins: string[];
  try {
    origins = getConfig(c.env).corsOrigins;
  } catch {
    origins = []; // the provider routes answer a bad configuration in their own shape
  }
  if (origins.length === 0) {
    await forward();
    return c.res;
  }
  // A preflight is answered by the CORS middleware itself (its return value), never forwarded.
  return (await providerCors(c, forward)) ?? c.res;
}

export const instanceRoutes = new Hono<AppEnv>();
instanceRoutes.all("/:instance", dispatch);
instanceRoutes.all("/:instance/*", dispatch);
