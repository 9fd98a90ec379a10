/**
 * Resolves on a later task of the event loop (a zero timer). Promise callbacks all run before the
 * runtime gets a response the handler is returning; a timer runs after it. Work that must stay off
 * the response's path (recording, hashing, scanning) starts behind this.
 */
export function nextTask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
