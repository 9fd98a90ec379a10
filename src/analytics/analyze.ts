/**
 * Cache breaks, worked out at query time from stored fingerprints and usage, so the answer never
 * depends on the order the queue delivered the records in.
 *
 * For each turn of a session (in start order) the reference is the latest earlier turn of the same
 * model that continues the same conversation (shares the tools, the system prompt or the first
 * message). What the reference had cached (cache read + write through its last breakpoint;
 * for OpenAI, its whole prompt) is what this turn should read. A turn that reads well short of that
 * is a break; its cause is, in this order: a model switch (no earlier turn of this model), a gap
 * longer than the TTL the reference's last breakpoint asked for, the first segment that changed
 * inside the cached prefix (tools / system / messages), else unknown.
 */
import type { Price } from "../pricing";
import { decodeHashes } from "./hash";

export type BreakCause =
  | "tools_changed"
  | "system_changed"
  | "messages_changed"
  | "model_changed"
  | "expired"
  | "unknown";

export interface TurnUsage {
  /** Uncached input (Anthropic: excluding cache; OpenAI normalized the same way). */
  input: number;
  read: number;
  write: number;
  /** The part of `write` asked for with a 1-hour TTL. */
  write1h: number;
}

export interface TurnInput {
  id: string;
  sessionId: string | null;
  user: string;
  client: string;
  model: string;
  api: string;
  startedAt: number;
  layout: string;
  breakpoints: [number, number][];
  anchors: string;
  segments: number;
  defaultTtlSeconds: number;
  usage: TurnUsage;
}

export interface CacheBreak {
  cause: BreakCause;
  /** `tools`, `system[1]`, `messages[12]`, `input[3]`, `model`; null when nothing in the prefix changed. */
  first_changed: string | null;
  /** Tokens the turn should have read from the cache and did not. */
  missed_tokens: number;
  /** What re-writing (or re-sending) them cost beyond reading them; null for an unpriced model. */
  cost_micros: number | null;
  cost_usd: number | null;
  /** The earlier turn this one was compared with, and the time between them. */
  reference: string;
  gap_seconds: number;
}

export interface TurnCache {
  read_tokens: number;
  write_tokens: number;
  expected_read_tokens: number;
  /** Cache reads over all input (uncached + read + write); null without input. */
  hit_ratio: number | null;
  /** Cache writes no later turn of the session read (re-read up to the next turn's own read). */
  wasted_write_tokens: number;
  break: CacheBreak | null;
}

export interface AnalyzedTurn {
  turn: TurnInput;
  cache: TurnCache;
}

/** References further back than the longest retention any provider offers (a day) are not compared. */
export const MAX_REFERENCE_GAP_MS = 86_400_000;
/**
 * A read shorter than expected by more than this share and this many tokens is a break. Anthropic's
 * cache arithmetic is exact, so a small shortfall already means part of the prefix was re-written;
 * OpenAI reads in 128-token steps and on a best-effort basis, so it gets more room.
 */
function isShortfall(api: string, expected: number, missed: number): boolean {
  return api === "messages"
    ? missed > Math.max(128, 0.01 * expected)
    : missed > Math.max(256, 0.05 * expected);
}

export type ChainLoader = (ids: string[]) => Promise<Map<string, string>>;
export type PriceOf = (model: string) => Price | null;

/** Analyzes every session in `turns` (turns of other sessions are never compared). */
export async function analyzeTurns(
  turns: TurnInput[],
  loadChains: ChainLoader,
  priceOf: PriceOf,
): Promise<Map<string, AnalyzedTurn>> {
  const sessions = new Map<string, TurnInput[]>();
  for (const turn of turns) {
    const key = sessionKey(turn);
    const list = sessions.get(key) ?? [];
    list.push(turn);
    sessions.set(key, list);
  }

  interface Pending {
    turn: TurnInput;
    ref: TurnInput | null;
    expected: number;
    isBreak: boolean;
    modelChanged: boolean;
  }
  const pending: Pending[] = [];
  const consumers = new Map<string, TurnInput[]>();
  for (const list of sessions.values()) {
    list.sort((a, b) => a.startedAt - b.startedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    list.forEach((turn, index) => {
      const earlier = list
        .slice(0, index)
        .filter((a) => turn.startedAt - a.startedAt <= MAX_REFERENCE_GAP_MS);
      const same = pickReference(
        turn,
        earlier.filter((a) => a.model === turn.model),
      );
      const ref = same ?? pickReference(turn, earlier);
      const expected = ref ? cachedTokens(ref) : 0;
      const missed = expected - turn.usage.read;
      const isBreak = ref !== null && expected > 0 && isShortfall(turn.api, expected, missed);
      if (same) consumers.set(same.id, [...(consumers.get(same.id) ?? []), turn]);
      pending.push({ turn, ref, expected, isBreak, modelChanged: ref !== null && same === null });
    });
  }

  // Chains are read only for the breaks that need a first-changed segment, and their references.
  const needed = new Set<string>();
  for (const p of pending) {
    if (p.isBreak && p.ref && !p.modelChanged) {
      needed.add(p.turn.id);
      needed.add(p.ref.id);
    }
  }
  const chains = needed.size > 0 ? await loadChains([...needed]) : new Map<string, string>();

  const out = new Map<string, AnalyzedTurn>();
  for (const p of pending) {
    const { turn, ref } = p;
    const u = turn.usage;
    const total = u.input + u.read + u.write;
    let brk: CacheBreak | null = null;
    if (p.isBreak && ref) {
      const gapMs = turn.startedAt - ref.startedAt;
      let cause: BreakCause;
      let firstChanged: string | null;
      if (p.modelChanged) {
        cause = "model_changed";
        firstChanged = "model";
      } else {
        const index = firstDifference(chains.get(ref.id), chains.get(turn.id), cachedSegments(ref));
        firstChanged = index === null ? null : segmentLabel(turn.layout, index);
        if (gapMs > ttlSeconds(ref) * 1000) cause = "expired";
        else if (firstChanged === null) cause = "unknown";
        else cause = causeOf(firstChanged);
      }
      const missed = Math.min(p.expected, p.expected - u.read);
      const costMicros = breakCost(u, missed, priceOf(turn.model));
      brk = {
        cause,
        first_changed: firstChanged,
        missed_tokens: missed,
        cost_micros: costMicros,
        cost_usd: costMicros === null ? null : costMicros / 1e6,
        reference: ref.id,
        gap_seconds: Math.round(gapMs / 1000),
      };
    }
    const readBack = (consumers.get(turn.id) ?? []).reduce(
      (most, later) => Math.max(most, Math.min(u.write, later.usage.read - u.read)),
      0,
    );
    out.set(turn.id, {
      turn,
      cache: {
        read_tokens: u.read,
        write_tokens: u.write,
        expected_read_tokens: p.expected,
        hit_ratio: total > 0 ? u.read / total : null,
        wasted_write_tokens: Math.max(0, u.write - readBack),
        break: brk,
      },
    });
  }
  return out;
}

/** A turn without a client session id belongs to its user's conversations with that model. */
export function sessionKey(turn: { sessionId: string | null; user: string; model: string }): string {
  return turn.sessionId !== null ? `s:${turn.sessionId}` : `u:${turn.user}\u0000${turn.model}`;
}

/** The latest earlier turn of the same conversation: same first message first, else shared tools or system. */
function pickReference(turn: TurnInput, earlier: TurnInput[]): TurnInput | null {
  const [tools, system, first] = turn.anchors.split(".");
  const zero = "00000000";
  let shared: TurnInput | null = null;
  for (let i = earlier.length - 1; i >= 0; i--) {
    const a = earlier[i] as TurnInput;
    const [aTools, aSystem, aFirst] = a.anchors.split(".");
    if (first !== zero && first === aFirst) return a;
    if (!shared && ((tools !== zero && tools === aTools) || (system !== zero && system === aSystem)))
      shared = a;
  }
  return shared;
}

/** What a turn left in the cache for the next one. */
function cachedTokens(turn: TurnInput): number {
  const u = turn.usage;
  // Anthropic caches through the last breakpoint: what it read plus what it wrote. OpenAI caches
  // the whole prompt automatically.
  return turn.api === "messages" ? u.read + u.write : u.input + u.read;
}

/** How many leading segments the turn's cache covers. */
function cachedSegments(turn: TurnInput): number {
  if (turn.api !== "messages") return turn.segments;
  const last = turn.breakpoints.reduce((max, [index]) => Math.max(max, index), -1);
  return last + 1;
}

/** The TTL the turn's last breakpoint asked for (seconds). */
function ttlSeconds(turn: TurnInput): number {
  let best: [number, number] | null = null;
  for (const bp of turn.breakpoints) if (!best || bp[0] > best[0]) best = bp;
  return best ? best[1] : turn.defaultTtlSeconds;
}

function firstDifference(
  before: string | undefined,
  after: string | undefined,
  within: number,
): number | null {
  if (before === undefined || after === undefined) return null;
  const a = decodeHashes(before);
  const b = decodeHashes(after);
  const limit = Math.min(within, a.length);
  // Chained hashes: once two positions differ every later one does, so a binary search finds the first.
  let lo = 0;
  let hi = limit;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (mid < b.length && a[mid] === b[mid]) lo = mid + 1;
    else hi = mid;
  }
  return lo < limit ? lo : null;
}

/** The label of segment `index` in a layout such as `tools,system[3],messages[40]`. */
export function segmentLabel(layout: string, index: number): string {
  let at = 0;
  for (const group of layout.split(",")) {
    const match = /^(\w+)\[(\d+)\]$/.exec(group);
    const size = match ? Number(match[2]) : 1;
    if (index < at + size) return match ? `${match[1]}[${index - at}]` : group;
    at += size;
  }
  return `segment[${index}]`;
}

function causeOf(label: string): BreakCause {
  if (label.startsWith("tools")) return "tools_changed";
  if (label.startsWith("system") || label.startsWith("instructions")) return "system_changed";
  return "messages_changed";
}

/**
 * What the turn paid for the prefix it should have read, beyond reading it: the missed tokens it
 * re-wrote cost the write price (per TTL) instead of the read price; any it sent uncached cost the
 * input price instead of the read price.
 */
function breakCost(u: TurnUsage, missed: number, price: Price | null): number | null {
  if (!price) return null;
  const rewritten = Math.min(missed, u.write);
  const uncached = Math.min(missed - rewritten, u.input);
  const write1h = Math.min(u.write1h, u.write);
  const writePrice =
    u.write > 0
      ? (write1h * price.cacheWrite1h + (u.write - write1h) * price.cacheWrite5m) / u.write
      : price.cacheWrite5m;
  return Math.round(rewritten * (writePrice - price.cacheRead) + uncached * (price.input - price.cacheRead));
}
