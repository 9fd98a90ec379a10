/**
 * The fingerprint of a request's cacheable prefix, in the order the provider caches it:
 *   Anthropic Messages: tools → system (each block) → messages (each message), with the
 *                       cache_control breakpoints and the TTL each asked for;
 *   OpenAI Responses:   tools → instructions → input (each item);
 *   OpenAI Chat:        tools → messages (each message).
 * Each segment gets a 32-bit hash chained onto the one before it, so two turns compare by finding
 * the first position where their chains differ. Hashed over the request's JSON text where it lies
 * (the body was decoded once by the bridge; nothing is re-serialised). `cache_control` members are
 * left out of the hashes: the provider does not cache them as content, and Claude Code moves its
 * message breakpoint forward every turn.
 */
import { arrayElements, lastMember, objectMembers, valueEnd } from "../providers/openai/json-text";
import { chain, encodeHashes, Hasher, hex32 } from "./hash";

export interface PrefixFingerprint {
  /** The segment groups in order: `tools`, `system[3]`, `messages[40]` (name, or name[count]). */
  layout: string;
  /** Segments with a cache_control breakpoint, and the TTL (seconds) it asked for. */
  breakpoints: [segment: number, ttlSeconds: number][];
  /** Segment hashes of the tools, the system/instructions and the first message, hex, dot-joined. */
  anchors: string;
  /** The chained segment hashes, base64 (see hash.ts). */
  chain: string;
  segments: number;
  /** How long the provider keeps an unbroken prefix when no breakpoint says (seconds). */
  defaultTtlSeconds: number;
}

const FIVE_MINUTES = 300;
const ONE_HOUR = 3600;
/** Objects and arrays deeper than this inside a segment are hashed as raw text. */
const MAX_DEPTH = 4;

interface Builder {
  text: string;
  groups: string[];
  hashes: number[];
  chained: number[];
  breakpoints: [number, number][];
}

/** The fingerprint of a bridged request body, or null for an API or a shape it cannot read. */
export function fingerprintRequest(api: string, text: string): PrefixFingerprint | null {
  try {
    const root = objectMembers(text, text.indexOf("{"));
    const member = (key: string) => lastMember(root, key);
    const b: Builder = { text, groups: [], hashes: [], chained: [], breakpoints: [] };
    let anchors: [number, number, number];
    let defaultTtl = FIVE_MINUTES;
    if (api === "messages") {
      const tools = addWhole(b, "tools", member("tools")?.valueStart);
      const system = addEach(b, "system", member("system")?.valueStart);
      const messages = addEach(b, "messages", member("messages")?.valueStart);
      anchors = [tools, combine(system), messages[0] ?? 0];
    } else if (api === "responses" || api === "chat_completions") {
      const tools = addWhole(b, "tools", member("tools")?.valueStart);
      const instructions =
        api === "responses" ? addWhole(b, "instructions", member("instructions")?.valueStart) : 0;
      const items = addEach(
        b,
        api === "responses" ? "input" : "messages",
        member(api === "responses" ? "input" : "messages")?.valueStart,
      );
      anchors = [tools, instructions, items[0] ?? 0];
      // OpenAI keeps a prefix 5-10 minutes idle by default; prompt_cache_retention "24h" asks for a day.
      const retention = member("prompt_cache_retention");
      if (retention && text.slice(retention.valueStart, retention.valueEnd) === '"24h"') defaultTtl = 86_400;
    } else {
      return null;
    }
    return {
      layout: b.groups.join(","),
      breakpoints: b.breakpoints,
      anchors: anchors.map(hex32).join("."),
      chain: encodeHashes(b.chained),
      segments: b.chained.length,
      defaultTtlSeconds: defaultTtl,
    };
  } catch {
    return null;
  }
}

/** The value at `start` as one segment named `name`; returns its hash (0 when absent). */
function addWhole(b: Builder, name: string, start: number | undefined): number {
  if (start === undefined || b.text.startsWith("null", start)) return 0;
  b.groups.push(name);
  return push(b, (hasher, onBreakpoint) => hashValue(b.text, start, hasher, 0, onBreakpoint));
}

/** Each element of the array at `start` as its own segment (`name[i]`); a string is one segment. */
function addEach(b: Builder, name: string, start: number | undefined): number[] {
  if (start === undefined || b.text.startsWith("null", start)) return [];
  if (b.text[start] !== "[") return [addWhole(b, name, start)];
  const elements = arrayElements(b.text, start);
  b.groups.push(`${name}[${elements.length}]`);
  return elements.map(([s]) =>
    push(b, (hasher, onBreakpoint) => hashValue(b.text, s, hasher, 0, onBreakpoint)),
  );
}

function push(b: Builder, hash: (hasher: Hasher, onBreakpoint: (ttl: number) => void) => void): number {
  const index = b.chained.length;
  const hasher = new Hasher();
  let ttl = 0;
  hash(hasher, (asked) => {
    ttl = Math.max(ttl, asked);
  });
  const own = hasher.digest();
  if (ttl > 0) b.breakpoints.push([index, ttl]);
  b.hashes.push(own);
  b.chained.push(chain(index === 0 ? 0 : (b.chained[index - 1] as number), own));
  return own;
}

/** Hashes the JSON value at `start`: objects member by member (cache_control left out), arrays element by element. */
function hashValue(
  text: string,
  start: number,
  hasher: Hasher,
  depth: number,
  onBreakpoint: (ttl: number) => void,
): void {
  const open = text.charCodeAt(start);
  if (depth < MAX_DEPTH && open === 123) {
    for (const m of objectMembers(text, start).members) {
      if (m.key === "cache_control") {
        onBreakpoint(ttlOf(text.slice(m.valueStart, m.valueEnd)));
        continue;
      }
      hasher.updateNumber(0x3a).update(m.key);
      hashValue(text, m.valueStart, hasher, depth + 1, onBreakpoint);
    }
    return;
  }
  if (depth < MAX_DEPTH && open === 91) {
    for (const [s] of arrayElements(text, start)) {
      hasher.updateNumber(0x2c);
      hashValue(text, s, hasher, depth + 1, onBreakpoint);
    }
    return;
  }
  hasher.update(text, start, valueEnd(text, start));
}

/** `{"type":"ephemeral","ttl":"1h"}` asks for an hour; anything else is the 5-minute default. */
function ttlOf(value: string): number {
  try {
    const parsed = JSON.parse(value) as { ttl?: unknown } | null;
    return parsed?.ttl === "1h" ? ONE_HOUR : FIVE_MINUTES;
  } catch {
    return FIVE_MINUTES;
  }
}

/** One hash for several segments (the system blocks as one anchor). */
function combine(hashes: number[]): number {
  if (hashes.length === 0) return 0;
  const hasher = new Hasher();
  for (const hash of hashes) hasher.updateNumber(hash);
  return hasher.digest();
}
