/**
 * Resolves on a later task of the event loop (a zero timer). Promise callbacks all run before the
 * runtime gets a response the handler is returning; a timer runs after it. Work that must stay off
 * the response's path but may run while the request is still waiting (hashing the request body
 * during the upstream call) starts behind this.
 */
export function nextTask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * How long recording waits after an interception ends. The runtime writes a returned answer (or a
 * stream's last bytes) to the client over several turns of its event loop, and a zero timer fires
 * between them: the recording work (redaction scan, record pack, queue send, datapoints) then held
 * the answer back. Measured under `wrangler dev` (bench/ab.mjs --measure latency, 800 paired
 * iterations): 1, 2 and 3 ms all took ~0.4 ms off blocking time and ~0.5–0.75 ms off streaming
 * TTFB against a zero timer (bench/RESULTS.md, item 18). The work and its CPU are the same.
 */
export const AFTER_RESPONSE_MS = 2;

/** Resolves once an answer just handed to the runtime has had time to leave (AFTER_RESPONSE_MS). */
export function afterResponse(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, AFTER_RESPONSE_MS));
}
