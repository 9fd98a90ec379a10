/**
 * Routes under /openai. The two bridged APIs record interceptions; the passthrough routes are an
 * allowlist (everything else is 404, from the app's notFound) so the gateway's key cannot reach
 * files, batches, fine-tuning or admin APIs.
 */
import { type Context, Hono } from "hono";
import type { AppEnv } from "../../app-env";
import { noteRetrievedResponse } from "../../background/follow";
import { providerGate } from "../../bridge/gate";
import { bridgeHandler } from "../../bridge/handler";
import { passthroughHandler, safeSegment } from "../../bridge/passthrough";
import { log } from "../../log";
import { openaiChatCompletions, openaiResponses } from "./adapter";
import { openaiError } from "./errors";

export const openaiRoutes = new Hono<AppEnv>();

openaiRoutes.use(
  "*",
  // An `api-key` instance (Azure OpenAI) also reads the client's credential from `api-key`.
  providerGate(openaiError, (instance) => (instance.keyHeader === "api-key" ? "api-key" : "openai")),
);

for (const [path, adapter] of [
  ["/v1/chat/completions", openaiChatCompletions],
  ["/v1/responses", openaiResponses],
] as const) {
  openaiRoutes.post(path, bridgeHandler(adapter));
  openaiRoutes.all(path, (c) => openaiError(405, `${c.req.method} is not allowed on ${path}.`));
}

/** Proxies to the instance's base URL (OPENAI_BASE_URL, which ends in /v1) + `path`, keeping the query string. */
const passthrough = (path: string) =>
  passthroughHandler({
    target: (c) => `${c.get("instance").baseUrl}${path}${new URL(c.req.url).search}`,
    defaultHeaders: (c) => c.get("instance").headers,
    errorResponse: openaiError,
  });

/** A route whose `:id` must be a plain id (no slashes, dots-only segments or encodings). */
const withId = (path: (id: string) => string) => (c: Context<AppEnv>) => {
  const id = safeSegment(c.req.param("id"));
  return id ? passthrough(path(id))(c) : openaiError(404, "Not found.");
};

openaiRoutes.get("/v1/models", (c) => passthrough("/models")(c));
openaiRoutes.get(
  "/v1/models/:id",
  withId((id) => `/models/${id}`),
);
const storedResponse = withId((id) => `/responses/${id}`);
openaiRoutes.on(["GET", "DELETE"], "/v1/responses/:id", async (c) => {
  const response = await storedResponse(c);
  // A background response the gateway created, fetched once it ended: its usage is recorded.
  const id = safeSegment(c.req.param("id"));
  if (c.req.method === "GET" && id && response.ok) {
    c.executionCtx.waitUntil(
      noteRetrievedResponse(c.env, id, response.clone(), c.get("instance").name).catch((error) =>
        log.error("background_note_failed", { response: id, error: String(error) }),
      ),
    );
  }
  return response;
});
openaiRoutes.get(
  "/v1/responses/:id/input_items",
  withId((id) => `/responses/${id}/input_items`),
);
openaiRoutes.post(
  "/v1/responses/:id/cancel",
  withId((id) => `/responses/${id}/cancel`),
);
openaiRoutes.all("/v1/conversations", (c) => passthrough("/conversations")(c));
openaiRoutes.all("/v1/conversations/:rest{.+}", (c) => {
  const rest = c.req.param("rest");
  if (!rest.split("/").every((segment) => safeSegment(segment))) return openaiError(404, "Not found.");
  return passthrough(`/conversations/${rest}`)(c);
});
