/**
 * The bridge's one interface to limits. The handler opens RequestLimits once per interception; every
 * upstream call (the handler's, and each MCP loop iteration's) first calls reserve(); the
 * interception's end (Interception.onEnd, with the summed recorded cost) reconciles. A user whose
 * effective policy limits nothing gets an inert instance: no Durable Object is touched.
 */

import type { Interception, InterceptionSummary } from "../bridge/interception";
import type { Env } from "../config";
import { getConfig } from "../config";
import { log } from "../log";
import { writeMetric } from "../metrics/write";
import { findPrice } from "../pricing";
import { worstCaseMicros } from "./bound";
import type { AdmitResult, BudgetHint, LimitReason, UserLimiter } from "./limiter";
import { type EffectivePolicy, enforcesLimits, loadEffectivePolicy } from "./policy";

export interface LimitsEnv {
  DB: D1Database;
  LIMITER?: DurableObjectNamespace<UserLimiter>;
}

/** How a refusal looks in the client's API (the adapter's error shapes). */
export interface RefusalShape {
  provider: string;
  errorResponse(status: number, message: string, type?: string, code?: string | null): Response;
}

/** Thrown by reserve() inside the MCP loop, where the refusal has to travel through its own error paths. */
export class LimitRefusal extends Error {
  constructor(
    readonly reason: LimitReason | "limits_unavailable",
    message: string,
    readonly retryAfter: number | null,
    readonly budget: BudgetHint | null,
  ) {
    super(message);
    this.name = "LimitRefusal";
  }
}

export class RequestLimits {
  private calls = 0;
  private near: BudgetHint | null = null;
  /** The policy could not be read: every call is refused with a 503 (limits_unavailable). */
  private unavailable = false;

  private constructor(
    private readonly env: Env & LimitsEnv,
    private readonly interception: Interception,
    private readonly effective: EffectivePolicy | null,
    private readonly stub: DurableObjectStub<UserLimiter> | null,
  ) {}

  /** Loads the user's effective policy (cached) and, when it limits anything, hooks reconcile to the end. */
  static async open(
    env: Env,
    ctx: ExecutionContext | { waitUntil(p: Promise<unknown>): void },
    interception: Interception,
  ) {
    const limitsEnv = env as Env & LimitsEnv;
    const userId = interception.info.initiatorId;
    let effective: EffectivePolicy | null;
    try {
      effective = await loadEffectivePolicy(limitsEnv, userId);
    } catch (error) {
      // Fail closed: a user with a budget must not pass unchecked because D1 did not answer.
      log.error("limits_policy_unavailable", { interception: interception.id, error: String(error) });
      const limits = new RequestLimits(limitsEnv, interception, null, null);
      limits.unavailable = true;
      return limits;
    }
    if (!effective || !enforcesLimits(effective.policy) || !limitsEnv.LIMITER) {
      return new RequestLimits(limitsEnv, interception, effective, null);
    }
    const stub = limiterStub(limitsEnv.LIMITER, userId);
    const limits = new RequestLimits(limitsEnv, interception, effective, stub);
    interception.onEnd((summary) => {
      if (limits.calls > 0) ctx.waitUntil(limits.reconcile(summary));
    });
    return limits;
  }

  get active(): boolean {
    return this.stub !== null;
  }

  /**
   * Reserves the worst case of the next upstream call: `body` is exactly what will be sent (bytes, or
   * the text the MCP loop builds). Throws a LimitRefusal when a limit refuses it; the caller answers
   * with refusal() and sends nothing upstream.
   */
  async reserve(body: Uint8Array | string, json: Record<string, unknown>, knownText?: string): Promise<void> {
    if (this.unavailable) throw unavailable();
    if (!this.stub || !this.effective) return;
    const bodyBytes = typeof body === "string" ? utf8Length(body) : body.byteLength;
    const text = knownText ?? (typeof body === "string" ? body : new TextDecoder().decode(body));
    const { model } = this.interception.info;
    const price = findPrice(model, getConfig(this.env).pricingOverrides);
    const boundMicros = price ? worstCaseMicros({ model, bodyBytes, json, text }, price) : null;
    let result: AdmitResult;
    try {
      result = await this.stub.admit({
        userId: this.interception.info.initiatorId,
        policy: this.effective.policy,
        asOf: this.effective.asOf,
        interceptionId: this.interception.id,
        model,
        boundMicros,
        heldMicros: this.interception.costMicros,
        first: this.calls === 0,
      });
    } catch (error) {
      // Fail closed: without its authority a budget could be overshot.
      log.error("limits_unavailable", { interception: this.interception.id, error: String(error) });
      throw unavailable();
    }
    if (!result.ok) throw new LimitRefusal(result.reason, result.message, result.retryAfter, result.budget);
    this.calls += 1;
    this.near = result.near;
  }

  /** reserve() for the handler: null when admitted, else the refusal answer (the interception is ended). */
  async admit(
    body: Uint8Array,
    json: Record<string, unknown>,
    shape: RefusalShape,
    knownText?: string,
  ): Promise<Response | null> {
    try {
      await this.reserve(body, json, knownText);
      return null;
    } catch (error) {
      if (error instanceof LimitRefusal) return this.refusal(error, shape);
      throw error;
    }
  }

  /** The refusal answer in the client's API; ends the interception (rejected when nothing went upstream). */
  refusal(refused: LimitRefusal, shape: RefusalShape): Response {
    const nothingSent = this.calls === 0;
    this.interception.end({
      status: nothingSent ? "rejected" : "failed",
      errorType: refused.reason,
      errorMessage: refused.message,
    });
    writeMetric(
      (this.env as { METRICS?: AnalyticsEngineDataset }).METRICS,
      "gateway_event",
      { event: "limit_rejected", detail: refused.reason },
      { count: 1 },
    );
    const response = refusalResponse(refused, shape);
    response.headers.set("x-aibridge-interception-id", this.interception.id);
    return response;
  }

  /** x-aibridge-budget-remaining-usd / -reset on answers of users near their budget. */
  annotate(headers: Headers): void {
    if (this.near) setBudgetHeaders(headers, this.near);
  }

  private async reconcile(summary: InterceptionSummary): Promise<void> {
    const t = summary.totals;
    const tokens = t.inputTokens + t.outputTokens + t.cacheReadInputTokens + t.cacheWriteInputTokens;
    try {
      await this.stub?.reconcile(this.interception.id, summary.costMicros, tokens);
    } catch (error) {
      // The reservation then expires on its own (RESERVATION_EXPIRY_MS).
      log.error("limits_reconcile_failed", {
        interception: this.interception.id,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
}

function unavailable(): LimitRefusal {
  return new LimitRefusal(
    "limits_unavailable",
    "The gateway could not check your limits; retry shortly.",
    1,
    null,
  );
}

/** UTF-8 length of a string without encoding it (lone surrogates count as the 3-byte U+FFFD). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code < 0xdc00 && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next < 0xe000) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

export function limiterStub(ns: DurableObjectNamespace<UserLimiter>, userId: string) {
  return ns.get(ns.idFromName(userId));
}

function setBudgetHeaders(headers: Headers, hint: BudgetHint): void {
  headers.set("x-aibridge-budget-remaining-usd", hint.remainingUsd.toFixed(6));
  headers.set("x-aibridge-budget-reset", new Date(hint.resetsAt).toISOString());
}

/**
 * Budget and rate refusals are 429 with retry-after; a model the policy refuses is 403. The error
 * types are the providers' own: Anthropic rate_limit_error / permission_error; OpenAI
 * insufficient_quota (budget, as OpenAI answers an exhausted quota), rate_limit_exceeded (rates),
 * permission_denied (model).
 */
export function refusalResponse(refused: LimitRefusal, shape: RefusalShape): Response {
  const forbidden = refused.reason === "model_not_allowed" || refused.reason === "unpriced_model";
  const status = forbidden ? 403 : 429;
  let response: Response;
  if (refused.reason === "limits_unavailable") {
    response = shape.errorResponse(503, refused.message);
  } else if (shape.provider === "anthropic") {
    response = shape.errorResponse(
      status,
      refused.message,
      forbidden ? "permission_error" : "rate_limit_error",
    );
  } else if (forbidden) {
    response = shape.errorResponse(status, refused.message, "permission_denied", refused.reason);
  } else if (refused.reason === "budget_exceeded") {
    response = shape.errorResponse(status, refused.message, "insufficient_quota", "insufficient_quota");
  } else {
    response = shape.errorResponse(status, refused.message, "requests", "rate_limit_exceeded");
    if (refused.reason === "tokens_per_minute")
      response = shape.errorResponse(status, refused.message, "tokens", "rate_limit_exceeded");
  }
  if (refused.retryAfter !== null) response.headers.set("retry-after", String(refused.retryAfter));
  if (refused.budget) setBudgetHeaders(response.headers, refused.budget);
  return response;
}
