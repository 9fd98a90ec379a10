/**
 * Attribution only (`node bench/run.mjs --attribution`): the gateway exactly as src/ builds it, but
 * with its recording switched off: the RECORDS queue and the METRICS dataset replaced by no-ops and
 * console output dropped. The difference between this and the real gateway is what recording
 * (queue send, the local queue consumer writing D1, Analytics Engine, the log line) costs the
 * request path on this machine; the difference between this and the pass-through Worker is what
 * the request path itself (routing, auth, parse, relay) costs.
 */
import { app } from "../../src/app";

// Plain JS (wrangler bundles it, TypeScript imports included) so that the Node-typed tsconfig
// that covers bench/ does not need the Workers types.
const noQueue = { send: async () => {}, sendBatch: async () => {} };
const noMetrics = { writeDataPoint: () => {} };
for (const method of ["log", "info", "warn", "error", "debug"]) console[method] = () => {};

export default {
  fetch(request, env, ctx) {
    return app.fetch(request, { ...env, RECORDS: noQueue, METRICS: noMetrics }, ctx);
  },
};
