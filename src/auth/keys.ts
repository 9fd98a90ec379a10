/**
 * Gateway keys: `aib_` + 43 base64url characters (256 random bits). Only the SHA-256 of a key is
 * stored; a fast hash is right here because the key itself has 256 bits of entropy (nothing to
 * brute-force, unlike a password). Lookups are cached per isolate for KEY_CACHE_TTL_MS so a request
 * does not pay a D1 round trip; that TTL is the revocation bound (a revoked key stops working
 * everywhere within it, well under the promised 60 s).
 */
import { desc, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { uuidv7 } from "uuidv7";
import { apiKeys, users } from "../db/schema";

export const KEY_PREFIX = "aib_";
export const KEY_CACHE_TTL_MS = 30_000;
/** Unknown keys are cached briefly too, so a flood of bad keys cannot hammer D1. */
const NEGATIVE_CACHE_TTL_MS = 5_000;
const MAX_CACHE_ENTRIES = 10_000;

export interface GatewayKey {
  id: string;
  userId: string;
  revokedAt: number | null;
}

interface CacheEntry {
  key: GatewayKey | null;
  expiresAt: number;
}

/**
 * By the presented key itself, not its hash: a cached key then costs a map lookup, not a digest
 * per request. The isolate holds the presented key in the request anyway; the cache never leaves it.
 * A presented string longer than MAX_RAW_CACHE_KEY (every issued key has 47 characters) is cached
 * as `#` and its hash, so the cache's memory stays bounded whatever clients send; the two kinds of
 * entry cannot collide, their lengths differ.
 */
const cache = new Map<string, CacheEntry>();
const MAX_RAW_CACHE_KEY = 64;

export function generateKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return KEY_PREFIX + base64url(bytes);
}

export function looksLikeGatewayKey(value: string): boolean {
  return value.startsWith(KEY_PREFIX);
}

export async function hashKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
  return hex(new Uint8Array(digest));
}

/** Display form of a key: its prefix and first characters, enough to recognise it in a list. */
export function keyPrefixOf(key: string): string {
  return key.slice(0, KEY_PREFIX.length + 6);
}

/** Resolves a presented key to an active gateway key, or null (unknown or revoked). */
export async function verifyKey(db: D1Database, presented: string): Promise<GatewayKey | null> {
  const now = Date.now();
  const longHash = presented.length > MAX_RAW_CACHE_KEY ? await hashKey(presented) : null;
  const cacheKey = longHash === null ? presented : `#${longHash}`;
  const cached = cache.get(cacheKey);
  let key: GatewayKey | null;
  if (cached && cached.expiresAt > now) {
    key = cached.key;
  } else {
    const hash = longHash ?? (await hashKey(presented));
    const row = await db
      .prepare("select id, user_id, key_hash, revoked_at from aibridge_api_keys where key_hash = ?")
      .bind(hash)
      .first<{ id: string; user_id: string; key_hash: string; revoked_at: number | null }>();
    // The row was found by its hash; compare again in constant time so that no code path's
    // timing depends on how much of a guessed hash matched.
    key =
      row && timingSafeEqualText(row.key_hash, hash)
        ? { id: row.id, userId: row.user_id, revokedAt: row.revoked_at }
        : null;
    remember(cacheKey, key, now);
  }
  if (!key || key.revokedAt !== null) return null;
  return key;
}

function remember(cacheKey: string, key: GatewayKey | null, now: number): void {
  if (cache.size >= MAX_CACHE_ENTRIES) cache.clear();
  cache.set(cacheKey, { key, expiresAt: now + (key ? KEY_CACHE_TTL_MS : NEGATIVE_CACHE_TTL_MS) });
}

/** Test hook and admin hook: forget cached lookups in this isolate. */
export function clearKeyCache(): void {
  cache.clear();
}

export function timingSafeEqualText(a: string, b: string): boolean {
  const left = new TextEncoder().encode(a);
  const right = new TextEncoder().encode(b);
  if (left.byteLength !== right.byteLength) {
    // Still do the work so the length difference is the only thing that leaks.
    crypto.subtle.timingSafeEqual(left, left);
    return false;
  }
  return crypto.subtle.timingSafeEqual(left, right);
}

export interface CreatedKey {
  id: string;
  userId: string;
  name: string | null;
  keyPrefix: string;
  createdAt: number;
  /** The key itself: returned once, never stored. */
  key: string;
}

export async function createKey(d1: D1Database, userId: string, name: string | null): Promise<CreatedKey> {
  const db = drizzle(d1);
  const key = generateKey();
  const now = Date.now();
  const row = {
    id: uuidv7(),
    userId,
    name,
    keyPrefix: keyPrefixOf(key),
    keyHash: await hashKey(key),
    createdAt: now,
  };
  await db.batch([
    db.insert(users).values({ id: userId, createdAt: now }).onConflictDoNothing(),
    db.insert(apiKeys).values(row),
  ]);
  return { id: row.id, userId, name, keyPrefix: row.keyPrefix, createdAt: now, key };
}

export async function listKeys(d1: D1Database, userId?: string) {
  const db = drizzle(d1);
  const columns = {
    id: apiKeys.id,
    userId: apiKeys.userId,
    name: apiKeys.name,
    keyPrefix: apiKeys.keyPrefix,
    createdAt: apiKeys.createdAt,
    lastUsedAt: apiKeys.lastUsedAt,
    revokedAt: apiKeys.revokedAt,
  };
  const query = db.select(columns).from(apiKeys);
  return userId
    ? query.where(eq(apiKeys.userId, userId)).orderBy(desc(apiKeys.createdAt))
    : query.orderBy(desc(apiKeys.createdAt));
}

/** Revokes a key; returns false when no such key exists. Revoking twice keeps the first time. */
export async function revokeKey(d1: D1Database, id: string): Promise<boolean> {
  const result = await d1
    .prepare("update aibridge_api_keys set revoked_at = coalesce(revoked_at, ?) where id = ?")
    .bind(Date.now(), id)
    .run();
  cache.clear();
  return result.meta.changes > 0;
}

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function hex(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
  return out;
}
