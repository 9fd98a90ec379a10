/**
 * The bridged request path, provider-neutral: parse once, open an interception, forward the
 * client's bytes, relay the answer (streaming untouched and unbuffered), record from a copy.
 */
import type { Context } from "hono";
import { observeCachePrefix } from "../analytics/observe";
import type { AppEnv } from "../app-env";
import { followBackgroundResponse } from "../background/follow";
import { ConfigError } from "../config";
import { RequestLimits } from "../limits/admission";
import { log } from "../log";
import { afterResponse } from "../next-task";
import { injectionDialect } from "../providers/injections";
import { RECORD_HEADER } from "../redaction";
import { createSseDecoder } from "../sse/decoder";
import type { ProviderAdapter, StreamRewriter } from "./adapter";
import { readJsonBody } from "./body";
import { detectClient } from "./client";
import { relayedFieldProblem } from "./fields";
import {
  clientResponseHeaders,
  UpstreamTimeoutError,
  UpstreamUnreachableError,
  upstreamRequestHeaders,
} from "./http";
import { Interception, type OverheadTimings } from "./interception";
import { runWithInjectedTools } from "./loop";
import { type RelayOutcome, relayStream } from "./relay";
import { keepaliveFor, upstreamRoute } from "./upstream";

export function bridgeHandler(adapter: ProviderAdapter) {
  return async (c: Context<AppEnv>): Promise<Response> => {
    const config = c.get("config");
    const actor = c.get("actor");
    const request = c.req.raw;

    const parseStarted = performance.now();
    const parsed = await readJsonBody(request);
    if (!parsed.ok) return adapter.errorResponse(400, parsed.message);
    const parseMs = performance.now() - parseStarted;
    const { json, bytes, text, model } = parsed.body;
    const problem = relayedFieldProblem(json);
    if (problem) return adapter.errorResponse(400, problem);

    // The provider instance of the path: its key (or the user's own), its fallbacks, its breaker.
    const route = upstreamRoute(c, adapter, model);
    const credential = route.credential;
    const facts = adapter.describeRequest(json, request.headers);
    const interception = new Interception(
      {
        env: c.env,
        ctx: c.executionCtx,
        recording: {
          configured: config.recording.recordContent,
          header: request.headers.get(RECORD_HEADER),
          key: config.recording.redactionKey,
        },
        startRecordDelayMs: config.startRecordDelayMs,
        logInterceptions: config.logInterceptions,
      },
      {
        actor,
        provider: adapter.provider,
        providerName: adapter.providerName,
        model,
        client: detectClient(request.headers),
        userAgent: request.headers.get("user-agent"),
        clientSessionId: facts.clientSessionId,
        correlatingToolCallId: facts.correlatingToolCallId,
        streaming: facts.streaming,
        instance: route.instance.name,
        route: c.req.path,
        method: request.method,
      },
    );
    c.set("interception", interception);
    interception.timings.auth = c.get("authMs") ?? 0;
    interception.timings.parse = parseMs;
    interception.countRequestText(json);
    if (facts.prompt) interception.recordPrompt(facts.prompt);
    observeCachePrefix(interception, text);
    // Per-user limits (src/limits): every upstream call reserves first; the interception's end reconciles.
    const limits = await RequestLimits.open(c.env, c.executionCtx, interception);

    const headers = upstreamRequestHeaders(request.headers, credential);
    for (const [name, value] of Object.entries(adapter.defaultHeaders?.(request.headers) ?? {})) {
      if (!headers.has(name)) headers.set(name, value);
    }

    // Central MCP tools: when some are injected, the inner loop (loop.ts) answers the request.
    const dialect = injectionDialect(adapter);
    if (dialect) {
      const loop = { c, adapter, dialect, json, text, model, interception, headers, limits };
      const send = (body: string) => route.send(body, headers, interception);
      const looped = await runWithInjectedTools({ ...loop, url: route.url, send });
      if (looped) return looped;
    }

    // Only when the loop did not take the request: its own rewrite starts from the client's text.
    const injectStarted = performance.now();
    const prepared = adapter.prepareBody?.(json, bytes) ?? null;
    interception.timings.inject = performance.now() - injectStarted;

    const refused = await limits.admit(prepared?.bytes ?? bytes, json, adapter, prepared ? undefined : text);
    if (refused) return refused;

    let upstream: Response;
    const upstreamStarted = performance.now();
    try {
      upstream = await route.send(prepared?.bytes ?? bytes, headers, interception);
    } catch (error) {
      if (!(error instanceof UpstreamUnreachableError)) throw error;
      const timedOut = error instanceof UpstreamTimeoutError;
      interception.end({
        status: "failed",
        errorType: timedOut ? "upstream_timeout" : "upstream_unreachable",
        errorMessage: error.message,
      });
      const failure = timedOut
        ? adapter.errorResponse(
            504,
            `${adapter.provider} did not answer within ${config.upstreamIdleTimeoutMs / 1000} s.`,
          )
        : adapter.errorResponse(502, `The gateway could not reach ${adapter.provider}.`);
      failure.headers.set("x-aibridge-interception-id", interception.id);
      return failure;
    }

    interception.timings.upstreamHeaders = performance.now() - upstreamStarted;
    const responseHeaders = clientResponseHeaders(upstream.headers);
    responseHeaders.set("x-aibridge-interception-id", interception.id);
    responseHeaders.append("server-timing", serverTiming(interception.timings));
    limits.annotate(responseHeaders);

    if (!upstream.ok) {
      const text = await upstream.text();
      const described = adapter.describeError(upstream.status, text);
      interception.end({ status: "failed", errorType: described.type, errorMessage: described.message });
      return new Response(text, { status: upstream.status, headers: responseHeaders });
    }

    const isEventStream = upstream.headers.get("content-type")?.includes("text/event-stream") ?? false;
    if (isEventStream && upstream.body) {
      interception.streamStarted();
      const keepaliveMs = keepaliveFor(upstream);
      const body = relayUpstreamStream(
        adapter,
        interception,
        upstream.body,
        keepaliveMs,
        c,
        prepared?.rewriter?.(),
      );
      return new Response(body, { status: upstream.status, headers: responseHeaders });
    }

    const raw = await upstream.arrayBuffer();
    // The answer leaves first: parsing it and recording its usage wait until it has (next-task.ts);
    // about 0.1 ms off the time after the upstream's answer here (bench/RESULTS.md, item 25).
    const answeredAt = Date.now();
    c.executionCtx.waitUntil(
      afterResponse().then(() => recordBlockingAnswer(c, adapter, interception, raw, answeredAt)),
    );
    return new Response(raw, { status: upstream.status, headers: responseHeaders });
  };
}

/** A blocking answer, read whole: its usage recorded and the interception ended as of `endedAt`. */
function recordBlockingAnswer(
  c: Context<AppEnv>,
  adapter: ProviderAdapter,
  interception: Interception,
  raw: ArrayBuffer,
  endedAt: number,
): void {
  try {
    const outcome = adapter.recordBlocking(JSON.parse(new TextDecoder().decode(raw)), interception);
    if (outcome.pendingResponseId) followLater(c, interception, outcome.pendingResponseId);
    interception.end(
      outcome.error
        ? { status: "failed", errorType: outcome.error.type, errorMessage: outcome.error.message, endedAt }
        : { status: "completed", stopReason: outcome.stopReason, endedAt },
    );
  } catch (error) {
    interception.endUnparseable(error, endedAt);
  }
}

/**
 * A bridged request whose handler threw (the API's onError) is recorded as failed, not left
 * "started". Only the gateway's own configuration messages are recorded: another error's message
 * may quote request data.
 */
export function failInterception(c: Context<AppEnv>, error: unknown): void {
  const configError = error instanceof ConfigError;
  c.get("interception")?.end({
    status: "failed",
    errorType: configError ? "config_error" : "gateway_error",
    errorMessage: configError
      ? error.message
      : `Internal gateway error (${error instanceof Error ? error.name : "unknown"}).`,
  });
}

/** A response that finishes later (OpenAI background): the gateway follows it (src/background). */
function followLater(c: Context<AppEnv>, interception: Interception, responseId: string): void {
  const { info } = interception;
  const owner = {
    interceptionId: info.id,
    model: info.model,
    initiatorId: info.initiatorId,
    client: info.client,
    instance: interception.upstreamInstance ?? c.get("instance").name,
  };
  c.executionCtx.waitUntil(
    followBackgroundResponse(c.env, responseId, owner, c.get("actor").byokCredential).catch((error) =>
      log.error("background_follow_failed", { interception: info.id, error: String(error) }),
    ),
  );
}

function relayUpstreamStream(
  adapter: ProviderAdapter,
  interception: Interception,
  body: ReadableStream<Uint8Array>,
  keepaliveMs: number | null,
  c: Context<AppEnv>,
  rewriter: StreamRewriter | undefined,
): ReadableStream<Uint8Array> {
  const parser = adapter.streamParser(interception);
  const decoder = createSseDecoder((event) => parser.onEvent(event));
  return relayStream(
    body,
    c.executionCtx,
    {
      onChunk: (chunk) => decoder.push(chunk),
      onFirstByte: (ms) => {
        interception.timings.firstByte = ms;
      },
      clientBytes: rewriter ? (chunk) => rewriter.clientBytes(chunk) : undefined,
      clientTail: rewriter ? () => rewriter.clientTail() : undefined,
      errorEvent: (message) => adapter.streamErrorEvent(message),
      onEnd: (relay: RelayOutcome) => {
        decoder.end();
        const outcome = parser.finish();
        if (relay.kind === "upstream_error" || relay.kind === "upstream_stalled") {
          interception.end({ status: "failed", errorType: relay.kind, errorMessage: relay.message });
        } else if (outcome.error) {
          interception.end({
            status: "failed",
            errorType: outcome.error.type,
            errorMessage: outcome.error.message,
          });
        } else if (relay.kind === "client_disconnected") {
          interception.end({ status: "client_disconnected", stopReason: outcome.stopReason });
        } else {
          interception.end({ status: "completed", stopReason: outcome.stopReason });
        }
      },
    },
    {
      signal: c.req.raw.signal,
      keepaliveMs,
      limits: {
        idleTimeoutMs: c.get("config").upstreamIdleTimeoutMs,
        drainTimeoutMs: c.get("config").disconnectDrainMs,
      },
    },
  );
}

/**
 * Server-Timing for the gateway's own phases (durations in ms). The first-byte relay time is not
 * known when headers leave, so it goes only into the interception_end datapoint. On Cloudflare,
 * clocks advance only across I/O, so CPU-only phases (parse, inject) read 0 there; the benchmark
 * measures them.
 */
function serverTiming(timings: Partial<OverheadTimings>): string {
  const entry = (name: string, ms: number | undefined, description: string) =>
    `${name};dur=${(ms ?? 0).toFixed(2)};desc="${description}"`;
  return [
    entry("auth", timings.auth, "gateway key check"),
    entry("parse", timings.parse, "request body parse"),
    entry("inject", timings.inject, "request rewrite and tool injection"),
    entry("upstream", timings.upstreamHeaders, "request sent to upstream headers"),
  ].join(", ");
}
