/**
 * UserLimiter: one Durable Object per user (named by the user id), the single-threaded authority for
 * that user's budget, rate windows and model policy. Every admission is decided here, one at a time,
 * so concurrent requests can never together pass the budget (docs/limits.md).
 *
 * State lives in the object's SQLite storage (it survives eviction):
 *   meta          the freshest policy it has heard of (+ when it was read), the current period and its spend
 *   reservations  one row per interception in flight: its worst-case cost (plus its cost so far)
 *   window        the last minute's admitted requests and reconciled tokens (RPM, TPM)
 *
 * Policy: the Worker passes the policy it loaded with each call and the admin API pushes changes;
 * the freshest copy wins (asOf: when it was read from D1, or pushed after a write), so a stale cache
 * in some isolate can never undo a newer change, while a change written straight to D1 (the CLI)
 * still arrives with the next fresh read.
 */
import { DurableObject } from "cloudflare:workers";
import { DEFAULT_PERIOD, type PeriodKind, periodBounds } from "./period";
import { enforcesLimits, modelRefusal, type Policy } from "./policy";
import { recordedUsage } from "./spend";

/**
 * A reservation whose request never reports back (its isolate was killed) stops counting after this
 * long. Each upstream call (each MCP loop iteration too) renews its interception's reservation, so
 * this bounds one upstream call, not a whole conversation. See docs/limits.md.
 */
export const RESERVATION_EXPIRY_MS = 60 * 60 * 1000;
const WINDOW_MS = 60_000;
/** Answers carry the x-aibridge-budget-* headers once the remaining budget is at most this share. */
export const NEAR_SHARE = 0.2;

export type LimitReason =
  | "budget_exceeded"
  | "requests_per_minute"
  | "tokens_per_minute"
  | "model_not_allowed"
  | "unpriced_model";

export interface AdmitRequest {
  userId: string;
  policy: Policy | null;
  /** When the Worker read this policy from D1. */
  asOf: number;
  interceptionId: string;
  model: string;
  /** Worst-case cost of this upstream call in micro-dollars; null when the model has no price. */
  boundMicros: number | null;
  /** What the interception has already recorded (earlier MCP loop iterations), still held until it ends. */
  heldMicros: number;
  /** The interception's first upstream call: counts as a request for RPM. */
  first: boolean;
}

export interface BudgetHint {
  remainingUsd: number;
  resetsAt: number;
}

export type AdmitResult =
  | { ok: true; near: BudgetHint | null }
  | {
      ok: false;
      reason: LimitReason;
      message: string;
      /** Seconds until the limit lets a request through again (null: never, e.g. a denied model). */
      retryAfter: number | null;
      budget: BudgetHint | null;
    };

export interface LimitState {
  period: PeriodKind | null;
  period_start: string | null;
  resets_at: string | null;
  budget_usd: number | null;
  spent_usd: number;
  reserved_usd: number;
  remaining_usd: number | null;
  in_flight: number;
  requests_last_minute: number;
  tokens_last_minute: number;
  /** When the policy this object enforces was read from D1 or pushed (epoch ms). */
  policy_as_of: number;
}

interface Meta {
  userId: string | null;
  policy: Policy | null;
  asOf: number;
  periodKind: PeriodKind | null;
  periodStart: number | null;
  spentMicros: number;
}

export interface LimiterEnv {
  DB: D1Database;
  /** "true" only in tests: lets setTestClock move this object's clock. Never set in production. */
  LIMITS_TEST_CLOCK?: string;
}

export class UserLimiter extends DurableObject<LimiterEnv> {
  private meta: Meta;
  private testNow: number | null = null;

  constructor(ctx: DurableObjectState, env: LimiterEnv) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec(`create table if not exists meta (id integer primary key check (id = 1), body text not null);
      create table if not exists reservations (id text primary key, micros integer not null, created_at integer not null);
      create table if not exists window (at integer not null, requests integer not null, tokens integer not null);
      create index if not exists window_at on window (at);`);
    const row = sql.exec<{ body: string }>("select body from meta where id = 1").toArray()[0];
    this.meta = row
      ? (JSON.parse(row.body) as Meta)
      : { userId: null, policy: null, asOf: 0, periodKind: null, periodStart: null, spentMicros: 0 };
  }

  /** Admits one upstream call (reserving its worst case) or says which limit refuses it. */
  async admit(request: AdmitRequest): Promise<AdmitResult> {
    this.adopt(request.userId, request.policy, request.asOf);
    const now = this.now();
    const policy = this.meta.policy;
    if (!policy || !enforcesLimits(policy)) {
      this.reserve(request.interceptionId, 0, now);
      return { ok: true, near: null };
    }
    const refusedModel = modelRefusal(policy, request.model);
    if (refusedModel) {
      return this.refuse(
        "model_not_allowed",
        `Model ${request.model} is not allowed: ${refusedModel}.`,
        null,
      );
    }
    this.prune(now);
    const rpm = policy.requests_per_minute;
    if (rpm !== undefined && request.first) {
      const rows = this.sql<{ at: number }>(
        "select at from window where requests > 0 and at > ? order by at",
        now - WINDOW_MS,
      );
      if (rows.length >= rpm) {
        // The slot frees when the request that filled the window ages out (rpm 0: never; say a minute).
        const filling = rows[rows.length - rpm];
        const slot = filling ? filling.at + WINDOW_MS : now + WINDOW_MS;
        return this.refuse(
          "requests_per_minute",
          `Rate limit of ${rpm} requests per minute reached; the next slot opens at ${iso(slot)}.`,
          seconds(slot - now),
        );
      }
    }
    const tpm = policy.tokens_per_minute;
    if (tpm !== undefined) {
      const rows = this.sql<{ at: number; tokens: number }>(
        "select at, tokens from window where tokens > 0 and at > ? order by at",
        now - WINDOW_MS,
      );
      let used = rows.reduce((sum, r) => sum + r.tokens, 0);
      if (used >= tpm) {
        // The window frees up as its oldest entries age out.
        let slot = now + WINDOW_MS;
        for (const r of rows) {
          used -= r.tokens;
          if (used < tpm) {
            slot = r.at + WINDOW_MS;
            break;
          }
        }
        return this.refuse(
          "tokens_per_minute",
          `Rate limit of ${tpm} tokens per minute reached; tokens free up at ${iso(slot)}.`,
          seconds(slot - now),
        );
      }
    }
    let near: BudgetHint | null = null;
    const need = request.heldMicros + (request.boundMicros ?? 0);
    if (policy.budget_usd !== undefined) {
      if (request.boundMicros === null) {
        return this.refuse(
          "unpriced_model",
          `Model ${request.model} has no known price, so a budget cannot bound its cost; an admin can add its price to PRICING_OVERRIDES.`,
          null,
        );
      }
      const { end } = await this.period(now);
      const budget = Math.round(policy.budget_usd * 1e6);
      const others = this.reservedMicros(now, request.interceptionId);
      const spent = this.meta.spentMicros;
      if (spent + others + need > budget) {
        const hint = { remainingUsd: usd(Math.max(0, budget - spent - others)), resetsAt: end };
        return this.refuse(
          "budget_exceeded",
          `Budget of $${policy.budget_usd} per ${this.meta.periodKind} reached: $${usd(spent)} spent and $${usd(others)} reserved by requests in flight; this request could cost up to $${usd(need)}. It resets at ${iso(end)}.`,
          seconds(end - now),
          hint,
        );
      }
      const remaining = budget - spent - others - need;
      if (remaining <= budget * NEAR_SHARE) near = { remainingUsd: usd(remaining), resetsAt: end };
    }
    if (request.first) this.ctx.storage.sql.exec("insert into window values (?, 1, 0)", now);
    this.reserve(request.interceptionId, need, now);
    return { ok: true, near };
  }

  /** The interception ended: its reservation becomes its recorded cost (0 on upstream failure). */
  async reconcile(interceptionId: string, costMicros: number, tokens: number): Promise<void> {
    const now = this.now();
    this.ctx.storage.sql.exec("delete from reservations where id = ?", interceptionId);
    if (tokens > 0) this.ctx.storage.sql.exec("insert into window values (?, 0, ?)", now, tokens);
    if (costMicros > 0) {
      // A reconcile that arrives after a rollover counts in the new period, as its D1 records do.
      await this.period(now);
      this.meta.spentMicros += costMicros;
      this.save();
    }
  }

  /** An admin change: takes effect at once (unless an even fresher copy is already known). */
  setPolicy(userId: string, policy: Policy | null, asOf: number): void {
    this.adopt(userId, policy, asOf);
  }

  async state(userId: string, policy: Policy | null, asOf: number): Promise<LimitState> {
    this.adopt(userId, policy, asOf);
    const now = this.now();
    this.prune(now);
    const p = this.meta.policy;
    const hasBudget = p?.budget_usd !== undefined;
    const bounds = hasBudget ? await this.period(now) : null;
    const reserved = this.reservedMicros(now, null);
    const [window] = this.sql<{ requests: number | null; tokens: number | null }>(
      "select sum(requests) as requests, sum(tokens) as tokens from window where at > ?",
      now - WINDOW_MS,
    );
    const budgetMicros = hasBudget ? Math.round((p?.budget_usd ?? 0) * 1e6) : null;
    return {
      period: hasBudget ? this.meta.periodKind : null,
      period_start: bounds ? iso(bounds.start) : null,
      resets_at: bounds ? iso(bounds.end) : null,
      budget_usd: p?.budget_usd ?? null,
      spent_usd: hasBudget ? usd(this.meta.spentMicros) : 0,
      reserved_usd: usd(reserved),
      remaining_usd:
        budgetMicros === null ? null : usd(Math.max(0, budgetMicros - this.meta.spentMicros - reserved)),
      in_flight:
        this.sql<{ n: number }>(
          "select count(*) as n from reservations where created_at > ?",
          now - RESERVATION_EXPIRY_MS,
        )[0]?.n ?? 0,
      requests_last_minute: window?.requests ?? 0,
      tokens_last_minute: window?.tokens ?? 0,
      policy_as_of: this.meta.asOf,
    };
  }

  /** Tests only (rollover, rate windows): moves this object's clock. Refused unless LIMITS_TEST_CLOCK is "true". */
  setTestClock(now: number | null): void {
    if (this.env.LIMITS_TEST_CLOCK !== "true") throw new Error("The test clock is disabled.");
    this.testNow = now;
  }

  private now(): number {
    return this.testNow ?? Date.now();
  }

  private adopt(userId: string, policy: Policy | null, asOf: number): void {
    let changed = false;
    if (this.meta.userId !== userId) {
      this.meta.userId = userId;
      changed = true;
    }
    if (asOf > this.meta.asOf) {
      changed = JSON.stringify(policy) !== JSON.stringify(this.meta.policy) || changed;
      this.meta.policy = policy;
      this.meta.asOf = asOf;
    }
    if (changed) this.save();
  }

  /**
   * The current budget period, rolled over when its end has passed. The first period (and a change
   * of period kind) starts from what D1 already holds for that span, so a budget set mid-month
   * counts the month's earlier spend; a plain rollover starts at zero.
   */
  private async period(now: number): Promise<{ start: number; end: number }> {
    const kind = this.meta.policy?.period ?? DEFAULT_PERIOD;
    const bounds = periodBounds(kind, now);
    if (this.meta.periodStart === bounds.start && this.meta.periodKind === kind) return bounds;
    const seed = this.meta.periodKind !== kind;
    if (seed) {
      // No other call may interleave while D1 answers: the spend must be set before the next admission.
      await this.ctx.blockConcurrencyWhile(async () => {
        this.meta.spentMicros = await this.recordedSpend(bounds.start, now);
      });
    } else {
      this.meta.spentMicros = 0;
    }
    this.meta.periodKind = kind;
    this.meta.periodStart = bounds.start;
    this.save();
    return bounds;
  }

  /** Cost D1 recorded for this user in [from, to] (day rollups with exact raw edges: spend.ts). */
  private async recordedSpend(from: number, to: number): Promise<number> {
    if (!this.meta.userId) return 0;
    return (await recordedUsage(this.env.DB, this.meta.userId, from, to + 1)).cost_micros;
  }

  private reserve(id: string, micros: number, now: number): void {
    this.ctx.storage.sql.exec(
      "insert into reservations values (?, ?, ?) on conflict (id) do update set micros = excluded.micros, created_at = excluded.created_at",
      id,
      micros,
      now,
    );
  }

  private reservedMicros(now: number, except: string | null): number {
    const [row] = this.sql<{ micros: number | null }>(
      "select sum(micros) as micros from reservations where created_at > ? and id != ?",
      now - RESERVATION_EXPIRY_MS,
      except ?? "",
    );
    return row?.micros ?? 0;
  }

  private prune(now: number): void {
    this.ctx.storage.sql.exec("delete from window where at <= ?", now - WINDOW_MS);
    this.ctx.storage.sql.exec("delete from reservations where created_at <= ?", now - RESERVATION_EXPIRY_MS);
  }

  private refuse(
    reason: LimitReason,
    message: string,
    retryAfter: number | null,
    budget: BudgetHint | null = null,
  ): AdmitResult {
    return { ok: false, reason, message, retryAfter, budget };
  }

  private sql<T extends Record<string, SqlStorageValue>>(query: string, ...params: unknown[]): T[] {
    return this.ctx.storage.sql.exec<T>(query, ...params).toArray();
  }

  private save(): void {
    this.ctx.storage.sql.exec(
      "insert into meta values (1, ?) on conflict (id) do update set body = excluded.body",
      JSON.stringify(this.meta),
    );
  }
}

function usd(micros: number): number {
  return Math.round(micros) / 1e6;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
