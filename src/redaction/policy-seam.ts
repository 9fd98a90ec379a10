/**
 * ===== MERGE SEAM (issue 14, per-user policy) =====
 * The one place where the bridge learns a user's own `record_content` from their policy. Until
 * src/limits/policy.ts lands this answers "no override"; at merge it becomes:
 *
 *   const policy = await loadPolicy(env, userId);
 *   return policy?.record_content ?? undefined;
 *
 * It is awaited inside waitUntil, before the interception's first record is stored, so a policy
 * lookup never delays the response. An unknown value is ignored by resolveRecordMode.
 */
export async function policyRecordContent(_env: unknown, _userId: string): Promise<string | undefined> {
  return undefined;
}
