/** Routes under /openai (filled in by the OpenAI bridge). */
import { Hono } from "hono";
import type { AppEnv } from "../../app-env";

export const openaiRoutes = new Hono<AppEnv>();
