/**
 * The one place where the bridge learns a user's own `record_content` from their policy
 * (src/limits/policy.ts: the user's own, else the "*" default, from the per-isolate cache over D1).
 * It is awaited inside waitUntil, before the interception's first record is stored, so a policy
 * lookup never delays the response. An unknown value is ignored by resolveRecordMode.
 */
import { loadPolicy } from "../limits/policy";

export async function policyRecordContent(env: unknown, userId: string): Promise<string | undefined> {
  const policy = await loadPolicy(env as { DB: D1Database }, userId);
  return policy?.record_content ?? undefined;
}
