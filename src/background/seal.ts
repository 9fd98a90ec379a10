/**
 * A user's own provider key (BYOK) sealed for the BACKGROUND queue message that polls with it:
 * AES-256-GCM with a random 96-bit IV, under a key derived by HKDF-SHA256 from the server secret
 * the redaction key is chosen from (REDACTION_KEY, else derived from ADMIN_TOKEN, else the
 * development key: src/redaction/config.ts). A distinct HKDF info label makes this key different
 * from the marker key. The response id is the additional authenticated data, so a sealed key is
 * only ever opened for the response it was sealed for.
 *
 * Sealed form: "v1." + base64url(IV ‖ ciphertext+tag). Opening fails (null) when the secret has
 * changed since sealing (rotated REDACTION_KEY or ADMIN_TOKEN) or the text was altered.
 */
import type { UpstreamCredential } from "../auth/actor";

const INFO = new TextEncoder().encode("aibridge-background-credential-v1");
const VERSION = "v1.";
const IV_BYTES = 12;
const HEADERS = new Set<unknown>([
  "authorization",
  "x-api-key",
  "api-key",
] satisfies UpstreamCredential["header"][]);

const keys = new Map<string, Promise<CryptoKey>>();

function sealingKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle
      .importKey("raw", new TextEncoder().encode(secret), "HKDF", false, ["deriveKey"])
      .then((material) =>
        crypto.subtle.deriveKey(
          { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(32), info: INFO },
          material,
          { name: "AES-GCM", length: 256 },
          false,
          ["encrypt", "decrypt"],
        ),
      );
    keys.set(secret, key);
  }
  return key;
}

export async function sealCredential(
  secret: string,
  responseId: string,
  credential: UpstreamCredential,
): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const plain = new TextEncoder().encode(JSON.stringify([credential.header, credential.value]));
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(responseId) },
      await sealingKey(secret),
      plain,
    ),
  );
  const out = new Uint8Array(IV_BYTES + sealed.length);
  out.set(iv);
  out.set(sealed, IV_BYTES);
  return VERSION + toBase64Url(out);
}

/** The credential, or null when it cannot be opened with this secret (never throws). */
export async function openCredential(
  secret: string,
  responseId: string,
  sealed: string,
): Promise<UpstreamCredential | null> {
  try {
    if (!sealed.startsWith(VERSION)) return null;
    const bytes = fromBase64Url(sealed.slice(VERSION.length));
    if (bytes.length <= IV_BYTES) return null;
    const plain = await crypto.subtle.decrypt(
      {
        name: "AES-GCM",
        iv: bytes.subarray(0, IV_BYTES),
        additionalData: new TextEncoder().encode(responseId),
      },
      await sealingKey(secret),
      bytes.subarray(IV_BYTES),
    );
    const [header, value] = JSON.parse(new TextDecoder().decode(plain)) as [unknown, unknown];
    if (!HEADERS.has(header) || typeof value !== "string") return null;
    return { header: header as UpstreamCredential["header"], value };
  } catch {
    return null;
  }
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}
