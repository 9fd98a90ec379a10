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

/** Thrown by a read that waited longer than the idle timeout (also by wrappers that keep their own clock). */
export class StallError extends Error {}

export const PING_EVENT = 'event: ping\ndata: {"type": "ping"}\n\n';

const encoder = new TextEncoder();
const pingBytes = encoder.encode(PING_EVENT);
/** What a watched read resolves to when a keep-alive is due instead of data. */
const PING = Symbol("ping");

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
    reads.stop();
    try {
      hooks.onEnd(outcome);
    } finally {
      settle();
    }
  };

  // One upstream read at a time, shared: workerd's fetch bodies allow a single pending read, and a
  // disconnect usually arrives while pull() waits on one. The drain then awaits that same read
  // (a second read would throw and lose the rest of the stream) and owns its chunk.
  let inflight: Promise<ReadableStreamReadResult<Uint8Array>> | null = null;
  const sharedRead = () => {
    if (!inflight) {
      const read = reader.read();
      inflight = read;
      const clear = () => {
        if (inflight === read) inflight = null;
      };
      read.then(clear, clear);
    }
    return inflight;
  };

  let clientGone = false;
  const onClientGone = () => {
    if (clientGone || finished) return;
    clientGone = true;
    drain(reader, sharedRead, hooks, limits).then(
      () => finish({ kind: "client_disconnected" }),
      () => finish({ kind: "client_disconnected" }),
    );
  };
  options.signal?.addEventListener("abort", onClientGone);

  // Keep-alive only makes sense below the idle timeout (the stream would fail first otherwise).
  const keepaliveMs =
    options.keepaliveMs && options.keepaliveMs < limits.idleTimeoutMs ? options.keepaliveMs : null;
  const reads = watchedReads(sharedRead, limits.idleTimeoutMs, keepaliveMs);
  const read = reads.read;
  let firstByteAt: number | null = null;
  // The last bytes the client got, to tell whether its stream stands between two events.
  let tail = "\n\n";

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        // Loop until something reaches the client or the stream ends: a rewriter may hold a whole
        // chunk back, and a pull that enqueues nothing is never called again (the response hangs).
        for (;;) {
          if (clientGone) return;
          let result: ReadableStreamReadResult<Uint8Array> | typeof PING;
          try {
            result = await read();
          } catch (error) {
            if (clientGone) return;
            const message = error instanceof Error ? error.message : String(error);
            safely(() => controller.enqueue(encoder.encode(hooks.errorEvent(message))));
            safely(() => controller.close());
            reader.cancel().catch(() => {});
            finish(
              error instanceof StallError
                ? { kind: "upstream_stalled", message }
                : { kind: "upstream_error", message: `Upstream stream failed: ${message}` },
            );
            return;
          }
          if (result === PING) {
            if (clientGone) return;
            if (!atBoundary(tail)) continue;
            reads.sent();
            safely(() => controller.enqueue(pingBytes));
            return;
          }
          if (result.done) {
            if (!clientGone) {
              const tail = hooks.clientTail?.();
              if (tail) safely(() => controller.enqueue(encoder.encode(tail)));
              safely(() => controller.close());
              finish({ kind: "completed" });
            }
            return;
          }
          // The client left while this read was pending: the drain got the same chunk and owns it.
          if (clientGone) return;
          const chunk = result.value;
          let sent = false;
          if (!clientGone) {
            const arrived = firstByteAt === null ? performance.now() : 0;
            const out = hooks.clientBytes ? hooks.clientBytes(chunk) : chunk;
            const bytes = typeof out === "string" ? encoder.encode(out) : out;
            if (bytes && bytes.byteLength > 0) {
              sent = true;
              if (keepaliveMs !== null) {
                reads.sent();
                tail = (tail + lastChars(bytes)).slice(-4);
              }
              safely(() => controller.enqueue(bytes));
              if (firstByteAt === null) {
                firstByteAt = performance.now();
                hooks.onFirstByte?.(firstByteAt - arrived);
              }
            }
          }
          hooks.onChunk(chunk);
          if (sent) return;
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
  sharedRead: () => Promise<ReadableStreamReadResult<Uint8Array>>,
  hooks: RelayHooks,
  limits: RelayLimits,
): Promise<void> {
  const deadline = Date.now() + limits.drainTimeoutMs;
  let bytes = 0;
  try {
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0 || bytes > limits.drainMaxBytes) break;
      const result = await readWithTimeout(sharedRead, remaining);
      if (result.done) return;
      bytes += result.value.byteLength;
      hooks.onChunk(result.value);
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/**
 * The relay's reads, each failing with a StallError once it has waited `idleTimeoutMs`, and, with
 * keep-alive on, resolving to PING when the client has had nothing for `keepaliveMs` (the upstream
 * read stays pending: the next read() waits on it again). One timer per stream, and one promise
 * per read settled by whichever comes first, rather than a timer and a Promise.race for every
 * chunk: those were a measurable part of the gateway's CPU per streamed event (and a race leaves a
 * reaction on its never-settling timeout promise for every read until the stream ends).
 */
function watchedReads(
  sharedRead: () => Promise<ReadableStreamReadResult<Uint8Array>>,
  idleTimeoutMs: number,
  keepaliveMs: number | null,
): {
  read(): Promise<ReadableStreamReadResult<Uint8Array> | typeof PING>;
  sent(): void;
  stop(): void;
} {
  let waitingSince: number | null = null;
  let lastOutAt = Date.now();
  let timer: ReturnType<typeof setTimeout> | null = null;
  type Waiter = {
    resolve(value: ReadableStreamReadResult<Uint8Array> | typeof PING): void;
    reject(error: unknown): void;
  };
  let waiter: Waiter | null = null;
  const check = () => {
    timer = null;
    if (waitingSince === null) return;
    const now = Date.now();
    const waited = now - waitingSince;
    if (waited >= idleTimeoutMs) {
      waiter?.reject(new StallError(`Upstream sent nothing for ${Math.round(idleTimeoutMs / 1000)} s`));
      waiter = null;
      return;
    }
    let next = idleTimeoutMs - waited;
    if (keepaliveMs !== null) {
      const quiet = now - lastOutAt;
      if (quiet >= keepaliveMs) {
        waiter?.resolve(PING);
        waiter = null;
      }
      next = Math.min(next, quiet >= keepaliveMs ? keepaliveMs : keepaliveMs - quiet);
    }
    timer = setTimeout(check, next);
  };
  return {
    read() {
      // A read still pending from before a ping keeps its start: pings are not upstream data.
      waitingSince ??= Date.now();
      if (timer === null) {
        const first =
          keepaliveMs === null ? idleTimeoutMs : Math.max(0, keepaliveMs - (Date.now() - lastOutAt));
        timer = setTimeout(check, Math.min(first, idleTimeoutMs));
      }
      const pending = sharedRead();
      return new Promise((resolve, reject) => {
        const self: Waiter = { resolve, reject };
        waiter = self;
        const settled = () => {
          waitingSince = null;
          if (waiter === self) waiter = null;
        };
        pending.then(
          (result) => {
            settled();
            resolve(result);
          },
          (error) => {
            settled();
            reject(error);
          },
        );
      });
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

function lastChars(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes.subarray(Math.max(0, bytes.byteLength - 4))) out += String.fromCharCode(byte);
  return out;
}

function atBoundary(tail: string): boolean {
  return tail.endsWith("\n\n") || tail.endsWith("\r\n\r\n") || tail.endsWith("\r\r");
}

/** A timeout leaves the read pending; the next sharedRead() returns it rather than losing it. */
function readWithTimeout(
  sharedRead: () => Promise<ReadableStreamReadResult<Uint8Array>>,
  timeoutMs: number,
): Promise<ReadableStreamReadResult<Uint8Array>> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new StallError(`Upstream sent nothing for ${Math.round(timeoutMs / 1000)} s`)),
      timeoutMs,
    );
  });
  return Promise.race([sharedRead(), timeout]).finally(() => {
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
