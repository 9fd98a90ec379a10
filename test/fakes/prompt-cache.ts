/**
 * Prompt caching as the providers document it, for the fake upstreams: the cache numbers a test
 * sees come from the request's prefix, not from a script.
 *
 * Anthropic (Messages): the prompt is a list of blocks in the order tools → system → messages
 * (each content block). A block carrying `cache_control` is a breakpoint. For each breakpoint the
 * longest live cached prefix ending at that block or up to 20 blocks before it is read; every
 * breakpoint after what was read is written, with the TTL it asked for ("1h", else 5 minutes).
 * A read refreshes the entry's TTL. cache_control itself is not part of the cached content.
 * OpenAI (Responses): automatic; tools → instructions → input items; the longest live prefix is
 * read in 128-token steps from 1,024 tokens; the whole prompt is then cached for 5 minutes (24 h
 * with prompt_cache_retention "24h").
 *
 * Entries are per model. A token is 4 bytes of the block's JSON (rounded up). Time is the fake's
 * own clock: real time plus an offset tests move with POST /__fake/clock {"advance_ms": n};
 * DELETE /__fake/prompt-cache evicts every entry. Entries and clock live in a space named by the
 * request's `x-fake-clock` header (default "default"), so tests running side by side (one fake
 * process serves several test projects) never move each other's clock or evict each other's cache.
 */
import { createHash } from "node:crypto";

type Json = Record<string, unknown>;

interface Unit {
  tokens: number;
  /** TTL in ms when the block is a breakpoint. */
  breakpointTtl: number | null;
  key: string;
}

interface Entry {
  expiresAt: number;
  ttl: number;
}

const FIVE_MINUTES = 300_000;
const ONE_HOUR = 3_600_000;
const LOOKBACK = 20;

interface Space {
  offsetMs: number;
  entries: Map<string, Entry>;
}

const spaces = new Map<string, Space>();

function spaceOf(name: string): Space {
  let space = spaces.get(name);
  if (!space) {
    space = { offsetMs: 0, entries: new Map() };
    spaces.set(name, space);
  }
  return space;
}

function nowIn(space: Space): number {
  return Date.now() + space.offsetMs;
}

/** Drops every cache entry of a space: an eviction the client and the gateway cannot see. */
export function evictAll(space: string): void {
  spaceOf(space).entries.clear();
}

export function advanceClock(space: string, ms: number): number {
  const s = spaceOf(space);
  s.offsetMs += ms;
  return nowIn(s);
}

function tokensOf(value: unknown): number {
  return Math.ceil(Buffer.byteLength(JSON.stringify(value)) / 4);
}

function withoutCacheControl(value: unknown): { clean: unknown; ttl: number | null } {
  if (!value || typeof value !== "object" || Array.isArray(value)) return { clean: value, ttl: null };
  const { cache_control, ...rest } = value as Json;
  if (!cache_control) return { clean: value, ttl: null };
  return { clean: rest, ttl: (cache_control as Json).ttl === "1h" ? ONE_HOUR : FIVE_MINUTES };
}

/** Chained prefix keys: unit i's key names the whole prefix through it (model included). */
function chainUnits(model: string, pieces: { content: unknown; ttl: number | null }[]): Unit[] {
  let previous = `model:${model}`;
  return pieces.map(({ content, ttl }) => {
    previous = createHash("sha256").update(previous).update(JSON.stringify(content)).digest("hex");
    return { tokens: tokensOf(content), breakpointTtl: ttl, key: previous };
  });
}

function anthropicUnits(body: Json): Unit[] {
  const pieces: { content: unknown; ttl: number | null }[] = [];
  const add = (value: unknown, wrap: (clean: unknown) => unknown = (clean) => clean) => {
    const { clean, ttl } = withoutCacheControl(value);
    pieces.push({ content: wrap(clean), ttl });
  };
  for (const tool of (body.tools as unknown[]) ?? []) add(tool);
  if (typeof body.system === "string") add({ system: body.system });
  else for (const block of (body.system as unknown[]) ?? []) add(block);
  for (const message of (body.messages as Json[]) ?? []) {
    if (typeof message.content === "string") add({ role: message.role, text: message.content });
    else
      (message.content as unknown[]).forEach((block, i) => {
        add(block, (clean) => (i === 0 ? { role: message.role, block: clean } : clean));
      });
  }
  return chainUnits(String(body.model), pieces);
}

export interface AnthropicCacheUsage {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
}

export function anthropicCacheUsage(body: Json, spaceName = "default"): AnthropicCacheUsage {
  const { entries } = spaceOf(spaceName);
  const now = nowIn(spaceOf(spaceName));
  const units = anthropicUnits(body);
  const cumulative: number[] = [];
  units.reduce((sum, unit, i) => (cumulative[i] = sum + unit.tokens), 0);
  const total = cumulative.at(-1) ?? 0;
  const breakpoints = units.flatMap((unit, i) => (unit.breakpointTtl ? [i] : []));
  const live = (i: number) => {
    const entry = entries.get((units[i] as Unit).key);
    return entry && entry.expiresAt > now ? entry : null;
  };
  let read = -1;
  for (const bp of breakpoints) {
    for (let j = bp; j >= Math.max(0, bp - LOOKBACK); j--) {
      if (live(j)) {
        read = Math.max(read, j);
        break;
      }
    }
  }
  const hit = read >= 0 ? live(read) : null;
  if (hit) hit.expiresAt = now + hit.ttl;
  let written5m = 0;
  let written1h = 0;
  let from = read;
  for (const bp of breakpoints) {
    if (bp <= read) continue;
    const ttl = (units[bp] as Unit).breakpointTtl as number;
    const tokens = (cumulative[bp] as number) - (from >= 0 ? (cumulative[from] as number) : 0);
    if (ttl === ONE_HOUR) written1h += tokens;
    else written5m += tokens;
    entries.set((units[bp] as Unit).key, { expiresAt: now + ttl, ttl });
    from = bp;
  }
  const readTokens = read >= 0 ? (cumulative[read] as number) : 0;
  return {
    input_tokens: total - readTokens - written5m - written1h,
    cache_creation_input_tokens: written5m + written1h,
    cache_read_input_tokens: readTokens,
    cache_creation: { ephemeral_5m_input_tokens: written5m, ephemeral_1h_input_tokens: written1h },
  };
}

export function openaiResponsesCacheUsage(
  body: Json,
  spaceName = "default",
): { input_tokens: number; cached_tokens: number } {
  const { entries } = spaceOf(spaceName);
  const now = nowIn(spaceOf(spaceName));
  const pieces: { content: unknown; ttl: number | null }[] = [];
  if (body.tools) pieces.push({ content: body.tools, ttl: null });
  if (body.instructions) pieces.push({ content: body.instructions, ttl: null });
  if (typeof body.input === "string") pieces.push({ content: body.input, ttl: null });
  else for (const item of (body.input as unknown[]) ?? []) pieces.push({ content: item, ttl: null });
  const units = chainUnits(String(body.model), pieces);
  let sum = 0;
  const cumulative = units.map((unit) => (sum += unit.tokens));
  const total = sum;
  let cached = 0;
  for (let j = units.length - 1; j >= 0; j--) {
    const entry = entries.get((units[j] as Unit).key);
    if (entry && entry.expiresAt > now) {
      cached = (cumulative[j] as number) >= 1024 ? Math.floor((cumulative[j] as number) / 128) * 128 : 0;
      break;
    }
  }
  const ttl = body.prompt_cache_retention === "24h" ? 86_400_000 : FIVE_MINUTES;
  for (const unit of units) entries.set(unit.key, { expiresAt: now + ttl, ttl });
  return { input_tokens: total, cached_tokens: cached };
}
