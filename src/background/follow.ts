/**
 * OpenAI Responses with `background: true`: the create call answers `queued` and the output and
 * usage only exist later, behind `GET /responses/{id}`. So that this work is counted like any
 * other, the gateway follows such a response to its end itself, and records its usage against the
 * interception that created it:
 *
 * - at creation, a marker (KV `bgresp:{id}` → interception, model, user, instance) and a delayed
 *   message on the BACKGROUND queue;
 * - the queue consumer (consumeBackground) polls `GET /responses/{id}` on the provider instance
 *   that created it (the one that answered the create: the addressed instance or its fallback),
 *   with that instance's base URL, headers and keys (target.ts), re-sending itself with a doubling
 *   delay (BACKGROUND_POLL_FIRST_SECONDS, capped at 10 minutes) for at most 24 hours;
 * - a client's own `GET /{instance}/v1/responses/{id}` that shows a terminal response records it
 *   too (noteRetrievedResponse), found through the marker, when it was served by that same
 *   instance (another upstream's answer for the id is not this response's).
 *
 * Messages and markers from before the instance was named in them have none: they were created
 * on, and are polled from, the default `openai` instance.
 *
 * Both paths write the same token-usage record, whose id is derived from the response id: D1's
 * primary key makes it once per response, whichever path sees the end first.
 *
 * The credential: the central keys are never put in a message (the consumer reads them from its
 * own configuration). A BYOK key has nowhere else to come from, so it travels in the queue message,
 * sealed (seal.ts: AES-GCM under an HKDF key from the server secret the redaction key is chosen
 * from, with its own label), never in plain text. A message whose key cannot be opened (that
 * secret was rotated since) is dropped with a log line and a `gateway_event` metric, not retried.
 * The key is never written to D1, KV, records or logs, and the BACKGROUND queue has no dead-letter
 * queue (nothing is stored when polling gives up).
 */
import type { UpstreamCredential } from "../auth/actor";
import { type Env, getConfig } from "../config";
import { log } from "../log";
import { writeMetric } from "../metrics/write";
import { recordedCostMicros } from "../pricing";
import { normalizeResponsesUsage, type ResponsesUsage } from "../providers/openai/usage";
import { sendRecords } from "../recorder/producer";
import type { TokenUsage } from "../recorder/records";
import { openCredential, sealCredential } from "./seal";
import { DEFAULT_INSTANCE, fetchStoredResponse, pollTarget } from "./target";

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
  /** The provider instance that created it. Absent in markers and messages from before: the default. */
  instance?: string;
}

export interface BackgroundPoll extends BackgroundOwner {
  kind: "background_poll";
  responseId: string;
  /** The client's own provider key (BYOK), sealed (seal.ts); null: the poll uses the instance's keys. */
  sealedByok?: string | null;
  /** Messages from before sealing carried the key in plain text: still read, re-sent sealed. */
  byok?: UpstreamCredential | null;
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
    sealedByok: byok ? await sealCredential(sealingSecret(env), responseId, byok) : null,
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
  const byok = await pollCredential(env, poll);
  if (byok === undefined) {
    // Sealed under a secret this deployment no longer has: no retry can open it.
    log.warn("background_poll_dropped", { response: poll.responseId, reason: "credential_unreadable" });
    writeMetric(
      env.METRICS,
      "gateway_event",
      { event: "background_poll_dropped", detail: "credential_unreadable" },
      { count: 1 },
    );
    return;
  }
  const target = pollTarget(env, poll.instance);
  if (!target) {
    log.warn("background_poll_gave_up", {
      response: poll.responseId,
      instance: poll.instance ?? DEFAULT_INSTANCE,
      reason: "no such OpenAI instance",
    });
    return;
  }
  const answer = await fetchStoredResponse(target, poll.responseId, byok);
  if (answer.error) {
    log.warn("background_poll_unreachable", { response: poll.responseId, error: answer.error });
  }
  const body = answer.body as ResponseLike | null;
  const status = answer.status;
  if (body && TERMINAL.has(String(body.status))) {
    // A client's GET may have recorded it already and removed the marker: the D1 row is idempotent
    // (written again, harmlessly, in case the marker went missing), the datapoints are not.
    const owed = (await env.KV.get(markerKey(poll.responseId))) !== null;
    await recordBackgroundUsage(env, poll.responseId, poll, body, owed);
    if (owed) await env.KV.delete(markerKey(poll.responseId));
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
  const { byok: _plain, ...rest } = poll;
  const sealedByok =
    poll.sealedByok ?? (byok ? await sealCredential(sealingSecret(env), poll.responseId, byok) : null);
  await schedule(env, { ...rest, sealedByok, attempt: poll.attempt + 1 });
}

/** The user's key, null for the instance's keys, undefined when the sealed key cannot be opened. */
async function pollCredential(
  env: BackgroundEnv,
  poll: BackgroundPoll,
): Promise<UpstreamCredential | null | undefined> {
  if (poll.sealedByok) {
    return (await openCredential(sealingSecret(env), poll.responseId, poll.sealedByok)) ?? undefined;
  }
  return poll.byok ?? null;
}

/**
 * A client fetched a response (GET /{instance}/v1/responses/{id}, JSON) from `servedBy`: if it is a
 * background response the gateway created on that instance and it has ended, record its usage now
 * (idempotent with the poll).
 */
export async function noteRetrievedResponse(
  env: BackgroundEnv,
  responseId: string,
  response: Response,
  servedBy: string,
): Promise<void> {
  if (!response.ok || !response.headers.get("content-type")?.includes("application/json")) return;
  const body = (await response.json().catch(() => null)) as ResponseLike | null;
  if (!body || !TERMINAL.has(String(body.status))) return;
  const owner = await env.KV.get<BackgroundOwner>(markerKey(responseId), "json");
  if (!owner) return;
  // Another upstream's answer for this id is not this response's: the poll records it.
  if ((owner.instance ?? DEFAULT_INSTANCE) !== servedBy) return;
  await recordBackgroundUsage(env, responseId, owner, body, true);
  await env.KV.delete(markerKey(responseId));
}

interface ResponseLike {
  id?: string;
  status?: string;
  usage?: ResponsesUsage | null;
}

/**
 * The usage record of a background response: one per response id (the id is derived from it).
 * `countTokens`: write the token datapoints too (only the first to record the response does).
 */
async function recordBackgroundUsage(
  env: BackgroundEnv,
  responseId: string,
  owner: BackgroundOwner,
  body: ResponseLike,
  countTokens: boolean,
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
    if (count > 0 && countTokens)
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

let warnedDevelopmentSecret = false;

/** The server secret BYOK keys are sealed under: the one the redaction key is chosen from. */
function sealingSecret(env: Env): string {
  const { redactionKey, redactionKeySource } = getConfig(env).recording;
  if (redactionKeySource === "development" && !warnedDevelopmentSecret) {
    warnedDevelopmentSecret = true;
    log.warn("background_seal_key_missing", {
      detail:
        "set REDACTION_KEY (or ADMIN_TOKEN); BYOK keys in poll messages are sealed under a development key",
    });
  }
  return redactionKey;
}

function markerKey(responseId: string): string {
  return `bgresp:${responseId}`;
}
