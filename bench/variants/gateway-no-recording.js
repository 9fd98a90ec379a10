/**
 * Attribution: the gateway exactly as src/ builds it, with its recording switched off in part or
 * in whole, chosen per request by the `x-bench-recording` header (one `wrangler dev` serves all):
 *   off    the RECORDS queue and the METRICS dataset replaced by no-ops, console output dropped
 *   log      only the log line kept, for every interception (LOG_INTERCEPTIONS=all; console output
 *            on; queue and metrics off)
 *   queue    only the RECORDS queue kept (its consumer writes D1 as the gateway's does)
 *   metrics  only the METRICS dataset kept
 * The difference between these and the real gateway is what each part of recording (queue send,
 * the local queue consumer writing D1, the log line crossing into wrangler's process) costs; the
 * difference between "off" and the pass-through Worker is what the request path itself costs.
 */
import gateway from "../../src/index";

// The gateway's Durable Object class, which its wrangler.toml binds (per-user limits).
export { UserLimiter } from "../../src/index";

// Plain JS (wrangler bundles it, TypeScript imports included) so that the Node-typed tsconfig
// that covers bench/ does not need the Workers types.
const noQueue = { send: async () => {}, sendBatch: async () => {} };
const noMetrics = { writeDataPoint: () => {} };

// Requests are sequential in the phases that use the partial modes, so one flag is enough.
let quiet = true;
for (const method of ["log", "info", "warn", "error", "debug"]) {
  const original = console[method].bind(console);
  console[method] = (...args) => (quiet ? undefined : original(...args));
}

// One wrapped env per mode, made once: the gateway caches its parsed configuration per env
// object, and a new object per request would re-parse it every time (a cost the real one never pays).
const wrapped = new WeakMap();
function envFor(env, mode) {
  let modes = wrapped.get(env);
  if (!modes) {
    modes = {
      off: { ...env, RECORDS: noQueue, METRICS: noMetrics },
      log: { ...env, RECORDS: noQueue, METRICS: noMetrics, LOG_INTERCEPTIONS: "all" },
      queue: { ...env, METRICS: noMetrics },
      metrics: { ...env, RECORDS: noQueue },
    };
    wrapped.set(env, modes);
  }
  return modes[mode] ?? modes.off;
}

export default {
  // The real consumers: in "queue" mode the records are written to D1 as the gateway does.
  queue: gateway.queue,
  scheduled: gateway.scheduled,
  fetch(request, env, ctx) {
    const mode = request.headers.get("x-bench-recording") ?? "off";
    quiet = mode !== "log";
    // The gateway's own entry (provider routes dispatched ahead of the app), as src/index.ts serves.
    return gateway.fetch(request, envFor(env, mode), ctx);
  },
};
