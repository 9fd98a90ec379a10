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
import { failInterception } from "../bridge/handler";
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
    failInterception(c, error);
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

/**
 * The provider routes' way in, ahead of the app (src/index.ts): a request whose first path segment
 * names an instance goes straight to its API's app. Going through the app's own router and
 * middleware first cost a second dispatch and a re-wrap of every response (Hono copies the
 * response when an outer context sets it), for nothing the provider routes use. Returns null for
 * everything else (the app answers it), and when CORS is configured (the app's dispatch applies
 * it) or the configuration is broken (the app answers that in the API's shape).
 */
export function providerFetch(
  request: Request,
  env: AppEnv["Bindings"],
  ctx: ExecutionContext,
): Response | Promise<Response> | null {
  const pathStart = request.url.indexOf("/", request.url.indexOf("://") + 3);
  const path = pathStart < 0 ? "/" : request.url.slice(pathStart);
  const name = /^\/([^/?#]+)/.exec(path)?.[1];
  if (!name || /^\/v1\/me(?:[/?#]|$)/.test(path)) return null;
  let type: InstanceType | undefined;
  let origins: string[];
  try {
    type = instanceTypes(env).get(name);
    origins = getConfig(env).corsOrigins;
  } catch {
    return null;
  }
  if (!type || origins.length > 0) return null;
  return apis[type].fetch(request, env, ctx);
}

export const instanceRoutes = new Hono<AppEnv>();
instanceRoutes.all("/:instance", dispatch);
instanceRoutes.all("/:instance/*", dispatch);
