/**
 * Which credential an upstream request of an instance carries, and the central-key rotation around
 * one upstream call: used alike by bridged requests (upstream.ts) and passthrough routes
 * (passthrough.ts), so both skip a key benched by a 429 (keys.ts).
 */
import type { Actor, UpstreamCredential } from "../auth/actor";
import { ConfigError } from "../config";
import type { ProviderInstance } from "../providers/instances";
import { benchKey, keyOrder } from "./keys";

/** Every header a provider credential can travel in: cleared before a central key is set. */
const CREDENTIAL_HEADERS = ["authorization", "x-api-key", "api-key"] as const;

/** The credential for an instance: the user's own (BYOK) or a central key; ConfigError when neither. */
export function instanceCredential(
  instance: ProviderInstance,
  actor: Actor,
  keyIndex = 0,
): UpstreamCredential {
  if (actor.byokCredential) return actor.byokCredential;
  const key = instance.keys[keyIndex];
  if (key === undefined) throw new ConfigError(...instance.noKey);
  return keyCredential(instance.keyHeader, key);
}

/** A central key in the header its instance takes it in (`Bearer ` for authorization). */
export function keyCredential(header: ProviderInstance["keyHeader"], key: string): UpstreamCredential {
  return { header, value: header === "authorization" ? `Bearer ${key}` : key };
}

/**
 * Calls `send` with the instance's central keys in round-robin order: a 429 benches that key until
 * its retry-after and the next key is tried at once (with one key, the 429 is the answer). With the
 * user's own key (already in `headers`) there is exactly one call. `send` may be called more than
 * once, so a request body it sends must be replayable (bytes, not a stream).
 */
export async function sendWithKeys(
  instance: ProviderInstance,
  actor: Actor,
  headers: Headers,
  send: (headers: Headers) => Promise<Response>,
): Promise<Response> {
  const order = actor.byokCredential ? [null] : keyOrder(instance.name, instance.keys.length);
  if (order.length === 0) throw new ConfigError(...instance.noKey);
  let response: Response | null = null;
  for (const [i, keyIndex] of order.entries()) {
    if (keyIndex !== null) {
      const credential = instanceCredential(instance, actor, keyIndex);
      // Another instance's credential (a fallback's predecessor) must never ride along.
      for (const name of CREDENTIAL_HEADERS) headers.delete(name);
      headers.set(credential.header, credential.value);
    }
    response = await send(headers);
    if (response.status !== 429 || keyIndex === null || instance.keys.length < 2) return response;
    benchKey(instance.name, keyIndex, response.headers.get("retry-after"));
    if (i < order.length - 1) await response.body?.cancel().catch(() => {});
  }
  return response as Response;
}

/** Whether `sendWithKeys` may call more than once (the body must then be buffered). */
export function mayRotate(instance: ProviderInstance, actor: Actor): boolean {
  return !actor.byokCredential && instance.keys.length > 1;
}
