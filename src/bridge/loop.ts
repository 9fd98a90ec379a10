/**
 * The inner agentic loop, provider-neutral. When central MCP tools are configured the gateway adds
 * them to the request; when the model calls one, the gateway runs it over MCP, appends the assistant
 * turn and the tool result to the conversation and calls the upstream again, until the model stops
 * calling injected tools or the iteration cap is reached. The client sees one response.
 *
 * Each API supplies an InjectionDialect (its JSON shapes); this file owns the control flow, the
 * records and the streaming plumbing. Every iteration's stream goes through relayStream, so a client
 * disconnect still drains the upstream and records its usage (and no further iteration starts).
 *
 * Mixed turns: parallel tool use is turned off while tools are injected, so a turn normally holds
 * at most one tool call. If a provider still returns calls to the client's own tools together with
 * injected ones, the client's calls win: the turn goes to the client with the injected calls hidden
 * and not run (recorded with invocation error "not run: …"), since the client could not answer
 * calls it never saw, and the conversation it sends back must only hold calls it answers.
 */
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { LimitRefusal, type RequestLimits } from "../limits/admission";
import { log } from "../log";
import { getMcpConfig, type McpConfig } from "../mcp/config";
import { isInjectedName } from "../mcp/naming";
import { type InjectedTool, loadInjectedTools, Toolbox, type ToolRun } from "../mcp/tools";
import { writeMetric } from "../metrics/write";
import { createSseDecoder, type SseEvent } from "../sse/decoder";
import type { ProviderAdapter, ResponseOutcome } from "./adapter";
import { clientResponseHeaders, fetchUpstream, UpstreamTimeoutError, UpstreamUnreachableError } from "./http";
import type { Interception } from "./interception";
import { type RelayOutcome, relayStream } from "./relay";
import { keepaliveFor } from "./upstream";

export interface ToolCall {
  /** The provider's tool-call id (tool_use id, call id). */
  id: string;
  name: string;
  /** The arguments as the model wrote them (JSON text). */
  arguments: string;
}

export interface Turn {
  responseId: string | null;
  /** Calls to injected tools in this response. */
  injected: ToolCall[];
  /** Whether the response also calls the client's own tools. */
  clientCalls: boolean;
  /** The assistant turn in the dialect's own shape, handed back to continueWith. */
  assistant: unknown;
}

export interface ToolResult {
  call: ToolCall;
  run: ToolRun;
}

/** Why the loop stopped: the model was done, the cap was hit, or a turn mixed client and injected calls. */
export type LoopEnd = "done" | "capped" | "mixed";

export interface StreamView {
  /** The client's text for one upstream event ("" hides it). */
  onEvent(event: SseEvent): string;
  /** After one upstream stream ended normally: what it asked for. */
  endTurn(): Turn;
  /** Sent while tools run, so the client and proxies keep the connection open. */
  keepAlive(): string;
  /** The closing events the client gets once, with usage summed over all iterations. */
  finish(end: LoopEnd): string;
}

export interface InjectionDialect {
  /** False when this request cannot take part in the loop (e.g. several choices at once). */
  applies(json: Record<string, unknown>): boolean;
  /** The first upstream body: the client's text with the tools spliced in, parallel tool use off. */
  prepare(text: string, json: Record<string, unknown>, tools: InjectedTool[]): string;
  /** The next upstream body: the previous one plus the assistant turn and the tool results. */
  continueWith(text: string, turn: Turn, results: ToolResult[]): string;
  blockingTurn(body: Record<string, unknown>): Turn;
  /** The one blocking response the client gets, from every iteration's body. */
  mergeBlocking(bodies: Record<string, unknown>[], end: LoopEnd): Record<string, unknown>;
  streamView(json: Record<string, unknown>): StreamView;
}

export interface LoopRequest {
  c: Context<AppEnv>;
  adapter: ProviderAdapter;
  dialect: InjectionDialect;
  json: Record<string, unknown>;
  /** The client's body, as decoded when it was parsed. */
  text: string;
  model: string;
  interception: Interception;
  url: string;
  headers: Headers;
  /** Per-user limits: each iteration reserves before its upstream call. */
  limits?: RequestLimits;
  /** Sends one upstream request (src/bridge/upstream.ts: instance keys, fallback, breaker); default: fetch url. */
  send?: (body: string) => Promise<Response>;
}

export const CAPPED_STOP_REASON = "mcp_iteration_cap";
const KEEPALIVE_MS = 5_000;
const encoder = new TextEncoder();

/**
 * Runs the request with injected tools, or returns null when there is nothing to inject (no
 * servers, a skipped model, no tools, or a request shape the dialect cannot loop over); the
 * caller then relays the request as usual.
 */
export async function runWithInjectedTools(request: LoopRequest): Promise<Response | null> {
  const { c, dialect, json, model } = request;
  let config: McpConfig;
  try {
    config = getMcpConfig(c.env);
  } catch (error) {
    // A bad MCP_SERVERS answers 500 (app.onError names the variable); the interception still ends.
    const message = error instanceof Error ? error.message : String(error);
    request.interception.end({ status: "failed", errorType: "config_error", errorMessage: message });
    throw error;
  }
  if (config.servers.length === 0 || config.skipModels?.test(model) || !dialect.applies(json)) return null;
  const tools = await loadInjectedTools(c.env, c.executionCtx, config);
  if (tools.length === 0) return null;

  const loop = new Loop(request, new Toolbox(tools, config.timeoutMs), config.maxIterations);
  const injectStarted = performance.now();
  const body = dialect.prepare(request.text, json, tools);
  request.interception.timings.inject = performance.now() - injectStarted;
  return loop.start(body);
}

class Loop {
  private body = "";
  private iteration = 0;
  /** The interception as the adapters' parsers see it: injected calls are recorded here instead. */
  private readonly recording: Interception;

  constructor(
    private readonly request: LoopRequest,
    private readonly toolbox: Toolbox,
    private readonly maxIterations: number,
  ) {
    this.recording = withoutInjectedCalls(request.interception);
  }

  async start(body: string): Promise<Response> {
    const { interception } = this.request;
    let upstream: Response;
    try {
      upstream = await this.fetch(body);
    } catch (error) {
      return this.unreachable(error);
    }
    const headers = clientResponseHeaders(upstream.headers);
    headers.set("x-aibridge-interception-id", interception.id);
    this.request.limits?.annotate(headers);
    if (!upstream.ok) {
      this.close();
      return this.relayError(upstream, headers);
    }
    if (upstream.body && upstream.headers.get("content-type")?.includes("text/event-stream")) {
      return new Response(this.stream(upstream.body, keepaliveFor(upstream)), {
        status: upstream.status,
        headers,
      });
    }
    return this.blocking(upstream, headers);
  }

  private async fetch(body: string): Promise<Response> {
    this.body = body;
    this.iteration += 1;
    const { url, headers, c, json, limits, send } = this.request;
    await limits?.reserve(body, json);
    if (send) return send(body);
    return fetchUpstream(url, { method: "POST", headers, body }, c.get("config").upstreamIdleTimeoutMs);
  }

  private unreachable(error: unknown): Response {
    this.close();
    if (error instanceof LimitRefusal && this.request.limits)
      return this.request.limits.refusal(error, this.request.adapter);
    if (!(error instanceof UpstreamUnreachableError)) throw error;
    const { adapter, interception } = this.request;
    const timedOut = error instanceof UpstreamTimeoutError;
    interception.end({
      status: "failed",
      errorType: timedOut ? "upstream_timeout" : "upstream_unreachable",
      errorMessage: error.message,
    });
    return timedOut
      ? adapter.errorResponse(504, `${adapter.provider} did not answer in time.`)
      : adapter.errorResponse(502, `The gateway could not reach ${adapter.provider}.`);
  }

  private async relayError(upstream: Response, headers: Headers): Promise<Response> {
    const text = await upstream.text();
    const described = this.request.adapter.describeError(upstream.status, text);
    this.request.interception.end({
      status: "failed",
      errorType: described.type,
      errorMessage: described.message,
    });
    return new Response(text, { status: upstream.status, headers });
  }

  /** What to do after a turn: run its injected calls ("continue"), or stop and say why. */
  private decide(turn: Turn): LoopEnd | "continue" {
    if (turn.injected.length === 0) return "done";
    const why = turn.clientCalls ? "mixed" : this.iteration >= this.maxIterations ? "capped" : null;
    if (!why) return "continue";
    const reason =
      why === "mixed"
        ? "not run: the response also called the client's own tools"
        : `not run: the gateway's limit of ${this.maxIterations} iterations was reached`;
    for (const call of turn.injected)
      this.recordCall(turn, call, { text: "", isError: true, error: reason, serverUrl: null });
    if (why === "capped") {
      log.warn("mcp_iteration_cap", {
        interception: this.request.interception.id,
        iterations: this.iteration,
      });
      const event = { event: "mcp_iteration_cap", detail: this.request.model };
      writeMetric(this.request.c.env.METRICS, "gateway_event", event, { count: 1 });
    }
    return why;
  }

  private async runTools(turn: Turn): Promise<ToolResult[]> {
    const results: ToolResult[] = [];
    // One at a time, in the model's order: tools may depend on each other's side effects.
    for (const call of turn.injected) {
      const run = await this.toolbox.call(call.name, call.arguments);
      this.recordCall(turn, call, run);
      results.push({ call, run });
    }
    return results;
  }

  private recordCall(turn: Turn, call: ToolCall, run: ToolRun): void {
    const tool = this.toolbox.tools.find((t) => t.name === call.name);
    this.request.interception.recordToolUsage({
      providerResponseId: turn.responseId,
      providerToolCallId: call.id,
      tool: call.name,
      serverUrl: run.serverUrl ?? tool?.server.url ?? null,
      input: call.arguments,
      injected: true,
      invocationError: run.error,
    });
  }

  private end(outcome: ResponseOutcome, end: LoopEnd): void {
    const { interception } = this.request;
    if (outcome.error) {
      interception.end({
        status: "failed",
        errorType: outcome.error.type,
        errorMessage: outcome.error.message,
      });
    } else {
      interception.end({
        status: "completed",
        stopReason: end === "capped" ? CAPPED_STOP_REASON : outcome.stopReason,
      });
    }
    this.close();
  }

  private close(): void {
    this.request.c.executionCtx.waitUntil(this.toolbox.close());
  }

  private async blocking(first: Response, headers: Headers): Promise<Response> {
    try {
      return await this.blockingLoop(first, headers);
    } catch (error) {
      // A bug must not leave the interception open or MCP connections behind (app.onError answers).
      const message = error instanceof Error ? error.message : String(error);
      this.request.interception.end({ status: "failed", errorType: "gateway_error", errorMessage: message });
      this.close();
      throw error;
    }
  }

  private async blockingLoop(first: Response, headers: Headers): Promise<Response> {
    const { adapter, dialect, interception } = this.request;
    const bodies: Record<string, unknown>[] = [];
    let upstream = first;
    for (;;) {
      const raw = await upstream.text();
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(raw);
      } catch (error) {
        interception.endUnparseable(error);
        this.close();
        return new Response(raw, { status: upstream.status, headers });
      }
      const outcome = adapter.recordBlocking(body, this.recording);
      if (outcome.error) {
        this.end(outcome, "done");
        return new Response(raw, { status: upstream.status, headers });
      }
      bodies.push(body);
      const turn = dialect.blockingTurn(body);
      const next = this.decide(turn);
      if (next !== "continue") {
        this.end(outcome, next);
        // Nothing was injected into the answer: the client gets the upstream's bytes untouched.
        if (bodies.length === 1 && next === "done")
          return new Response(raw, { status: upstream.status, headers });
        return Response.json(dialect.mergeBlocking(bodies, next), { status: upstream.status, headers });
      }
      const results = await this.runTools(turn);
      try {
        upstream = await this.fetch(dialect.continueWith(this.body, turn, results));
      } catch (error) {
        return this.unreachable(error);
      }
      if (!upstream.ok) {
        this.close();
        return this.relayError(upstream, headers);
      }
    }
  }

  /**
   * One client stream over all iterations, pull-based like the relay: each pull reads the current
   * iteration's relayed stream; at its end the loop either closes with the view's closing events
   * or runs the tools (sending keep-alives) and opens the next iteration.
   */
  private stream(
    firstBody: ReadableStream<Uint8Array>,
    keepaliveMs: number | null,
  ): ReadableStream<Uint8Array> {
    const { c, adapter, dialect, json, interception } = this.request;
    const view = dialect.streamView(json);
    let gone = false;
    let settle!: () => void;
    c.executionCtx.waitUntil(new Promise<void>((resolve) => (settle = resolve)));

    // Every iteration's upstream is the same instance's (or its fallback's): one keep-alive interval.
    const open = (body: ReadableStream<Uint8Array>) => {
      const parser = adapter.streamParser(this.recording);
      let out = "";
      const decoder = createSseDecoder((event) => {
        parser.onEvent(event);
        if (!gone) out += view.onEvent(event);
      });
      let ended!: (value: { relay: RelayOutcome; outcome: ResponseOutcome }) => void;
      const done = new Promise<{ relay: RelayOutcome; outcome: ResponseOutcome }>(
        (resolve) => (ended = resolve),
      );
      const config = c.get("config");
      const limits = {
        idleTimeoutMs: config.upstreamIdleTimeoutMs,
        drainTimeoutMs: config.disconnectDrainMs,
      };
      const relayed = relayStream(
        body,
        c.executionCtx,
        {
          clientBytes: (chunk) => {
            decoder.push(chunk);
            const text = out;
            out = "";
            return text;
          },
          // While the client is there clientBytes decodes; after it left the relay drains through here.
          onChunk: (chunk) => {
            if (gone) decoder.push(chunk);
          },
          errorEvent: (message) => adapter.streamErrorEvent(message),
          onEnd: (relay) => {
            decoder.end();
            ended({ relay, outcome: parser.finish() });
          },
        },
        { limits, keepaliveMs },
      );
      return { reader: relayed.getReader(), done };
    };

    let current = open(firstBody);
    const finish = (apply: () => void) => {
      try {
        apply();
      } finally {
        this.close();
        settle();
      }
    };
    const disconnect = () => {
      if (gone) return;
      gone = true;
      const { reader, done } = current;
      reader.cancel().catch(() => {});
      done.then(({ outcome }) =>
        finish(() => interception.end({ status: "client_disconnected", stopReason: outcome.stopReason })),
      );
    };
    c.req.raw.signal.addEventListener("abort", disconnect);

    const step = async (controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> => {
      const send = (text: string) => {
        if (text) safely(() => controller.enqueue(encoder.encode(text)));
      };
      for (;;) {
        if (gone) return;
        const { done: upstreamDone, value } = await current.reader.read();
        if (gone) return;
        if (!upstreamDone) {
          if (value.byteLength === 0) continue;
          controller.enqueue(value);
          return;
        }
        const { relay, outcome } = await current.done;
        if (relay.kind !== "completed" || outcome.error) {
          // The relay or the view already passed the error event on to the client.
          safely(() => controller.close());
          const error =
            relay.kind === "upstream_error" || relay.kind === "upstream_stalled"
              ? { type: relay.kind, message: relay.message }
              : outcome.error;
          return finish(() => this.end({ stopReason: null, error }, "done"));
        }
        const turn = view.endTurn();
        const next = this.decide(turn);
        if (next !== "continue") {
          send(view.finish(next));
          safely(() => controller.close());
          return finish(() => this.end(outcome, next));
        }
        send(view.keepAlive());
        const timer = setInterval(() => send(view.keepAlive()), KEEPALIVE_MS);
        let results: ToolResult[];
        try {
          results = await this.runTools(turn);
        } finally {
          clearInterval(timer);
        }
        if (gone) return;
        const failed = (type: string, message: string) => {
          send(adapter.streamErrorEvent(message));
          safely(() => controller.close());
          finish(() => interception.end({ status: "failed", errorType: type, errorMessage: message }));
        };
        let upstream: Response;
        try {
          upstream = await this.fetch(dialect.continueWith(this.body, turn, results));
        } catch (error) {
          if (error instanceof LimitRefusal) return failed(error.reason, error.message);
          return failed("upstream_unreachable", error instanceof Error ? error.message : String(error));
        }
        if (!upstream.ok || !upstream.body) {
          const described = adapter.describeError(upstream.status, await upstream.text());
          return failed(described.type, `Upstream answered ${upstream.status}: ${described.message}`);
        }
        current = open(upstream.body);
      }
    };

    return new ReadableStream<Uint8Array>(
      {
        pull: (controller) =>
          step(controller).catch((error) => {
            // A bug must not leave the client hanging or the interception open.
            const message = error instanceof Error ? error.message : String(error);
            log.error("mcp_loop_failed", { interception: interception.id, error: message });
            safely(() =>
              controller.enqueue(encoder.encode(adapter.streamErrorEvent("Internal gateway error."))),
            );
            safely(() => controller.close());
            finish(() =>
              interception.end({ status: "failed", errorType: "gateway_error", errorMessage: message }),
            );
          }),
        cancel: () => disconnect(),
      },
      { highWaterMark: 0 },
    );
  }
}

/**
 * The adapters' parsers record every tool call as a client call; the loop records injected calls
 * itself (with server, result and injected = true), so they are filtered out of the parsers' view.
 * Interception keeps its state in TS-private (not #private) fields, which a prototype view shares.
 */
function withoutInjectedCalls(interception: Interception): Interception {
  const view = Object.create(interception) as Interception;
  view.recordToolUsage = (tool) => {
    if (!isInjectedName(tool.tool)) interception.recordToolUsage(tool);
  };
  return view;
}

/** Adds usage objects field by field (nested counts too); non-numbers keep the latest value. */
export function addUsage(total: unknown, next: unknown): unknown {
  if (typeof next === "number") return (typeof total === "number" ? total : 0) + next;
  if (next && typeof next === "object" && !Array.isArray(next)) {
    const base =
      total && typeof total === "object" && !Array.isArray(total) ? (total as Record<string, unknown>) : {};
    const sum: Record<string, unknown> = { ...base };
    for (const [key, value] of Object.entries(next)) sum[key] = addUsage(base[key], value);
    return sum;
  }
  return next ?? total;
}

function safely(action: () => void): void {
  try {
    action();
  } catch {
    // The client side is already closed or cancelled.
  }
}

export type { InjectedTool };
