/**
 * The latency measurement bench/run.mjs and bench/ab.mjs share: every iteration sends one blocking
 * request through every path, then one streamed request, each round in a rotating order, with an
 * idle pause after every request (`gapMs`) so that work a path defers past its answer (the
 * gateway's recording, a queue consumer) runs before the next path's request rather than during it.
 *
 * Besides blocking time and streaming TTFB, every blocking request is split in two where the fake
 * upstream stamps it (bench/lib/upstream.mjs, on the clock all processes share): the time from the
 * client's send until the upstream had the request's headers (everything a path does before its
 * upstream call), and from the upstream's answer until the client had the last byte (everything
 * after it). Their sum is the blocking time less the upstream's own time. Every streamed request's
 * TTFB is split the same way, the second half ending at the first body byte.
 */
import { sendTo } from "./client.mjs";
import { BLOCKING_BODY, STREAM_BODY } from "./setup.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Every iteration visits all paths; the order rotates so no path is always first or last. */
export function rotated(paths, i) {
  return paths.map((_, k) => paths[(i + k) % paths.length]);
}

/**
 * Per path name: { blocking, ttfb, beforeUpstream, afterUpstream, ttfbBeforeUpstream,
 * ttfbAfterUpstream, timing } (ms; `timing` holds the Server-Timing headers), after `warmup`
 * unrecorded iterations. `onIteration(i, total)` reports progress.
 */
export async function measureLatency(paths, { iterations, warmup = 30, gapMs = 0, onIteration }) {
  const samples = Object.fromEntries(
    paths.map((p) => [
      p.name,
      {
        blocking: [],
        ttfb: [],
        beforeUpstream: [],
        afterUpstream: [],
        ttfbBeforeUpstream: [],
        ttfbAfterUpstream: [],
        timing: [],
      },
    ]),
  );
  const send = async (path, body, extra) => {
    const result = await sendTo(path, body, extra);
    if (gapMs > 0) await sleep(gapMs);
    return result;
  };
  const total = warmup + iterations;
  for (let i = 0; i < total; i++) {
    const warm = i < warmup;
    for (const path of rotated(paths, i)) {
      const result = await send(path, BLOCKING_BODY);
      if (warm) continue;
      const s = samples[path.name];
      s.blocking.push(result.totalMs);
      if (!result.upstreamSplit) throw new Error(`${path.name}: the upstream's time stamps did not arrive`);
      s.beforeUpstream.push(result.upstreamSplit.beforeMs);
      s.afterUpstream.push(result.upstreamSplit.afterMs);
      if (result.serverTiming) s.timing.push(result.serverTiming);
    }
    for (const path of rotated(paths, i + 1)) {
      const result = await send(path, STREAM_BODY, { "x-bench-events": "20" });
      if (warm) continue;
      const s = samples[path.name];
      s.ttfb.push(result.ttfbMs);
      if (result.upstreamSplit?.firstByteAfterMs == null) {
        throw new Error(`${path.name}: the upstream's time stamps did not arrive on the stream`);
      }
      s.ttfbBeforeUpstream.push(result.upstreamSplit.beforeMs);
      s.ttfbAfterUpstream.push(result.upstreamSplit.firstByteAfterMs);
    }
    onIteration?.(i + 1, total);
  }
  return samples;
}
