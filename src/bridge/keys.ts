/**
 * Several central keys per instance: requests go round-robin over them, and a key that just got a
 * 429 is skipped until its retry-after has passed. Per isolate, like the breaker (see breaker.ts).
 * With a single key nothing is ever skipped: the gateway never answers a 429 the upstream did not.
 */

const cooledUntil = new Map<string, number>();
const cursors = new Map<string, number>();

/** Upper bound on how long one 429 benches a key, whatever retry-after says. */
const MAX_COOL_MS = 10 * 60_000;
/** A 429 without a usable retry-after benches the key this long. */
const DEFAULT_COOL_MS = 30_000;

/** Key indexes in the order to try them: round-robin start, benched keys left out (or last, if all are). */
export function keyOrder(instance: string, count: number, now = Date.now()): number[] {
  if (count <= 1) return count === 1 ? [0] : [];
  const start = cursors.get(instance) ?? 0;
  cursors.set(instance, (start + 1) % count);
  const rotated = Array.from({ length: count }, (_, i) => (start + i) % count);
  const ready = rotated.filter((i) => (cooledUntil.get(`${instance}#${i}`) ?? 0) <= now);
  if (ready.length > 0) return ready;
  // Every key is benched: try the one that comes back first, and let the upstream answer.
  const soonest = rotated.reduce((best, i) =>
    (cooledUntil.get(`${instance}#${i}`) ?? 0) < (cooledUntil.get(`${instance}#${best}`) ?? 0) ? i : best,
  );
  return [soonest];
}

export function benchKey(instance: string, index: number, retryAfter: string | null, now = Date.now()): void {
  cooledUntil.set(`${instance}#${index}`, now + Math.min(retryAfterMs(retryAfter, now), MAX_COOL_MS));
}

/** retry-after is seconds or an HTTP date. */
export function retryAfterMs(value: string | null, now = Date.now()): number {
  if (!value) return DEFAULT_COOL_MS;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - now) : DEFAULT_COOL_MS;
}
