/**
 * Injected tool names: `bmcp_<server>_<tool>`. Providers accept [A-Za-z0-9_-]{1,64}; a tool name
 * that does not fit (too long, or other characters) is cut and suffixed with a hash of the original
 * name, so the result is deterministic (byte-stable injection) and distinct tools stay distinct.
 */

export const INJECTED_PREFIX = "bmcp_";
const MAX_NAME = 64;
const VALID = /^[A-Za-z0-9_-]+$/;

export function injectedToolName(server: string, tool: string): string {
  const prefix = `${INJECTED_PREFIX}${server}_`;
  const plain = `${prefix}${tool}`;
  if (plain.length <= MAX_NAME && VALID.test(tool)) return plain;
  const suffix = `_${fnv1a32(tool)}`;
  const room = MAX_NAME - prefix.length - suffix.length;
  return `${prefix}${tool.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, room)}${suffix}`;
}

export function isInjectedName(name: unknown): boolean {
  return typeof name === "string" && name.startsWith(INJECTED_PREFIX);
}

/** FNV-1a, 32 bits, as 8 hex digits: small, synchronous and stable everywhere. */
export function fnv1a32(text: string): string {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}
