/**
 * OpenAI Responses with `background: true`: the create call answers `queued` and the output and
 * usage only exist later, behind `GET /responses/{id}`. So that this work is counted like any
 * other, the gateway follows such a response to its end itself, and records its usage against the
 * interception that created it:
 *
 * - at creation, a marker (KV `bgresp:{id}` → interception, model, user) and a delayed message on
 *   the BACKGROUND queue;
 * - the queue consumer (consumeBackground) polls `GET /responses/{id}` with the credential that
 *   created it, re-sending itself with a doubling delay (BACKGROUND_POLL_FIRST_SECONDS, capped at
 *   10 minutes) for at most 24 hours;
 * - a client's own `GET /responses/{id}` that shows a terminal response records it too
 *   (noteRetrievedResponse), found through the marker.
 *
 * Both paths write the same token-usage record, whose id is derived from the response id: D1's
 * primary key makes it once per response, whichever path sees the end first.
 *
 * The credential: the central key is never put in a message (the consumer reads it from its own
 * configuration). A BYOK key has nowhere else to come from, so it travels inside the queue message
 * only: queue messages are transient (deleted when acknowledged, encrypted at rest by the platform,
 * readable only by this Worker), the BACKGROUND queue has no dead-letter queue (nothing is stored
 * when polling gives up), and the key is never written to D1, KV, records or logs.
 */
import type { UpstreamCredential } from "../auth/actor";
import { type Env, getConfig } from "../config";
import { log } from "../log";
import { writeMetric } from "../metrics/write";
import { recordedCostMicros } from "../pricing";
import { normalizeResponsesUsage, type ResponsesUsage } from "../providers/openai/usage";
import { sendRecords } from "../recorder/producer";
import type { TokenUsage } from "../recorder/records";

export const BACKGROUND_QUEUE = "aibridge-background";
/** Longest wait between two polls, and how long a background response is followed at most. */
const MAX_DELAY_SECONDS = 600;
const FOLLOW_FOR_MS = 24 * 3_600_000;
/** The marker outlives the follow-up: a client may fetch its result days later. */
const MARKER_TTL_SECONDS = 7 * 86_400;

const TERMINAL = new Set(["completed", "failed", "incomplete", "cancelled"]);

/** Who a background response belongs to: enough to record its usage later. */
export interface BackgroundOwner {
  interceptionId: string;
  model: string;
  initiatorId: string;
  client: string;
}

export interface BackgroundPoll extends BackgroundOwner {
  kind: "background_poll";
  responseId: string;
  /** The client's own provider key (BYOK), or null: the poll uses the central key. */
  byok: UpstreamCredential | null;
  attempt: number;
  createdAt: number;
}

type BackgroundEnv = Pick<Env, "KV" | "RECORDS" | "DB" | "METRICS" | "BACKGROUND"> & Env;

/** Called once when a create answered with a response that is not finished yet. */
export async function followBackgroundResponse(
  env: BackgroundEnv,
  responseId: string,
  owner: BackgroundOwner,
  byok: UpstreamCredential | null,
): Promise<void> {
  await env.KV.put(markerKey(responseId), JSON.stringify(owner), { expirationTtl: MARKER_TTL_SECONDS });
  const poll: BackgroundPoll = {
    kind: "background_poll",
    ...owner,
    responseId,
    byok,
    attempt: 0,
    createdAt: Date.now(),
  };
  await schedule(env, poll);
}

/** The BACKGROUND queue's consumer: one GET per message; a response not done yet is polled later. */
export async function consumeBackground(batch: MessageBatch<unknown>, env: BackgroundEnv): Promise<void> {
  await Promise.all(
    batch.messages.map(async (message) => {
      const poll = message.body as BackgroundPoll;
      try {
        await pollOnce(env, poll);
        message.ack();
      } catch (error) {
        // Only a failure to record or re-schedule gets here; the queue's own retries apply.
        log.error("background_poll_failed", { response: poll.responseId, error: String(error) });
        message.retry();
      }
    }),
  );
}

async function pollOnce(env: BackgroundEnv, poll: BackgroundPoll): Promise<void> {
  const config = getConfig(env);
  const credential = poll.byok ?? centralCredential(config.openaiApiKey);
  let status: number;
  let body: ResponseLike | null = null;
  try {
    const response = await fetch(`${config.openaiBaseUrl}/responses/${encodeURIComponent(poll.responseId)}`, {
      headers: credential ? { [credential.header]: credential.value } : {},
    });
    status = response.status;
    if (response.ok) body = (await response.json()) as ResponseLike;
    else await response.body?.cancel();
  } catch (error) {
    status = 0;
    log.warn("background_poll_unreachable", { response: poll.responseId, error: String(error) });
  }
  if (body && TERMINAL.has(String(body.status))) {
    await recordBackgroundUsage(env, poll.responseId, poll, body);
    await env.KV.delete(markerKey(poll.responseId));
    return;
  }
  // Gone (deleted, never stored) or refused: nothing more will come.
  if (status === 401 || status === 403 || status === 404) {
    log.warn("background_poll_gave_up", { response: poll.responseId, status });
    return;
  }
  if (Date.now() - poll.createdAt > FOLLOW_FOR_MS) {
    log.warn("background_poll_gave_up", { response: poll.responseId, status, reason: "bound" });
    return;
  }
  await schedule(env, { ...poll, attempt: poll.attempt + 1 });
}

/**
 * A client fetched a response (GET /responses/{id}, JSON): if it is a background response the
 * gateway created and it has ended, record its usage now (idempotent with the poll).
 */
export async function noteRetrievedResponse(
  env: BackgroundEnv,
  responseId: string,
  response: Response,
): Promise<void> {
  if (!response.ok || !response.headers.get("content-type")?.includes("application/json")) return;
  const body = (await response.json().catch(() => null)) as ResponseLike | null;
  if (!body || !TERMINAL.has(String(body.status))) return;
  const owner = await env.KV.get<BackgroundOwner>(markerKey(responseId), "json");
  if (!owner) return;
  await recordBackgroundUsage(env, responseId, owner, body);
  await env.KV.delete(markerKey(responseId));
}

interface ResponseLike {
  id?: string;
  status?: string;
  usage?: ResponsesUsage | null;
}

/** The usage record of a background response: one per response id (the id is derived from it). */
async function recordBackgroundUsage(
  env: BackgroundEnv,
  responseId: string,
  owner: BackgroundOwner,
  body: ResponseLike,
): Promise<void> {
  if (!body.usage) {
    log.info("background_response_ended", { response: responseId, status: body.status, usage: false });
    return;
  }
  const usage = normalizeResponsesUsage(body.usage, responseId);
  const record: TokenUsage = {
    kind: "token_usage",
    id: `bgusage:${responseId}`,
    interceptionId: owner.interceptionId,
    createdAt: Date.now(),
    costMicros: recordedCostMicros(env, owner.model, usage),
    ...usage,
  };
  await sendRecords(env, [record]);
  const tokens: Record<string, number> = {
    input: usage.inputTokens,
    output: usage.outputTokens,
    cache_read: usage.cacheReadInputTokens,
    ...usage.extraTokenTypes,
  };
  for (const [type, count] of Object.entries(tokens)) {
    if (count > 0)
      writeMetric(
        env.METRICS,
        "tokens",
        { provider: "openai", model: owner.model, type, initiator: owner.initiatorId, client: owner.client },
        { tokens: count },
      );
  }
  log.info("background_response_recorded", {
    response: responseId,
    interception: owner.interceptionId,
    status: body.status,
    tokens: { input: usage.inputTokens, output: usage.outputTokens },
  });
}

async function schedule(env: BackgroundEnv, poll: BackgroundPoll): Promise<void> {
  if (!env.BACKGROUND) {
    log.warn("background_queue_missing", { response: poll.responseId });
    return;
  }
  const first = getConfig(env).backgroundPollFirstSeconds;
  const delaySeconds = Math.min(MAX_DELAY_SECONDS, first * 2 ** poll.attempt);
  await env.BACKGROUND.send(poll, { delaySeconds });
}

function centralCredential(key: string | undefined): UpstreamCredential | null {
  return key ? { header: "authorization", value: `Bearer ${key}` } : null;
}

function markerKey(responseId: string): string {
  return `bgresp:${responseId}`;
}
