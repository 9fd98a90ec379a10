/**
 * Claude Code- and Codex-shaped sessions replayed through the gateway against the fake upstreams'
 * simulated prompt cache (test/fakes/prompt-cache.ts). The Claude Code shape follows the recorded
 * one (CLIENTS.md, bench/fixtures/claude-code-body.mjs): three system text blocks (the last two with
 * cache_control), 25 tools, metadata.user_id as a JSON string with the session id, and a history
 * whose last block carries the moving message breakpoint.
 */
import { SELF } from "cloudflare:test";
import { GATEWAY } from "./helpers";

type Json = Record<string, unknown>;

const WORDS =
  "the function returns a promise that resolves when the stream ends and every chunk was written to the client; " +
  "errors are reported once, with the request id, and the caller decides whether to retry. ";

export function prose(length: number, seed = 0): string {
  let out = "";
  for (let i = seed; out.length < length; i += 7) out += WORDS.slice(i % 40) + WORDS.slice(0, i % 40);
  return out.slice(0, length);
}

const TOOL_NAMES = [
  "Task",
  "Bash",
  "Glob",
  "Grep",
  "ExitPlanMode",
  "Read",
  "Edit",
  "Write",
  "NotebookEdit",
  "WebFetch",
  "TodoWrite",
  "WebSearch",
  "BashOutput",
  "KillShell",
  "SlashCommand",
  "MultiEdit",
  "LS",
  "AskUserQuestion",
  "Skill",
  "EnterPlanMode",
  "ListMcpResources",
  "ReadMcpResource",
  "NotebookRead",
  "TaskOutput",
  "Agent",
];

export function claudeCodeTools(): Json[] {
  return TOOL_NAMES.map((name, i) => ({
    name,
    description: prose(500 + ((i * 577) % 900), i),
    input_schema: {
      type: "object",
      properties: { arg: { type: "string", description: prose(120, i) } },
      required: ["arg"],
      additionalProperties: false,
      $schema: "http://json-schema.org/draft-07/schema#",
    },
  }));
}

export interface TurnOptions {
  model?: string;
  /** TTL the breakpoints ask for (default: none, i.e. 5 minutes). */
  ttl?: "1h";
}

export class ClaudeCodeSession {
  readonly sessionId = crypto.randomUUID();
  model = "claude-sonnet-4-5-20250929";
  tools = claudeCodeTools();
  environment = "Today's date is 2026-11-30.";
  readonly history: Json[] = [];
  readonly interceptions: string[] = [];

  constructor(
    private readonly key: string,
    private readonly ttl?: "1h",
    /** Extra request headers (e.g. another fake's scenario). */
    private readonly headers: Record<string, string> = {},
  ) {}

  system(): Json[] {
    const cc = this.cacheControl();
    return [
      // The first block differs per session here only so tests never share cache entries.
      {
        type: "text",
        text: `x-anthropic-billing-header: cc_version=2.0.50; cc_entrypoint=cli; test=${this.sessionId}`,
      },
      { type: "text", text: "You are Claude Code, Anthropic's official CLI for Claude.", cache_control: cc },
      { type: "text", text: `${prose(9000, 3)}\n${this.environment}`, cache_control: cc },
    ];
  }

  private cacheControl(): Json {
    return this.ttl ? { type: "ephemeral", ttl: this.ttl } : { type: "ephemeral" };
  }

  /** The body Claude Code would send now: the breakpoint on the last block of the last message. */
  body(options: TurnOptions = {}): string {
    const messages = structuredClone(this.history);
    const last = messages.at(-1) as { content: Json[] };
    (last.content.at(-1) as Json).cache_control = this.cacheControl();
    return JSON.stringify({
      model: options.model ?? this.model,
      max_tokens: 64000,
      stream: true,
      system: this.system(),
      tools: this.tools,
      messages,
      metadata: {
        user_id: JSON.stringify({
          device_id: "d".repeat(64),
          account_uuid: "acct-1",
          session_id: this.sessionId,
        }),
      },
      thinking: { type: "enabled", budget_tokens: 31999 },
    });
  }

  /** A side request in the same session (Claude Code's titles and summaries): Haiku, no tools, its own prompt. */
  async sideRequest(): Promise<string> {
    const response = await SELF.fetch(`${GATEWAY}/anthropic/v1/messages?beta=true`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-api-key": this.key,
        "anthropic-version": "2023-06-01",
        "x-claude-code-session-id": this.sessionId,
        "x-fake-scenario": "prompt-cache",
        "x-fake-clock": this.sessionId,
      },
      body: JSON.stringify({
        model: "claude-haiku-4-5-20251001",
        max_tokens: 512,
        system: [{ type: "text", text: "Summarize this coding conversation in under 50 characters." }],
        messages: [{ role: "user", content: `Write a title for: ${prose(4000, 9)}` }],
      }),
    });
    if (response.status !== 200) throw new Error(`side request failed: ${response.status}`);
    await response.text();
    const id = response.headers.get("x-aibridge-interception-id") as string;
    this.interceptions.push(id);
    return id;
  }

  /** One user turn: a prompt with a file's contents, the request, then the assistant's answer in the history. */
  async turn(prompt: string, options: TurnOptions = {}): Promise<string> {
    const n = this.history.length;
    this.history.push({
      role: "user",
      content: [
        { type: "text", text: `<system-reminder>${prose(1500 + n * 10, n)}</system-reminder>` },
        { type: "text", text: prompt },
      ],
    });
    const response = await SELF.fetch(`${GATEWAY}/anthropic/v1/messages?beta=true`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-api-key": this.key,
        "anthropic-version": "2023-06-01",
        "x-claude-code-session-id": this.sessionId,
        "user-agent": "claude-cli/2.0.50 (external, sdk-cli)",
        "x-fake-scenario": "prompt-cache",
        // The fake's cache and clock for this session alone (see test/fakes/prompt-cache.ts).
        "x-fake-clock": this.sessionId,
        ...this.headers,
      },
      body: this.body(options),
    });
    if (response.status !== 200) throw new Error(`turn failed: ${response.status} ${await response.text()}`);
    await response.text();
    this.history.push({ role: "assistant", content: [{ type: "text", text: "Cached answer." }] });
    const id = response.headers.get("x-aibridge-interception-id") as string;
    this.interceptions.push(id);
    return id;
  }
}

/** A Codex CLI session on the Responses API: instructions, developer + user input items, tools incl. namespace. */
export class CodexSession {
  readonly sessionId = crypto.randomUUID();
  model = "gpt-5-codex";
  instructions = `You are Codex, based on GPT-5. ${prose(6000, 5)}`;
  readonly input: Json[];
  readonly interceptions: string[] = [];

  constructor(private readonly key: string) {
    this.input = [
      {
        type: "message",
        role: "developer",
        content: [
          { type: "input_text", text: `<permissions>${prose(2000, 2)} ${this.sessionId}</permissions>` },
        ],
      },
      {
        type: "message",
        role: "user",
        content: [
          { type: "input_text", text: `<environment_context>${prose(800, 4)}</environment_context>` },
        ],
      },
    ];
  }

  tools(): Json[] {
    return [
      {
        type: "function",
        name: "shell",
        description: prose(1500, 1),
        strict: false,
        parameters: {
          type: "object",
          properties: { command: { type: "array", items: { type: "string" } } },
          required: ["command"],
        },
      },
      {
        type: "function",
        name: "apply_patch",
        description: prose(2500, 2),
        strict: false,
        parameters: { type: "object", properties: { input: { type: "string" } }, required: ["input"] },
      },
      {
        type: "namespace",
        name: "mcp__docs",
        tools: [{ type: "function", name: "search", parameters: { type: "object", properties: {} } }],
      },
      { type: "web_search" },
    ];
  }

  async turn(prompt: string): Promise<string> {
    const n = this.input.length;
    this.input.push({ type: "message", role: "user", content: [{ type: "input_text", text: prompt }] });
    const response = await SELF.fetch(`${GATEWAY}/openai/v1/responses`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${this.key}`,
        accept: "text/event-stream",
        originator: "codex_exec",
        "session-id": this.sessionId,
        "x-fake-scenario": "prompt-cache",
        "x-fake-clock": this.sessionId,
      },
      body: JSON.stringify({
        model: this.model,
        instructions: this.instructions,
        input: this.input,
        tools: this.tools(),
        tool_choice: "auto",
        parallel_tool_calls: false,
        reasoning: { effort: "medium", summary: "auto" },
        store: false,
        stream: true,
        include: ["reasoning.encrypted_content"],
        prompt_cache_key: this.sessionId,
      }),
    });
    if (response.status !== 200) throw new Error(`turn failed: ${response.status} ${await response.text()}`);
    await response.text();
    const call = `call_${n}`;
    this.input.push(
      {
        type: "function_call",
        name: "shell",
        arguments: JSON.stringify({ command: ["ls", `dir${n}`] }),
        call_id: call,
      },
      { type: "function_call_output", call_id: call, output: prose(3000, n) },
    );
    const id = response.headers.get("x-aibridge-interception-id") as string;
    this.interceptions.push(id);
    return id;
  }
}

/** Moves a session's clock at the fake upstream (its prompt-cache TTLs) forward. */
export async function advanceUpstreamClock(baseUrl: string, sessionId: string, ms: number): Promise<void> {
  const response = await fetch(`${baseUrl}/__fake/clock`, {
    method: "POST",
    headers: { "x-fake-clock": sessionId },
    body: JSON.stringify({ advance_ms: ms }),
  });
  if (!response.ok) throw new Error(`clock: ${response.status}`);
}

/** Evicts a session's prompt cache at the fake upstream (capacity pressure nobody can see). */
export async function evictUpstreamCache(baseUrl: string, sessionId: string): Promise<void> {
  const response = await fetch(`${baseUrl}/__fake/prompt-cache`, {
    method: "DELETE",
    headers: { "x-fake-clock": sessionId },
  });
  if (!response.ok) throw new Error(`evict: ${response.status}`);
}
