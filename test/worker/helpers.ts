/** Shared helpers for Worker tests: real admin API calls, real D1 reads, polling for the queue. */
import { env, SELF } from "cloudflare:test";
import { vi } from "vitest";

export const ADMIN_TOKEN = env.ADMIN_TOKEN as string;
export const GATEWAY = "http://gateway.test";

export async function admin(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${ADMIN_TOKEN}`);
  if (init.body) headers.set("content-type", "application/json");
  return SELF.fetch(`${GATEWAY}/admin/v1${path}`, { ...init, headers });
}

export async function createKey(user: string, name?: string): Promise<{ id: string; key: string }> {
  const response = await admin("/keys", { method: "POST", body: JSON.stringify({ user, name }) });
  if (response.status !== 201)
    throw new Error(`key create failed: ${response.status} ${await response.text()}`);
  return response.json();
}

export async function rows<T = Record<string, unknown>>(sql: string, ...params: unknown[]): Promise<T[]> {
  const result = await env.DB.prepare(sql)
    .bind(...params)
    .all<T>();
  return result.results;
}

/** Waits until the queue consumer has written what `check` expects (records travel asynchronously). */
export async function eventually<T>(check: () => Promise<T>, timeout = 10_000): Promise<T> {
  return vi.waitFor(check, { timeout, interval: 50 });
}

/** Waits for an interception to be ended in D1 and returns it with all its child rows. */
export async function endedInterception(id: string, timeout?: number) {
  const interception = await eventually(async () => {
    const [row] = await rows<Record<string, unknown>>(
      "select * from aibridge_interceptions where id = ?",
      id,
    );
    if (!row || row.ended_at === null) throw new Error(`interception ${id} not ended yet`);
    return row;
  }, timeout);
  const [tokens, prompts, tools, thoughts] = await Promise.all([
    rows("select * from aibridge_token_usages where interception_id = ? order by id", id),
    rows("select * from aibridge_user_prompts where interception_id = ? order by id", id),
    rows("select * from aibridge_tool_usages where interception_id = ? order by id", id),
    rows("select * from aibridge_model_thoughts where interception_id = ? order by id", id),
  ]);
  return { interception, tokens, prompts, tools, thoughts };
}

export function fakeRequests(
  baseUrl: string,
): Promise<{ method: string; url: string; headers: Record<string, string>; bodyBase64: string }[]> {
  return fetch(`${baseUrl}/__fake/requests`).then((r) => r.json());
}

export function decodeBase64(value: string): Uint8Array {
  return Uint8Array.from(atob(value), (c) => c.charCodeAt(0));
}
