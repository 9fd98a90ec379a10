/**
 * One bridged request from start to end, provider-neutral. Everything it records is buffered and
 * sent with the end record in one queue batch: one `sendBatch` per interception, the floor (each
 * send is Worker CPU, and a consumer invocation writing D1). The end record carries everything the
 * start record does, so a request that ends in time needs no start record at all. One that is
 * still running after `startRecordDelayMs` (a long stream) sends its start record then, so that a
 * request the runtime kills mid-way (eviction, CPU limit) still leaves a trace; a request whose
 * handler throws ends as failed (handler.ts). All sending happens in ctx.waitUntil: the response
 * never waits.
 */
import { uuidv7 } from "uuidv7";
import type { Actor } from "../auth/actor";
import { log } from "../log";
import { writeMetric } from "../metrics/write";
import { afterResponse } from "../next-task";
import { recordedCostMicros } from "../pricing";
import { sendRecords } from "../recorder/producer";
import type {
  InterceptionEnded,
  InterceptionInfo,
  InterceptionStatus,
  RecordMessage,
  TokenUsage,
  ToolUsage,
} from "../recorder/records";
import { RecordingGuard, type RecordingRequest } from "../redaction";
import { requestTextChars } from "../usage/estimate";

export interface InterceptionContext {
  env: { RECORDS: Queue<unknown>; DB: D1Database; METRICS?: AnalyticsEngineDataset };
  ctx: WaitUntil;
  /** What may be recorded of this request's content (mode, header, marker key): src/redaction. */
  recording: RecordingRequest;
  /** How long a request may run before its start record is sent on its own (0: at once). */
  startRecordDelayMs?: number;
  /** "all": every interception ends with a log line; otherwise only those not completed. */
  logInterceptions?: "errors" | "all";
}

/** Per isolate: when each gateway key's last use was last queued (see keyUseRecord). */
const keyUseQueuedAt = new Map<string, number>();
/** A key's `last_used_at` is kept to the minute: one write per key per minute, not per request. */
const KEY_USE_RESOLUTION_MS = 60_000;

/** The one part of ExecutionContext the bridge uses (Hono and workers-types disagree on the rest). */
export interface WaitUntil {
  waitUntil(promise: Promise<unknown>): void;
}

export interface OpenInterception {
  actor: Actor;
  provider: string;
  providerName: string;
  model: string;
  client: string;
  userAgent: string | null;
  clientSessionId: string | null;
  correlatingToolCallId: string | null;
  streaming: boolean;
  /** The provider instance the client addressed. */
  instance?: string;
  /** The request path and method, as metric labels. */
  route?: string;
  method?: string;
  metadata?: Record<string, unknown>;
}

/**
 * The gateway's own time on a request, in milliseconds (what it adds, not the upstream's time):
 * auth, body parse, tool injection, request sent → upstream headers, upstream first byte → client
 * first byte. Filled in by the handler as it goes; sent as Server-Timing and as a datapoint.
 */
export interface OverheadTimings {
  auth: number;
  parse: number;
  inject: number;
  upstreamHeaders: number;
  firstByte: number;
}

export type TokenUsageInput = Omit<TokenUsage, "kind" | "id" | "interceptionId" | "createdAt" | "costMicros">;
export type ToolUsageInput = Omit<ToolUsage, "kind" | "id" | "interceptionId" | "createdAt">;

export interface EndInterception {
  status: Exclude<InterceptionStatus, "started">;
  stopReason?: string | null;
  errorType?: string | null;
  errorMessage?: string | null;
  /** When the interception ended, if earlier than now (a blocking answer is recorded after it left). */
  endedAt?: number;
}

/** Sums of everything recorded, for logs and metrics at the end. */
export interface InterceptionTotals {
  inputTokens: number;
  outputTokens: number;
  cacheReadInputTokens: number;
  cacheWriteInputTokens: number;
  extra: Record<string, number>;
  toolCalls: number;
  injectedToolCalls: number;
  /** Usage records whose counts are estimates (the provider's final usage never arrived). */
  estimatedUsages: number;
}

/** What an interception recorded in total, for listeners of its end (limits reconcile with it). */
export interface InterceptionSummary {
  status: Exclude<InterceptionStatus, "started">;
  /** Sum of the recorded token-usage costs (micro-dollars); unpriced records add nothing. */
  costMicros: number;
  /** True when some usage had no known price. */
  unpriced: boolean;
  totals: InterceptionTotals;
}

export class Interception {
  readonly info: InterceptionInfo;
  readonly totals: InterceptionTotals = {
    inputTokens: 0,
    outputTokens: 0,
    cacheReadInputTokens: 0,
    cacheWriteInputTokens: 0,
    extra: {},
    toolCalls: 0,
    injectedToolCalls: 0,
    estimatedUsages: 0,
  };
  /**
   * Work on the request that neither the upstream call nor the answer waits for (the start
   * datapoint, counting the request's text, the cache fingerprint): see deferRequestWork.
   */
  private readonly requestWork: (() => unknown)[] = [];
  private requestWorkRan = false;
  /** The request's text count, or the JSON it is counted from until the request work counts it. */
  private readonly requestText: { json: unknown; chars: number } = { json: undefined, chars: 0 };
  readonly timings: Partial<OverheadTimings> = {};
  private readonly buffer: RecordMessage[] = [];
  private ended: InterceptionEnded | null = null;
  /** Set when the end batch is taken from the buffer (AFTER_RESPONSE_MS after end()): nothing joins it later. */
  private sealed = false;
  private upstream: { instance: string | null; fallback: boolean } = { instance: null, fallback: false };
  private readonly route: string;
  private readonly method: string;
  /** Mutated in place (never reassigned): the MCP loop records through a prototype view of this object. */
  private readonly cost = { micros: 0, unpriced: false };
  private readonly endListeners: ((summary: InterceptionSummary) => void)[] = [];
  private readonly guard: RecordingGuard;
  /** The start record until it is sent (on its timer) or made redundant by the end record. */
  private pendingStart: { timer: ReturnType<typeof setTimeout>; release: () => void } | null = null;

  constructor(
    private readonly context: InterceptionContext,
    open: OpenInterception,
  ) {
    this.info = {
      id: uuidv7(),
      initiatorId: open.actor.userId,
      apiKeyId: open.actor.keyId,
      provider: open.provider,
      providerName: open.providerName,
      instance: open.instance ?? open.provider,
      // Client-controlled strings are bounded: a huge header must not make every record oversized.
      model: bounded(open.model),
      client: open.client,
      userAgent: bounded(open.userAgent, 512),
      clientSessionId: bounded(open.clientSessionId),
      correlatingToolCallId: bounded(open.correlatingToolCallId),
      credentialKind: open.actor.credentialKind,
      credentialHint: open.actor.credentialHint,
      streaming: open.streaming,
      startedAt: Date.now(),
      metadata: open.metadata ?? null,
    };
    this.guard = new RecordingGuard(context.env, context.recording, open.actor.userId);
    this.route = open.route ?? `/${open.provider}/${open.providerName}`;
    this.method = open.method ?? "POST";
    this.deferRequestWork(() =>
      writeMetric(context.env.METRICS, "interception_start", this.labels(), { count: 1 }),
    );
    const keyUse = keyUseRecord(open.actor.keyId, this.info.startedAt);
    if (keyUse) this.buffer.push(keyUse);
    this.deferStart(context.startRecordDelayMs ?? 0);
  }

  /**
   * Holds the start record back for `delayMs`. The waitUntil keeps the request's context alive
   * until the interception ends or the timer fires, so the timer still runs if the handler throws
   * or the response is already complete; it costs nothing for a request that ends in time.
   */
  private deferStart(delayMs: number): void {
    const sendStart = () => this.send([{ kind: "interception_started", ...this.info }]);
    if (delayMs <= 0) {
      sendStart();
      return;
    }
    let release!: () => void;
    this.context.ctx.waitUntil(
      new Promise<void>((resolve) => {
        release = resolve;
      }),
    );
    const timer = setTimeout(() => {
      this.pendingStart = null;
      sendStart();
      release();
    }, delayMs);
    this.pendingStart = { timer, release };
  }

  get id(): string {
    return this.info.id;
  }

  /**
   * Queues work on the request that nothing waits for. It runs AFTER_RESPONSE_MS after a streamed
   * answer was handed to the runtime (streamStarted), or with the end batch, before that is taken:
   * off the request's path, where scheduling it (a timer and a waitUntil) was a measurable cost
   * (bench/RESULTS.md, item 20), and in time for the record it makes to ride with the end batch.
   */
  deferRequestWork(job: () => unknown): void {
    this.requestWork.push(job);
    // Queued after the work has run, it runs at once (in waitUntil): after the end batch was taken,
    // nothing would run it later.
    if (this.requestWorkRan) this.context.ctx.waitUntil(this.runRequestWork());
  }

  /** A streamed answer is on its way: the request work runs while it flows (not after its end). */
  streamStarted(): void {
    this.context.ctx.waitUntil(afterResponse().then(() => this.runRequestWork()));
  }

  /** Runs the queued request work once; a failing job is logged, never fatal to recording. */
  private runRequestWork(): Promise<unknown> {
    this.requestWorkRan = true;
    const failed = (error: unknown) =>
      log.error("request_work_failed", { interception: this.id, error: String(error) });
    const pending: Promise<unknown>[] = [];
    for (const job of this.requestWork.splice(0)) {
      try {
        pending.push(Promise.resolve(job()).catch(failed));
      } catch (error) {
        failed(error);
      }
    }
    return Promise.all(pending);
  }

  /**
   * Characters of text in the request (src/usage/estimate.ts): the basis of an input estimate when
   * the provider's usage never arrives. Counted with the request work, or here if asked for earlier.
   */
  get requestTextChars(): number {
    const text = this.requestText;
    if (text.json !== undefined) {
      text.chars = requestTextChars(text.json);
      text.json = undefined;
    }
    return text.chars;
  }

  /** The request body whose text the input estimate counts (see requestTextChars). */
  countRequestText(json: unknown): void {
    this.requestText.json = json;
    this.deferRequestWork(() => this.requestTextChars);
  }

  get isEnded(): boolean {
    return this.ended !== null;
  }

  /** Cost recorded so far, in micro-dollars (what an MCP loop has already spent before its next call). */
  get costMicros(): number {
    return this.cost.micros;
  }

  /** Called once when the interception ends, with its summed usage and cost. */
  onEnd(listener: (summary: InterceptionSummary) => void): void {
    this.endListeners.push(listener);
  }

  recordTokenUsage(usage: TokenUsageInput): void {
    const t = this.totals;
    t.inputTokens += usage.inputTokens;
    t.outputTokens += usage.outputTokens;
    t.cacheReadInputTokens += usage.cacheReadInputTokens;
    t.cacheWriteInputTokens += usage.cacheWriteInputTokens;
    for (const [type, count] of Object.entries(usage.extraTokenTypes ?? {})) {
      t.extra[type] = (t.extra[type] ?? 0) + count;
    }
    const costMicros = recordedCostMicros(this.context.env, this.info.model, usage);
    if (costMicros === null) this.cost.unpriced = true;
    else this.cost.micros += costMicros;
    if (usage.estimateMethod) t.estimatedUsages += 1;
    this.buffer.push({
      kind: "token_usage",
      id: uuidv7(),
      interceptionId: this.id,
      createdAt: Date.now(),
      costMicros,
      ...usage,
    });
  }

  recordPrompt(prompt: string, providerResponseId: string | null = null): void {
    this.buffer.push({
      kind: "prompt",
      id: uuidv7(),
      interceptionId: this.id,
      providerResponseId,
      prompt,
      createdAt: Date.now(),
    });
  }

  recordToolUsage(tool: ToolUsageInput): void {
    this.totals.toolCalls += 1;
    if (tool.injected) this.totals.injectedToolCalls += 1;
    this.buffer.push({
      kind: "tool_usage",
      id: uuidv7(),
      interceptionId: this.id,
      createdAt: Date.now(),
      ...tool,
    });
  }

  recordThought(content: string, source: string): void {
    if (!content) return;
    this.buffer.push({
      kind: "model_thought",
      id: uuidv7(),
      interceptionId: this.id,
      content,
      source,
      createdAt: Date.now(),
    });
  }

  /**
   * Adds a record to the batch sent with the end record: one queue send per interception rather
   * than one more. For the request work (deferRequestWork), which always runs before the batch is
   * taken, so a record it makes (the cache fingerprint) rides with it however quickly the request
   * ended. A record attached later could not be sent with it: it is logged as lost, never dropped
   * silently.
   */
  attachRecord(record: RecordMessage): void {
    if (this.sealed) {
      log.error("record_after_end_batch", { interception: this.id, kind: record.kind });
      return;
    }
    this.buffer.push(record);
  }

  /** Which instance answered (src/bridge/upstream.ts), and whether it was a fallback. */
  recordUpstream(instance: string, fallback: boolean): void {
    this.upstream = { instance, fallback };
  }

  /** The instance that answered, once one did (a background response is polled there). */
  get upstreamInstance(): string | null {
    return this.upstream.instance;
  }

  /** Ends the interception once; later calls are ignored (the first outcome wins). */
  end(outcome: EndInterception): void {
    if (this.ended) return;
    const ended: InterceptionEnded = {
      kind: "interception_ended",
      ...this.info,
      endedAt: outcome.endedAt ?? Date.now(),
      status: outcome.status,
      stopReason: outcome.stopReason ?? null,
      errorType: outcome.errorType ?? null,
      errorMessage: outcome.errorMessage ? outcome.errorMessage.slice(0, 2000) : null,
      upstreamInstance: this.upstream.instance,
      fallback: this.upstream.fallback,
    };
    // Everything recording does waits until the answer has left: a blocking answer (or a stream's
    // last bytes) reaches the client before the request work, the redaction scan, the queue send,
    // the datapoints and the log line take this isolate's thread (next-task.ts). Scheduled before
    // the interception counts as ended: if the runtime refuses it, a later end() (the API's error
    // handler's) still records the interception.
    this.context.ctx.waitUntil(
      afterResponse().then(async () => {
        await this.runRequestWork();
        this.sealed = true;
        const records = this.buffer.splice(0);
        this.writeEndMetrics(records, ended);
        if (this.context.logInterceptions === "all" || ended.status !== "completed") this.logEnd(ended);
        return this.prepareAndSend([...records, ended]);
      }),
    );
    this.ended = ended;
    if (this.pendingStart) {
      // The end record carries every start field: the start record is not needed any more.
      clearTimeout(this.pendingStart.timer);
      this.pendingStart.release();
      this.pendingStart = null;
    }
    const summary = {
      status: outcome.status,
      costMicros: this.cost.micros,
      unpriced: this.cost.unpriced,
      totals: this.totals,
    };
    for (const listener of this.endListeners) {
      try {
        listener(summary);
      } catch (error) {
        log.error("interception_end_listener_failed", { interception: this.id, error: String(error) });
      }
    }
  }

  /**
   * Ends the interception because the upstream's answer is not JSON. JSON.parse's message quotes
   * the body, and a body may hold secrets: only the error's name is logged and recorded.
   */
  endUnparseable(error: unknown, endedAt?: number): void {
    const errorName = error instanceof Error ? error.name : "unknown";
    log.warn("unparseable_upstream_body", { interception: this.id, error: errorName });
    this.end({
      status: "failed",
      errorType: "unparseable_response",
      errorMessage: `The upstream's body is not valid JSON (${errorName}).`,
      endedAt,
    });
  }

  private overheadMs(): number {
    const t = this.timings;
    return (t.auth ?? 0) + (t.parse ?? 0) + (t.inject ?? 0) + (t.firstByte ?? 0);
  }

  private labels() {
    return {
      provider: this.info.provider,
      model: this.info.model,
      route: this.route,
      method: this.method,
      client: this.info.client,
      initiator: this.info.initiatorId,
    };
  }

  private writeEndMetrics(records: RecordMessage[], ended: InterceptionEnded): void {
    const sink = this.context.env.METRICS;
    const { provider, model, client, initiator } = this.labels();
    const t = this.timings;
    const overhead = this.overheadMs();
    writeMetric(
      sink,
      "interception_end",
      { ...this.labels(), status: ended.status },
      {
        count: 1,
        duration_seconds: (ended.endedAt - this.info.startedAt) / 1000,
        auth_ms: t.auth ?? 0,
        parse_ms: t.parse ?? 0,
        inject_ms: t.inject ?? 0,
        upstream_headers_ms: t.upstreamHeaders ?? 0,
        first_byte_ms: t.firstByte ?? 0,
        overhead_ms: overhead,
        estimated_usages: this.totals.estimatedUsages,
      },
    );
    const tokens: Record<string, number> = {
      input: this.totals.inputTokens,
      output: this.totals.outputTokens,
      cache_read: this.totals.cacheReadInputTokens,
      cache_write: this.totals.cacheWriteInputTokens,
      ...this.totals.extra,
    };
    writeMetric(
      sink,
      "instance_usage",
      {
        instance: this.info.instance ?? "",
        upstream_instance: this.upstream.instance ?? "",
        fallback: String(this.upstream.fallback),
        provider,
        api: this.info.providerName,
        model,
        status: ended.status,
      },
      {
        count: 1,
        input_tokens: this.totals.inputTokens,
        output_tokens: this.totals.outputTokens,
        cache_read_tokens: this.totals.cacheReadInputTokens,
        cache_write_tokens: this.totals.cacheWriteInputTokens,
      },
    );
    for (const [type, count] of Object.entries(tokens)) {
      if (count > 0)
        writeMetric(sink, "tokens", { provider, model, type, initiator, client }, { tokens: count });
    }
    for (const record of records) {
      if (record.kind === "prompt") {
        writeMetric(sink, "prompt", { provider, model, initiator, client }, { count: 1 });
      } else if (record.kind === "tool_usage" && record.injected) {
        const outcome = record.invocationError ? "error" : "ok";
        writeMetric(
          sink,
          "injected_tool",
          { provider, model, server: record.serverUrl ?? "", name: record.tool, outcome },
          { count: 1 },
        );
      } else if (record.kind === "tool_usage") {
        writeMetric(sink, "tool_selection", { provider, model, name: record.tool, client }, { count: 1 });
      }
    }
  }

  private send(records: RecordMessage[]): void {
    this.context.ctx.waitUntil(this.prepareAndSend(records));
  }

  /** Redaction (or the none mode) runs here, in waitUntil, before anything is queued or stored. */
  private prepareAndSend(records: RecordMessage[]): Promise<unknown> {
    return this.guard
      .prepare(records, this.labels())
      .then((safe) => sendRecords(this.context.env, safe))
      .catch((error) => {
        log.error("records_lost", {
          interception: this.id,
          records: records.length,
          error: error instanceof Error ? error.message : String(error),
        });
      });
  }

  /** The interception's one log line (no keys, no prompts): see LOG_INTERCEPTIONS. */
  private logEnd(ended: InterceptionEnded): void {
    log.info("interception", {
      id: this.id,
      user: this.info.initiatorId,
      provider: this.info.provider,
      api: this.info.providerName,
      instance: this.info.instance,
      upstreamInstance: this.upstream.instance,
      fallback: this.upstream.fallback,
      model: this.info.model,
      client: this.info.client,
      streaming: this.info.streaming,
      status: ended.status,
      stopReason: ended.stopReason,
      errorType: ended.errorType,
      durationMs: ended.endedAt - this.info.startedAt,
      tokens: {
        input: this.totals.inputTokens,
        output: this.totals.outputTokens,
        cacheRead: this.totals.cacheReadInputTokens,
        cacheWrite: this.totals.cacheWriteInputTokens,
        estimatedUsages: this.totals.estimatedUsages,
      },
      // The gateway's own time (ms), as in Server-Timing and the interception_end datapoint.
      overhead: { ...this.timings, total: this.overheadMs() },
    });
  }
}

/**
 * A key_used record, at most once per key per minute per isolate: `last_used_at` answers "is this
 * key still in use", and a D1 write per request for it would be most of the writes a busy key makes.
 */
function keyUseRecord(keyId: string, usedAt: number): RecordMessage | null {
  const last = keyUseQueuedAt.get(keyId);
  if (last !== undefined && usedAt - last < KEY_USE_RESOLUTION_MS) return null;
  if (keyUseQueuedAt.size >= 10_000) keyUseQueuedAt.clear(); // bounded memory in a long-lived isolate
  keyUseQueuedAt.set(keyId, usedAt);
  return { kind: "key_used", id: keyId, usedAt };
}

function bounded<T extends string | null>(value: T, max = 256): T {
  return (value === null ? value : value.slice(0, max)) as T;
}
