/**
 * The load generator: Node's http client over keep-alive connections (one agent per path, so each
 * path reuses its own connections), timing with performance.now(). Every request checks its status
 * and counts body bytes, so a failing path cannot look fast.
 */
import { Agent, request as httpRequest } from "node:http";
import { performance } from "node:perf_hooks";

export function createAgent(maxSockets = 64) {
  return new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
}

/**
 * One POST. Resolves with { status, bytes, ttfbMs (first body byte), totalMs, serverTiming,
 * upstreamSplit }: upstreamSplit, when the answer comes from bench/lib/upstream.mjs, is
 * { beforeMs: send → the upstream had the request's headers, afterMs: the upstream's answer → the
 * last byte here, firstByteAfterMs: the same to the first body byte }, from the upstream's stamps
 * on the monotonic clock both processes share.
 * `onData` may return a promise to slow the reader down (the socket is paused until it settles);
 * `collect`, an array, receives the body chunks.
 */
export function post(target, options) {
  return attempt(target, options).catch((error) => {
    // A keep-alive socket the server closed while idle (wrangler dev's proxy does after a few
    // seconds) fails on reuse before any response: retry once on a new socket, as Node's docs advise.
    if (error.reusedSocketReset) return attempt(target, options);
    throw error;
  });
}

function attempt(target, { agent, headers, body, onData, collect, timeoutMs = 120_000 }) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const startedNs = process.hrtime.bigint();
    const url = new URL(target);
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        agent,
        headers: { ...headers, "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        let ttfbMs = null;
        let firstByteNs = null;
        let bytes = 0;
        let head = "";
        res.on("data", (chunk) => {
          if (res.statusCode !== 200 && head.length < 300) head += chunk.toString("utf8", 0, 300);
          if (ttfbMs === null) {
            ttfbMs = performance.now() - started;
            firstByteNs = process.hrtime.bigint();
          }
          bytes += chunk.length;
          collect?.push(chunk);
          const wait = onData?.(chunk.length, bytes);
          if (wait) {
            res.pause();
            wait.then(() => res.resume());
          }
        });
        res.on("end", () => {
          clearTimeout(timer);
          const totalMs = performance.now() - started;
          const upstreamSplit = splitAtUpstream(res.headers, startedNs, firstByteNs, process.hrtime.bigint());
          const serverTiming = res.headers["server-timing"];
          resolve({ status: res.statusCode, bytes, ttfbMs, totalMs, serverTiming, head, upstreamSplit });
        });
        res.on("error", reject);
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`timeout after ${timeoutMs} ms`)), timeoutMs);
    let responded = false;
    req.on("response", () => {
      responded = true;
    });
    req.on("error", (error) => {
      clearTimeout(timer);
      if (req.reusedSocket && !responded && error.code === "ECONNRESET") error.reusedSocketReset = true;
      reject(error);
    });
    req.end(body);
  });
}

/**
 * The request's time before and after the upstream's own, from its stamps (null without them):
 * after to the last byte (`afterMs`) and to the first (`firstByteAfterMs`, a stream's TTFB half).
 */
function splitAtUpstream(headers, startedNs, firstByteNs, endedNs) {
  const arrived = headers["x-bench-arrived"];
  const answered = headers["x-bench-answered"];
  if (!arrived || !answered) return null;
  return {
    beforeMs: Number(BigInt(arrived) - startedNs) / 1e6,
    afterMs: Number(endedNs - BigInt(answered)) / 1e6,
    firstByteAfterMs: firstByteNs === null ? null : Number(firstByteNs - BigInt(answered)) / 1e6,
  };
}

/**
 * One POST to a benchmark path ({ name, url, agent, headers }), `extra` headers laid over the
 * path's, checked by expectOk.
 */
export function sendTo(path, body, extra = {}) {
  return post(path.url, { agent: path.agent, headers: { ...path.headers, ...extra }, body }).then((r) =>
    expectOk(path.name, r),
  );
}

/**
 * sendTo(), sent once more when wrangler dev answers 503 "Your worker restarted mid-request" (it
 * does now and then on a loaded machine, and while a profiler samples long streams); `onResend`
 * is told.
 */
export function sendResending(path, body, extra = {}, onResend = () => {}) {
  return sendTo(path, body, extra).catch((error) => {
    if (!/restarted mid-request/.test(String(error?.message))) throw error;
    onResend();
    return sendTo(path, body, extra);
  });
}

/** Throws unless the answer is a 200 with a body. */
export function expectOk(path, result) {
  if (result.status !== 200 || result.bytes === 0) {
    throw new Error(`${path}: status ${result.status}, ${result.bytes} bytes ${result.head.slice(0, 200)}`);
  }
  return result;
}

/**
 * Closed-loop load: `concurrency` workers each send requests back to back until `durationMs` has
 * passed or `maxRequests` were sent in total. Returns completed requests per second.
 */
export async function throughput(send, { concurrency, durationMs, maxRequests }) {
  let sent = 0;
  let completed = 0;
  let failed = 0;
  const reasons = {};
  const fail = (reason) => {
    failed++;
    reasons[reason] = (reasons[reason] ?? 0) + 1;
  };
  const started = performance.now();
  const deadline = started + durationMs;
  const worker = async () => {
    while (performance.now() < deadline && sent < maxRequests) {
      sent++;
      try {
        const result = await send();
        if (result.status === 200) completed++;
        else fail(`status ${result.status}`);
      } catch (error) {
        fail(error instanceof Error ? error.message : String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  return { rps: completed / seconds, completed, failed, reasons, seconds };
}

/** A reader that consumes at most `bytesPerSecond` (pauses the socket to keep to it). */
export function slowReader(bytesPerSecond) {
  const started = performance.now();
  return (_chunk, total) => {
    const due = started + (total / bytesPerSecond) * 1000;
    const wait = due - performance.now();
    return wait > 1 ? new Promise((r) => setTimeout(r, wait)) : null;
  };
}

export function percentile(values, p) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

export function median(values) {
  return percentile(values, 50);
}
