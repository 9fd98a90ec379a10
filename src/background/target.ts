/**
 * Where a background response is polled: the provider instance that created it (its base URL, its
 * headers, its central keys), so a response created through a named instance (PROVIDERS, or a
 * fallback that answered) is fetched from the upstream that holds it.
 *
 * Keys follow the instance's rotation rules (src/bridge/keys.ts): round-robin start, a key that
 * got a 429 is benched and the next is tried. An upstream answers 401/403/404 for a response
 * another project's key created, so those also move on to the next key; the status of the last
 * key tried is the answer. A user's own key (BYOK) is the only key tried.
 */
import type { UpstreamCredential } from "../auth/actor";
import { keyCredential } from "../bridge/credentials";
import { benchKey, keyOrder } from "../bridge/keys";
import { type Env, getConfig } from "../config";
import { getInstance } from "../providers/instances";

/** Messages and markers from before instances were named here were all created on this one. */
export const DEFAULT_INSTANCE = "openai";

export interface PollTarget {
  /** The instance's name, or null for the configuration of OPENAI_BASE_URL / OPENAI_API_KEY. */
  name: string | null;
  baseUrl: string;
  keys: string[];
  /** The header a central key travels in (Bearer, or Azure's `api-key`). */
  keyHeader: UpstreamCredential["header"];
  headers: Record<string, string>;
}

/** The instance to poll, or null when it no longer exists (or no longer speaks the OpenAI API). */
export function pollTarget(env: Env, name: string | undefined): PollTarget | null {
  const instance = getInstance(env, name ?? DEFAULT_INSTANCE);
  if (instance) {
    if (instance.api !== "openai") return null;
    return {
      name: instance.name,
      baseUrl: instance.baseUrl,
      keys: instance.keys,
      keyHeader: instance.keyHeader,
      headers: instance.headers,
    };
  }
  if (name !== undefined) return null;
  // A message from before this field existed, under a PROVIDERS with no `openai`: it was created
  // through the variables the poll used then.
  const config = getConfig(env);
  return {
    name: null,
    baseUrl: config.openaiBaseUrl,
    keys: config.openaiApiKey ? [config.openaiApiKey] : [],
    keyHeader: "authorization",
    headers: {},
  };
}

/** Answers after which another of the instance's keys may still succeed. */
const NEXT_KEY = new Set([401, 403, 404, 429]);

export interface PollAnswer {
  /** 0 when the upstream could not be reached. */
  status: number;
  body: unknown;
  error?: string;
}

/** GET /responses/{id} on the target, with the user's key or over the instance's keys. */
export async function fetchStoredResponse(
  target: PollTarget,
  responseId: string,
  byok: UpstreamCredential | null,
): Promise<PollAnswer> {
  const url = `${target.baseUrl}/responses/${encodeURIComponent(responseId)}`;
  const attempts: { credential: UpstreamCredential | null; keyIndex: number | null }[] = byok
    ? [{ credential: byok, keyIndex: null }]
    : target.keys.length === 0
      ? [{ credential: null, keyIndex: null }]
      : keyOrder(rotationName(target), target.keys.length).map((keyIndex) => ({
          credential: keyCredential(target.keyHeader, target.keys[keyIndex] as string),
          keyIndex,
        }));
  let answer: PollAnswer = { status: 0, body: null };
  for (const [i, { credential, keyIndex }] of attempts.entries()) {
    const headers = new Headers(target.headers);
    if (credential) headers.set(credential.header, credential.value);
    let response: Response;
    try {
      response = await fetch(url, { headers });
    } catch (error) {
      return { status: 0, body: null, error: String(error) };
    }
    const body = response.ok ? await response.json().catch(() => null) : null;
    if (!response.ok) await response.body?.cancel().catch(() => {});
    answer = { status: response.status, body };
    if (response.status === 429 && keyIndex !== null && target.keys.length > 1) {
      benchKey(rotationName(target), keyIndex, response.headers.get("retry-after"));
    }
    if (!NEXT_KEY.has(response.status) || i === attempts.length - 1) return answer;
  }
  return answer;
}

/** The rotation state is the instance's own (shared with its bridged requests in this isolate). */
function rotationName(target: PollTarget): string {
  return target.name ?? DEFAULT_INSTANCE;
}
