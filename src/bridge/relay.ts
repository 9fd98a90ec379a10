/**
 * The streaming relay: upstream bytes go to the client as they arrive, and a copy of each chunk goes
 * to the provider's parser. It is a pull-based ReadableStream rather than a TransformStream: a
 * TransformStream's flush never runs when a real client disconnects (the Worker hangs), while here
 * a disconnect (stream cancel, or request.signal aborting) switches to draining the upstream to its
 * end, bounded in time and bytes, so the usage the provider bills is still recorded.
 *
 * Pulling only when the client asks for more gives backpressure for free: a slow client slows the
 * upstream read instead of growing a buffer, so memory stays flat on a 100 MB stream.
 *
 * Keep-alive (Anthropic streams, `keepaliveMs`): when the upstream has been silent that long (a
 * thinking model can be quiet for minutes), a `ping` event goes to the client, as Anthropic's own
 * API sends, so load balancers between the client and the gateway do not cut the stream as idle.
 * A ping is only ever sent between two events, never inside one the upstream has half sent, and
 * does not count as upstream data for the idle timeout. It lives here rather than in a stream of
 * its own in front of the relay: every JavaScript stream layer costs CPU per chunk.
 */
import type { WaitUntil } from "./interception";

export type RelayOutcome =
  | { kind: "completed" }
  | { kind: "client_disconnected" }
  | { kind: "upstream_error"; message: string }
  | { kind: "upstream_stalled"; message: string };

export interface RelayHooks {
  /** Every upstream chunk, in order, after it was handed to the client (or while draining). */
  onChunk(chunk: Uint8Array): void;
  /**
   * What the client sees for a chunk. Absent = the chunk itself, byte for byte. May return an empty
   * result (nothing to send yet) or more/other bytes (an API that needs the stream rewritten).
   */
  clientBytes?(chunk: Uint8Array): Uint8Array | string | null;
  /** Bytes to send once the upstream ended normally (only where clientBytes held some back). */
  clientTail?(): string | null;
  /** Time from the first upstream chunk arriving to it being handed to the client, in ms. */
  onFirstByte?(ms: number): void;
  /** The provider's mid-stream error event, sent when the upstream fails or stalls. */
  errorEvent(message: string): string;
  /** Called exactly once, when the upstream has been read to its end or given up on. */
  onEnd(outcome: RelayOutcome): void;
}

export interface RelayLimits {
  /** Longest silence from the upstream before the stream is treated as stalled. */
  idleTimeoutMs: number;
  /** After a client disconnect, how long to keep reading for usage (waitUntil allows ~30 s). */
  drainTimeoutMs: number;
  /** After a client disconnect, how many more bytes to read at most. */
  drainMaxBytes: number;
}

export const DEFAULT_RELAY_LIMITS: RelayLimits = {
  idleTimeoutMs: 300_000,
  drainTimeoutMs: 25_000,
  drainMaxBytes: 64 * 1024 * 1024,
};

/** Thrown by a drain read that waited longer than the time left to drain. */
export class StallError extends Error {}

export const PING_EVENT = 'event: ping\ndata: {"type": "ping"}\n\n';

const encoder = new TextEncoder();
const pingBytes = encoder.encode(PING_EVENT);

export function relayStream(
  upstream: ReadableStream<Uint8Array>,
  ctx: WaitUntil,
  hooks: RelayHooks,
  options: { signal?: AbortSignal; limits?: Partial<RelayLimits>; keepaliveMs?: number | null } = {},
): ReadableStream<Uint8Array> {
  const limits = { ...DEFAULT_RELAY_LIMITS, ...options.limits };
  const reader = upstream.getReader();
  let settle!: () => void;
  ctx.waitUntil(
    new Promise<void>((resolve) => {
      settle = resolve;
    }),
  );

  let finished = false;
  const finish = (outcome: RelayOutcome) => {
    if (finished) return;
    finished = true;
    watchdog.stop();
    try {
      hooks.onEnd(outcome);
    } finally {
      settle();
    }
  };

  // The upstream read pull() waits on, if any. workerd's fetch bodies allow a single pending read,
  // and a disconnect usually arrives while pull() waits on one: the drain then awaits that same
  // read (a second read would throw and lose the rest of the stream) and owns its chunk.
  let pending: Promise<ReadableStreamReadResult<Uint8Array>> | null = null;

  let clientGone = false;
  const onClientGone = () => {
    if (clientGone || finished) return;
    clientGone = true;
    drain(reader, pending, hooks, limits).then(
      () => finish({ kind: "client_disconnected" }),
      () => finish({ kind: "client_disconnected" }),
    );
  };
  options.signal?.addEventListener("abort", onClientGone);

  let controller!: ReadableStreamDefaultController<Uint8Array>;
  // Keep-alive only makes sense below the idle timeout (the stream would fail first otherwise).
  const keepaliveMs =
    options.keepaliveMs && options.keepaliveMs < limits.idleTimeoutMs ? options.keepaliveMs : null;
  const sent = sentBytes();
  const watchdog = watchUpstream(limits.idleTimeoutMs, keepaliveMs, {
    ping: () => {
      // Nothing queued (the client took the last ping), between two events.
      if (clientGone || finished || (controller.desiredSize ?? -1) < 0 || !atBoundary(sent.tail())) {
        return false;
      }
      safely(() => controller.enqueue(pingBytes));
      return true;
    },
    stall: (message) => {
      // The read pull() waits on ends with the cancel; pull() then finds the stream finished.
      if (!clientGone && !finished) fail(message, { kind: "upstream_stalled", message });
    },
  });
  /** Ends the client's stream with the provider's error event and gives up on the upstream. */
  const fail = (message: string, outcome: RelayOutcome) => {
    safely(() => controller.enqueue(encoder.encode(hooks.errorEvent(message))));
    safely(() => controller.close());
    reader.cancel().catch(() => {});
    finish(outcome);
  };
  let firstByteAt: number | null = null;

  return new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
      },
      async pull() {
        // Loop until something reaches the client or the stream ends: a rewriter may hold a whole
        // chunk back, and a pull that enqueues nothing is never called again (the response hangs).
        for (;;) {
          if (clientGone || finished) return;
          const read = reader.read();
          pending = read;
          watchdog.waiting();
          let result: ReadableStreamReadResult<Uint8Array>;
          try {
            result = await read;
          } catch (error) {
            pending = null;
            watchdog.arrived();
            if (clientGone || finished) return;
            const message = error instanceof Error ? error.message : String(error);
            fail(message, { kind: "upstream_error", message: `Upstream stream failed: ${message}` });
            return;
          }
          pending = null;
          watchdog.arrived();
          // The client left while this read was pending: the drain got the same chunk and owns it.
          // Or the watchdog ended a stalled stream, and this is the cancel's end.
          if (clientGone || finished) return;
          if (result.done) {
            const tail = hooks.clientTail?.();
            if (tail) safely(() => controller.enqueue(encoder.encode(tail)));
            safely(() => controller.close());
            finish({ kind: "completed" });
            return;
          }
          const chunk = result.value;
          const arrived = firstByteAt === null ? performance.now() : 0;
          const out = hooks.clientBytes ? hooks.clientBytes(chunk) : chunk;
          const bytes = typeof out === "string" ? encoder.encode(out) : out;
          const any = bytes !== null && bytes.byteLength > 0;
          if (any) {
            if (keepaliveMs !== null) {
              watchdog.sent();
              sent.add(bytes);
            }
            safely(() => controller.enqueue(bytes));
            if (firstByteAt === null) {
              firstByteAt = performance.now();
              hooks.onFirstByte?.(firstByteAt - arrived);
            }
          }
          hooks.onChunk(chunk);
          if (any) return;
        }
      },
      cancel() {
        onClientGone();
      },
    },
    { highWaterMark: 0 },
  );
}

async function drain(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  pending: Promise<ReadableStreamReadResult<Uint8Array>> | null,
  hooks: RelayHooks,
  limits: RelayLimits,
): Promise<void> {
  const deadline = Date.now() + limits.drainTimeoutMs;
  let bytes = 0;
  let next = pending;
  try {
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0 || bytes > limits.drainMaxBytes) break;
      const result = await readWithTimeout(next ?? reader.read(), remaining);
      next = null;
      if (result.done) return;
      bytes += result.value.byteLength;
      hooks.onChunk(result.value);
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/**
 * One timer per stream watches the upstream read pull() waits on. Once that read has waited
 * `idleTimeoutMs` it calls `stall`; with keep-alive on, once the client has had nothing for
 * `keepaliveMs` while the read is pending, it calls `ping`, which sends one if the client's stream
 * stands between two events (the read stays pending; pings are not upstream data). The reads
 * themselves stay bare reader.read() calls: a timer and a Promise.race per chunk, and later a
 * promise per read that the timer could settle, were each a measurable part of the gateway's CPU
 * per streamed event.
 */
function watchUpstream(
  idleTimeoutMs: number,
  keepaliveMs: number | null,
  on: { ping(): boolean; stall(message: string): void },
): { waiting(): void; arrived(): void; sent(): void; stop(): void } {
  let waitingSince: number | null = null;
  let lastOutAt = Date.now();
  let timer: ReturnType<typeof setTimeout> | null = null;
  const check = () => {
    timer = null;
    if (waitingSince === null) return;
    const now = Date.now();
    const waited = now - waitingSince;
    if (waited >= idleTimeoutMs) {
      on.stall(`Upstream sent nothing for ${Math.round(idleTimeoutMs / 1000)} s`);
      return;
    }
    let next = idleTimeoutMs - waited;
    if (keepaliveMs !== null) {
      if (now - lastOutAt >= keepaliveMs && on.ping()) lastOutAt = now;
      const quiet = now - lastOutAt;
      next = Math.min(next, quiet >= keepaliveMs ? keepaliveMs : keepaliveMs - quiet);
    }
    timer = setTimeout(check, next);
  };
  return {
    waiting() {
      const now = Date.now();
      waitingSince = now;
      if (timer === null) {
        const first = keepaliveMs === null ? idleTimeoutMs : Math.max(0, keepaliveMs - (now - lastOutAt));
        timer = setTimeout(check, Math.min(first, idleTimeoutMs));
      }
    },
    arrived() {
      waitingSince = null;
    },
    sent() {
      lastOutAt = Date.now();
    },
    stop() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
  };
}

/**
 * The last bytes the client got, to tell whether its stream stands between two events. The last
 * chunk is kept by reference and its end read only when a ping is due (copying four characters
 * out of every chunk cost CPU per event); the text before it counts only when it is shorter.
 */
function sentBytes(): { add(bytes: Uint8Array): void; tail(): string } {
  let before = "\n\n";
  let last: Uint8Array | null = null;
  const tail = () => (last === null ? before : (before + lastChars(last)).slice(-4));
  return {
    add(bytes) {
      if (bytes.byteLength < 4) before = tail();
      last = bytes;
    },
    tail,
  };
}

function lastChars(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes.subarray(Math.max(0, bytes.byteLength - 4))) out += String.fromCharCode(byte);
  return out;
}

function atBoundary(tail: string): boolean {
  return tail.endsWith("\n\n") || tail.endsWith("\r\n\r\n") || tail.endsWith("\r\r");
}

/** A timeout leaves the read pending; the stream is cancelled after it, which ends that read. */
function readWithTimeout(
  read: Promise<ReadableStreamReadResult<Uint8Array>>,
  timeoutMs: number,
): Promise<ReadableStreamReadResult<Uint8Array>> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new StallError(`Upstream sent nothing for ${Math.round(timeoutMs / 1000)} s`)),
      timeoutMs,
    );
  });
  return Promise.race([read, timeout]).finally(() => {
    if (timer !== null) clearTimeout(timer);
  });
}

function safely(action: () => void): void {
  try {
    action();
  } catch {
    // The client side is already closed or cancelled; the upstream side carries on.
  }
}
