/**
 * Markers that replace secrets: `[REDACTED:<kind>:<6 hex>]`, the hex being the first 24 bits of
 * HMAC-SHA256(key, secret). The same secret always gives the same marker (an admin can count where
 * one leaked), and without the key a marker cannot be checked against guessed secrets.
 */

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
    ]);
    keys.set(secret, key);
  }
  return key;
}

export async function markerHash(key: string, value: string): Promise<string> {
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(key), encoder.encode(value)));
  return [...mac.subarray(0, 3)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export async function marker(key: string, kind: string, value: string): Promise<string> {
  return `[REDACTED:${kind}:${await markerHash(key, value)}]`;
}
