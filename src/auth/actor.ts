/**
 * Who is calling, and with which provider credential. Clients put the gateway key where their tools
 * already put credentials (x-api-key or Authorization: Bearer for Anthropic; Bearer for OpenAI;
 * api-key or Bearer for an `api-key` instance such as Azure OpenAI). With BYOK the user's own
 * provider key travels in that usual header (and upstream in the same header) and the gateway key
 * in X-AIBridge-Key instead.
 */
import type { CredentialKind } from "../recorder/records";
import { looksLikeGatewayKey, verifyKey } from "./keys";

export const GATEWAY_KEY_HEADER = "x-aibridge-key";

/**
 * Where clients of a route put credentials. `api-key`: an OpenAI-API instance whose upstream takes
 * an `api-key` header (Azure OpenAI): Azure SDK clients send their key there, so it is read first,
 * then `Authorization: Bearer` (the plain OpenAI SDK, or a Microsoft Entra token).
 */
export type CredentialStyle = "anthropic" | "openai" | "api-key";

/** The credential to send upstream: the client's own (BYOK) or null for the gateway's key. */
export interface UpstreamCredential {
  header: "x-api-key" | "authorization" | "api-key";
  value: string;
}

export interface Actor {
  userId: string;
  keyId: string;
  credentialKind: CredentialKind;
  /** A masked hint of a BYOK key (prefix and last four), never the key. */
  credentialHint: string | null;
  byokCredential: UpstreamCredential | null;
}

export type ActorResult = { ok: true; actor: Actor } | { ok: false; message: string };

export async function resolveActor(
  headers: Headers,
  style: CredentialStyle,
  db: D1Database,
  byokEnabled: boolean,
): Promise<ActorResult> {
  const explicitGatewayKey = headers.get(GATEWAY_KEY_HEADER)?.trim() || null;
  const clientCredential = readClientCredential(headers, style);

  let gatewayKey: string | null;
  let byok: UpstreamCredential | null = null;
  if (explicitGatewayKey) {
    gatewayKey = explicitGatewayKey;
    if (clientCredential && !looksLikeGatewayKey(clientCredential.value) && byokEnabled) {
      byok = clientCredential;
    }
  } else {
    gatewayKey = clientCredential?.value ?? null;
  }

  if (!gatewayKey) {
    return {
      ok: false,
      message: `Missing gateway key: send it in ${WHERE[style]} (or X-AIBridge-Key with your own provider key).`,
    };
  }
  const key = await verifyKey(db, gatewayKey);
  if (!key) return { ok: false, message: "Invalid or revoked gateway key." };

  return {
    ok: true,
    actor: {
      userId: key.userId,
      keyId: key.id,
      credentialKind: byok ? "byok" : "centralized",
      credentialHint: byok ? maskCredential(byok.value) : null,
      byokCredential: byok
        ? {
            header: byok.header,
            value: byok.header === "authorization" ? `Bearer ${byok.value}` : byok.value,
          }
        : null,
    },
  };
}

const WHERE: Record<CredentialStyle, string> = {
  anthropic: "x-api-key or Authorization: Bearer",
  openai: "Authorization: Bearer",
  "api-key": "api-key or Authorization: Bearer",
};

function readClientCredential(
  headers: Headers,
  style: CredentialStyle,
): { header: UpstreamCredential["header"]; value: string } | null {
  const keyHeader = style === "anthropic" ? "x-api-key" : style === "api-key" ? "api-key" : null;
  if (keyHeader) {
    const apiKey = headers.get(keyHeader)?.trim();
    if (apiKey) return { header: keyHeader, value: apiKey };
  }
  const authorization = headers.get("authorization");
  const match = authorization ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
  return match?.[1] ? { header: "authorization", value: match[1] } : null;
}

/** `sk-ant-…wxyz`: enough to tell keys apart, useless to an attacker. */
export function maskCredential(value: string): string {
  if (value.length < 16) return "…";
  const prefix = /^[A-Za-z]+-(?:[A-Za-z]+-)?/.exec(value)?.[0] ?? "";
  return `${prefix.slice(0, 12)}…${value.slice(-4)}`;
}
