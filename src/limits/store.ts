/**
 * Policies in D1 (aibridge_limits) and the views the admin API and /v1/me read: policy + the user's
 * Durable Object state + what D1 recorded. Writes push the new effective policy to the affected
 * Durable Objects so it applies to their next request.
 */
import { limiterStub } from "./admission";
import type { LimitState, UserLimiter } from "./limiter";
import { DEFAULT_PERIOD, periodBounds } from "./period";
import {
  clearPolicyCache,
  DEFAULT_USER,
  type EffectivePolicy,
  enforcesLimits,
  type Policy,
  readEffectivePolicy,
} from "./policy";
import { recordedUsage as recordedUsageRows } from "./spend";

export interface StoreEnv {
  DB: D1Database;
  LIMITER?: DurableObjectNamespace<UserLimiter>;
}

export interface UserLimits {
  user: string;
  /** "user": the user's own policy; "*": the default applies; null: no policy at all. */
  source: "user" | "*" | null;
  policy: Policy | null;
  state: LimitState | null;
  /** Requests refused by a limit in the current period (from D1), by reason. */
  rejected: { total: number; by_reason: Record<string, number> };
}

/** Stores a validated policy; returns its version. */
export async function savePolicy(env: StoreEnv, user: string, policy: Policy): Promise<number> {
  const before = await readEffectivePolicy(env.DB, user);
  const version = Date.now();
  await env.DB.prepare(
    `insert into aibridge_limits (user_id, policy, updated_at) values (?, ?, ?)
     on conflict (user_id) do update set policy = excluded.policy, updated_at = excluded.updated_at`,
  )
    .bind(user, JSON.stringify(policy), version)
    .run();
  await afterChange(env, user, version, before);
  return version;
}

/** Deletes a policy; false when there was none. */
export async function deletePolicy(env: StoreEnv, user: string): Promise<boolean> {
  const before = await readEffectivePolicy(env.DB, user);
  const result = await env.DB.prepare("delete from aibridge_limits where user_id = ?").bind(user).run();
  if (result.meta.changes === 0) return false;
  await afterChange(env, user, Date.now(), before);
  return true;
}

/**
 * This isolate forgets its cached policies, and each affected Durable Object gets the new effective
 * policy, stamped fresher than any copy read before the write. A "*" change reaches every known user without
 * a policy of their own (aibridge_users: everyone who has had a key). Objects are told only when the
 * old or the new policy limits something: otherwise no request consults them (and none is created).
 */
async function afterChange(
  env: StoreEnv,
  user: string,
  version: number,
  before: EffectivePolicy | null,
): Promise<void> {
  clearPolicyCache(user);
  const ns = env.LIMITER;
  if (!ns) return;
  const after = await readEffectivePolicy(env.DB, user);
  const pushedAt = Math.max(version, after?.asOf ?? 0);
  const matters = (e: EffectivePolicy | null) => e !== null && enforcesLimits(e.policy);
  if (!matters(before) && !matters(after)) return;
  const users =
    user === DEFAULT_USER
      ? (
          await env.DB.prepare(
            "select id from aibridge_users where id not in (select user_id from aibridge_limits)",
          ).all<{ id: string }>()
        ).results.map((r) => r.id)
      : [user];
  for (let i = 0; i < users.length; i += 50) {
    await Promise.all(
      users.slice(i, i + 50).map((id) => limiterStub(ns, id).setPolicy(id, after?.policy ?? null, pushedAt)),
    );
  }
}

/** One user's policy, Durable Object state and rejected counts. */
export async function userLimits(env: StoreEnv, user: string): Promise<UserLimits> {
  const effective = await readEffectivePolicy(env.DB, user);
  return describe(env, user, effective);
}

/** Every user with a policy, and when "*" exists every known user it applies to. */
export async function allLimits(env: StoreEnv): Promise<{ default: Policy | null; users: UserLimits[] }> {
  const readAt = Date.now();
  const { results } = await env.DB.prepare(
    "select user_id, policy, updated_at from aibridge_limits order by user_id",
  ).all<{ user_id: string; policy: string; updated_at: number }>();
  const own = new Map(results.map((r) => [r.user_id, r]));
  const star = own.get(DEFAULT_USER);
  own.delete(DEFAULT_USER);
  const followers = star
    ? (
        await env.DB.prepare(
          "select id from aibridge_users where id not in (select user_id from aibridge_limits) order by id",
        ).all<{ id: string }>()
      ).results.map((r) => r.id)
    : [];
  const entries: [string, EffectivePolicy][] = [
    ...[...own.values()].map(
      (r) =>
        [
          r.user_id,
          { policy: JSON.parse(r.policy), source: "user", updatedAt: r.updated_at, asOf: readAt },
        ] as [string, EffectivePolicy],
    ),
    ...followers.map(
      (id) =>
        [
          id,
          {
            policy: JSON.parse(star?.policy ?? "{}"),
            source: "*",
            updatedAt: star?.updated_at ?? 0,
            asOf: readAt,
          },
        ] as [string, EffectivePolicy],
    ),
  ];
  const users: UserLimits[] = [];
  for (let i = 0; i < entries.length; i += 50) {
    users.push(
      ...(await Promise.all(entries.slice(i, i + 50).map(([id, effective]) => describe(env, id, effective)))),
    );
  }
  users.sort((a, b) => a.user.localeCompare(b.user));
  return { default: star ? (JSON.parse(star.policy) as Policy) : null, users };
}

async function describe(env: StoreEnv, user: string, effective: EffectivePolicy | null): Promise<UserLimits> {
  const state =
    effective && enforcesLimits(effective.policy) && env.LIMITER
      ? await limiterStub(env.LIMITER, user).state(user, effective.policy, effective.asOf)
      : null;
  const since = state?.period_start
    ? Date.parse(state.period_start)
    : periodBounds(effective?.policy.period ?? DEFAULT_PERIOD, Date.now()).start;
  const { results } = await env.DB.prepare(
    `select error_type as reason, count(*) as n from aibridge_interceptions
     where initiator_id = ? and status = 'rejected' and started_at >= ? group by error_type`,
  )
    .bind(user, since)
    .all<{ reason: string | null; n: number }>();
  const by_reason: Record<string, number> = {};
  for (const r of results) by_reason[r.reason ?? "unknown"] = r.n;
  return {
    user,
    source: effective ? effective.source : null,
    policy: effective?.policy ?? null,
    state,
    rejected: { total: results.reduce((sum, r) => sum + r.n, 0), by_reason },
  };
}

/**
 * What D1 recorded for one user in [from, to), by the time each usage was recorded (the same rule
 * the Durable Object's spend follows): tokens by type, cost, and the requests they came from.
 * From the day rollups with exact raw edges (spend.ts).
 */
export async function recordedUsage(db: D1Database, user: string, from: number, to: number) {
  const r = await recordedUsageRows(db, user, from, to);
  return {
    requests: r.requests,
    tokens: {
      input: r.input,
      output: r.output,
      cache_read: r.cache_read,
      cache_write: r.cache_write,
    },
    cost_usd: r.cost_micros / 1e6,
    unpriced_records: r.unpriced,
  };
}
