/**
 * A circuit breaker per (instance, model), kept in this isolate's memory.
 *
 * closed ── N failures within the window ──► open ── cool-down passes ──► half-open: one probe
 *   ▲                                                                       │ success → closed
 *   └───────────────────────────────────────────────────────────────────────┘ failure → open again
 *
 * Why per isolate and not global (a Durable Object or KV): the breaker sits on every request's
 * path, and a global one costs a round trip (~1-2 ms to a Durable Object, more from far colos)
 * before each upstream call, plus a write per failure, to learn what every isolate finds out by
 * itself within N requests anyway. An upstream outage is seen by all isolates at once, so each
 * opens its own breaker after a handful of failures; the cost is at most N extra failed calls per
 * isolate, and none of the coordination becomes a new single point of failure.
 */
import type { BreakerSettings } from "../providers/instances";

interface State {
  failures: number[];
  openUntil: number;
  probing: boolean;
}

const states = new Map<string, State>();

export type Admission = { allowed: true; probe: boolean } | { allowed: false; retryAfterMs: number };

function key(instance: string, model: string): string {
  return `${instance}\u0000${model}`;
}

export function admit(
  instance: string,
  model: string,
  settings: BreakerSettings | null,
  now = Date.now(),
): Admission {
  if (!settings) return { allowed: true, probe: false };
  const state = states.get(key(instance, model));
  if (!state || state.openUntil === 0) return { allowed: true, probe: false };
  if (now < state.openUntil) return { allowed: false, retryAfterMs: state.openUntil - now };
  // Half-open: exactly one request probes; the others keep failing fast until it reports back.
  if (state.probing) return { allowed: false, retryAfterMs: settings.cooldownMs };
  state.probing = true;
  return { allowed: true, probe: true };
}

export function reportSuccess(instance: string, model: string, settings: BreakerSettings | null): void {
  if (!settings) return;
  states.delete(key(instance, model));
}

export function reportFailure(
  instance: string,
  model: string,
  settings: BreakerSettings | null,
  now = Date.now(),
): void {
  if (!settings) return;
  const id = key(instance, model);
  const state = states.get(id) ?? { failures: [], openUntil: 0, probing: false };
  states.set(id, state);
  if (state.probing || state.openUntil !== 0) {
    // A failed probe (or a late failure while open) opens it again for a full cool-down.
    state.probing = false;
    state.openUntil = now + settings.cooldownMs;
    state.failures = [];
    return;
  }
  state.failures = state.failures.filter((at) => now - at < settings.windowMs);
  state.failures.push(now);
  if (state.failures.length >= settings.failures) {
    state.openUntil = now + settings.cooldownMs;
    state.failures = [];
  }
}

/** A probe that ended without a verdict (e.g. the client's request was bad): let another try. */
export function releaseProbe(instance: string, model: string): void {
  const state = states.get(key(instance, model));
  if (state) state.probing = false;
}
