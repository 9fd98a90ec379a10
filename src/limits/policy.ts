/**
 * The per-user policy: what it may hold, how it is validated, and how the rest of the Worker reads
 * the effective one (the user's own, else the "*" default, else none).
 *
 * loadPolicy is a per-isolate cache over D1 (POLICY_CACHE_MS). A user with no policy and no "*"
 * therefore costs at most one small D1 read every few seconds and never a Durable Object round trip.
 * Freshness: the admin API clears this isolate's cache and pushes the new policy to the user's
 * Durable Object, which keeps the freshest copy it has heard of (by the time it was read from D1 or
 * pushed, `asOf`), so for a user who already has a policy a change applies to the next request, and a
 * stale cache in another isolate cannot undo it. Other isolates, and changes written by the CLI
 * straight to D1 (deletions included), take effect within POLICY_CACHE_MS.
 */
import { PERIOD_KINDS, type PeriodKind } from "./period";

export const DEFAULT_USER = "*";

/** How long an isolate trusts what it read from D1 (positive and negative answers alike). */
export const POLICY_CACHE_MS = 5_000;

export type RecordContent = "redacted" | "full" | "none";

export interface Policy {
  budget_usd?: number;
  period?: PeriodKind;
  requests_per_minute?: number;
  tokens_per_minute?: number;
  models?: { allow?: string; deny?: string };
  /** Per-user override of the content-recording mode (read by the redaction feature). */
  record_content?: RecordContent;
}

/** The effective policy for one user, with where it came from and when it was read. */
export interface EffectivePolicy {
  policy: Policy;
  /** "user" = the user's own row, "*" = the default. */
  source: "user" | "*";
  /** When the row was last changed. */
  updatedAt: number;
  /** When this copy was read from D1: the Durable Object keeps the freshest copy it is given. */
  asOf: number;
}

const FIELDS = [
  "budget_usd",
  "period",
  "requests_per_minute",
  "tokens_per_minute",
  "models",
  "record_content",
] as const;
const RECORD_CONTENT: readonly RecordContent[] = ["redacted", "full", "none"];
const MAX_REGEX = 500;

/** Validates an admin-supplied policy; returns it normalized, or a message saying what is wrong. */
export function parsePolicy(value: unknown): { ok: true; policy: Policy } | { ok: false; message: string } {
  const fail = (message: string) => ({ ok: false as const, message });
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return fail('The policy must be a JSON object, e.g. {"budget_usd": 50, "period": "month"}.');
  const input = value as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!(FIELDS as readonly string[]).includes(key))
      return fail(`Unknown field "${key}" (allowed: ${FIELDS.join(", ")}).`);
  }
  const policy: Policy = {};
  const b = input.budget_usd;
  if (b !== undefined && b !== null) {
    if (typeof b !== "number" || !Number.isFinite(b) || b < 0 || b > 1e9)
      return fail("budget_usd must be a number of US dollars between 0 and 1e9.");
    policy.budget_usd = b;
  }
  const p = input.period;
  if (p !== undefined && p !== null) {
    if (typeof p !== "string" || !(PERIOD_KINDS as readonly string[]).includes(p))
      return fail(`period must be one of ${PERIOD_KINDS.join(", ")}.`);
    policy.period = p as PeriodKind;
  }
  for (const name of ["requests_per_minute", "tokens_per_minute"] as const) {
    const v = input[name];
    if (v === undefined || v === null) continue;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 1e12)
      return fail(`${name} must be a non-negative integer.`);
    policy[name] = v;
  }
  const models = input.models;
  if (models !== undefined && models !== null) {
    if (typeof models !== "object" || Array.isArray(models))
      return fail('models must be an object like {"allow": "^claude-", "deny": "opus"}.');
    const m = models as Record<string, unknown>;
    const out: { allow?: string; deny?: string } = {};
    for (const key of Object.keys(m)) {
      if (key !== "allow" && key !== "deny") return fail(`models has unknown field "${key}" (allow, deny).`);
      const pattern = m[key];
      if (pattern === undefined || pattern === null || pattern === "") continue;
      if (typeof pattern !== "string" || pattern.length > MAX_REGEX)
        return fail(`models.${key} must be a regular expression of at most ${MAX_REGEX} characters.`);
      try {
        new RegExp(pattern);
      } catch {
        return fail(`models.${key} is not a valid regular expression.`);
      }
      out[key] = pattern;
    }
    if (out.allow !== undefined || out.deny !== undefined) policy.models = out;
  }
  const rc = input.record_content;
  if (rc !== undefined && rc !== null) {
    if (typeof rc !== "string" || !(RECORD_CONTENT as readonly string[]).includes(rc))
      return fail(`record_content must be one of ${RECORD_CONTENT.join(", ")}.`);
    policy.record_content = rc as RecordContent;
  }
  return { ok: true, policy };
}

/** Whether the policy limits anything the Durable Object enforces (record_content alone does not). */
export function enforcesLimits(policy: Policy): boolean {
  return (
    policy.budget_usd !== undefined ||
    policy.requests_per_minute !== undefined ||
    policy.tokens_per_minute !== undefined ||
    policy.models !== undefined
  );
}

/** Why a model is refused by the policy, or null when it may be used. Regexes match anywhere, case-insensitively. */
export function modelRefusal(policy: Policy, model: string): string | null {
  const { allow, deny } = policy.models ?? {};
  if (allow && !new RegExp(allow, "i").test(model))
    return `it does not match the allowed models (/${allow}/)`;
  if (deny && new RegExp(deny, "i").test(model)) return `it matches the denied models (/${deny}/)`;
  return null;
}

interface CacheEntry {
  value: EffectivePolicy | null;
  expires: number;
}

const cache = new Map<string, CacheEntry>();
const MAX_CACHED = 10_000;

/** The effective policy (user's own, else "*", else null), from the per-isolate cache over D1. */
export async function loadPolicy(env: { DB: D1Database }, userId: string): Promise<Policy | null> {
  return (await loadEffectivePolicy(env, userId))?.policy ?? null;
}

/** loadPolicy with its source and read time (what the Durable Object needs). */
export async function loadEffectivePolicy(
  env: { DB: D1Database },
  userId: string,
): Promise<EffectivePolicy | null> {
  const now = Date.now();
  const hit = cache.get(userId);
  if (hit && hit.expires > now) return hit.value;
  let value: EffectivePolicy | null;
  try {
    value = await readEffectivePolicy(env.DB, userId);
  } catch (error) {
    // D1 unreachable: the last known answer is better than none (it was right a moment ago).
    if (hit) return hit.value;
    throw error;
  }
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(userId, { value, expires: now + POLICY_CACHE_MS });
  return value;
}

/** One D1 read: the user's row and the default row; the user's wins. */
export async function readEffectivePolicy(db: D1Database, userId: string): Promise<EffectivePolicy | null> {
  const readAt = Date.now();
  const { results } = await db
    .prepare("select user_id, policy, updated_at from aibridge_limits where user_id in (?, ?)")
    .bind(userId, DEFAULT_USER)
    .all<{ user_id: string; policy: string; updated_at: number }>();
  const row = results.find((r) => r.user_id === userId) ?? results.find((r) => r.user_id === DEFAULT_USER);
  if (!row) return null;
  return {
    policy: JSON.parse(row.policy) as Policy,
    source: row.user_id === DEFAULT_USER && userId !== DEFAULT_USER ? "*" : "user",
    updatedAt: row.updated_at,
    asOf: readAt,
  };
}

/** Forgets this isolate's cached answers (after an admin change; other isolates expire on their own). */
export function clearPolicyCache(userId?: string): void {
  if (userId === undefined || userId === DEFAULT_USER) cache.clear();
  else cache.delete(userId);
}
