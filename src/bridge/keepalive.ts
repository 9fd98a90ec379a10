/**
 * Anthropic keep-alive: when the upstream stream has been silent for `keepaliveMs` (a thinking
 * model can be quiet for minutes), a `ping` event is sent, as Anthropic's own API does, so load
 * balancers between the client and the gateway do not cut the stream as idle.
 *
 * It wraps the upstream body, so the relay sees pings as data: the wrapper therefore keeps the
 * idle timeout itself (real upstream silence, pings not counted) and fails with the relay's
 * StallError, which the relay reports as a stalled upstream. A ping is only ever inserted between
 * two events, never inside one that the upstream has half sent.
 */
import { StallError } from "./relay";

export const PING_EVENT = 'event: ping\ndata: {"type": "ping"}\n\n';
const ping = new TextEncoder().encode(PING_EVENT);

export function withKeepalive(
  body: ReadableStream<Uint8Array>,
  options: { keepaliveMs: number; idleTimeoutMs: number },
): ReadableStream<Uint8Array> {
  const { keepaliveMs, idleTimeoutMs } = options;
  const reader = body.getReader();
  let pending: Promise<ReadableStreamReadResult<Uint8Array>> | null = null;
  let lastByteAt = Date.now();
  let lastOutAt = lastByteAt;
  // The last bytes seen, to tell whether the stream stands between two events ("\n\n", "\r\n\r\n", "\r\r").
  let tail = "\n\n";

  // One timer at a time, armed when a pull must wait and re-armed only after it fired: a timer (and
  // its clearTimeout) for every chunk was a measurable part of the CPU per streamed event. A tick
  // that comes early (data flowed meanwhile) just re-checks the clocks and sleeps for the rest.
  let timer: ReturnType<typeof setTimeout> | null = null;
  let tick: Promise<"tick"> | null = null;
  let fire: (() => void) | null = null;
  const onTimer = () => {
    timer = null;
    tick = null;
    fire?.();
  };
  const stop = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          const now = Date.now();
          const silent = now - lastByteAt;
          if (silent >= idleTimeoutMs) {
            stop();
            reader.cancel().catch(() => {});
            controller.error(
              new StallError(`Upstream sent nothing for ${Math.round(idleTimeoutMs / 1000)} s`),
            );
            return;
          }
          if (!pending) {
            pending = reader.read();
            // A read that fails while no pull awaits it (after a ping) is still seen by the next race.
            pending.catch(() => {});
          }
          const wait = Math.max(0, Math.min(keepaliveMs - (now - lastOutAt), idleTimeoutMs - silent));
          tick ??= new Promise<"tick">((resolve) => {
            fire = () => resolve("tick");
          });
          timer ??= setTimeout(onTimer, wait);
          let result: ReadableStreamReadResult<Uint8Array> | "tick";
          try {
            result = await Promise.race([pending, tick]);
          } catch (error) {
            stop();
            throw error;
          }
          if (result === "tick") {
            if (Date.now() - lastOutAt >= keepaliveMs && atBoundary(tail)) {
              lastOutAt = Date.now();
              controller.enqueue(ping);
              return;
            }
            continue;
          }
          pending = null;
          if (result.done) {
            stop();
            controller.close();
            return;
          }
          lastByteAt = lastOutAt = Date.now();
          tail = (tail + decodeTail(result.value)).slice(-4);
          controller.enqueue(result.value);
          return;
        }
      },
      cancel(reason) {
        stop();
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

function decodeTail(chunk: Uint8Array): string {
  let out = "";
  for (const byte of chunk.subarray(Math.max(0, chunk.byteLength - 4))) out += String.fromCharCode(byte);
  return out;
}

function atBoundary(tail: string): boolean {
  return tail.endsWith("\n\n") || tail.endsWith("\r\n\r\n") || tail.endsWith("\r\r");
}
