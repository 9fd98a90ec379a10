/**
 * Resolves on a later task of the event loop (a zero timer). Promise callbacks all run before the
 * runtime gets a response the handler is returning; a timer runs after it. Work that must stay off
 * the response's path (hashing, scanning in slices) yields behind this.
 */
export function nextTask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * How long recording waits after an answer is handed to the runtime. The runtime writes a returned
 * answer to the client over several turns of its event loop, and a zero timer fires between them:
 * recording work behind one (redaction scan, record pack, queue send, datapoints) held the answer
 * back. Measured with the upstream-split latency (bench/RESULTS.md, item 20): 2 ms instead of a zero
 * timer took 0.2–0.4 ms off the time after the upstream's answer. The work and its CPU are the same.
 */
export const AFTER_RESPONSE_MS = 2;

/** Resolves once an answer just handed to the runtime has had time to leave (AFTER_RESPONSE_MS). */
export function afterResponse(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, AFTER_RESPONSE_MS));
}
