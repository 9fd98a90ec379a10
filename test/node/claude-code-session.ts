/**
 * A Claude Code-shaped conversation sent over real HTTP to a `wrangler dev` gateway whose Anthropic
 * upstream is the fake with simulated prompt caching (test/fakes/prompt-cache.ts), so the cache
 * numbers the dashboard shows come from the prefix the fake saw. The shape is the one
 * test/worker/cache-sessions.ts replays in-process (three system blocks, the last two with
 * cache_control; a tool list; metadata.user_id carrying the session id; the moving message
 * breakpoint), smaller, since the browser test only needs a few turns.
 */
type Json = Record<string, unknown>;

const WORDS =
  "the function returns a promise that resolves when the stream ends and every chunk was written to the client; " +
  "errors are reported once, with the request id, and the caller decides whether to retry. ";

function prose(length: number, seed: number): string {
  let out = "";
  for (let i = seed; out.length < length; i += 7) out += WORDS.slice(i % 40) + WORDS.slice(0, i % 40);
  return out.slice(0, length);
}

const TOOL_NAMES = ["Task", "Bash", "Glob", "Grep", "Read", "Edit", "Write", "WebFetch", "TodoWrite", "LS"];

export class ClaudeCodeTurns {
  model = "claude-sonnet-4-5-20250929";
  tools: Json[] = TOOL_NAMES.map((name, i) => ({
    name,
    description: prose(600 + i * 40, i),
    input_schema: { type: "object", properties: { arg: { type: "string" } }, required: ["arg"] },
  }));
  environment = "Today's date is 2026-11-30.";
  readonly history: Json[] = [];
  readonly interceptions: string[] = [];

  constructor(
    private readonly gateway: string,
    private readonly key: string,
    readonly sessionId: string,
  ) {}

  private body(): string {
    const cc = { type: "ephemeral" };
    const messages = structuredClone(this.history);
    const last = messages.at(-1) as { content: Json[] };
    (last.content.at(-1) as Json).cache_control = cc;
    return JSON.stringify({
      model: this.model,
      max_tokens: 32000,
      stream: true,
      system: [
        { type: "text", text: `x-anthropic-billing-header: cc_version=2.0.50; test=${this.sessionId}` },
        {
          type: "text",
          text: "You are Claude Code, Anthropic's official CLI for Claude.",
          cache_control: cc,
        },
        { type: "text", text: `${prose(6000, 3)}\n${this.environment}`, cache_control: cc },
      ],
      tools: this.tools,
      messages,
      metadata: {
        user_id: JSON.stringify({
          device_id: "d".repeat(64),
          account_uuid: "acct-1",
          session_id: this.sessionId,
        }),
      },
    });
  }

  /** One user turn (a file's contents and the prompt), then the answer goes into the history. */
  async turn(prompt: string): Promise<string> {
    const n = this.history.length;
    this.history.push({
      role: "user",
      content: [
        { type: "text", text: `<system-reminder>${prose(1200 + n * 10, n)}</system-reminder>` },
        { type: "text", text: prompt },
      ],
    });
    const response = await fetch(`${this.gateway}/anthropic/v1/messages?beta=true`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-api-key": this.key,
        "anthropic-version": "2023-06-01",
        "x-claude-code-session-id": this.sessionId,
        "user-agent": "claude-cli/2.0.50 (external, sdk-cli)",
        "x-fake-scenario": "prompt-cache",
        "x-fake-clock": this.sessionId,
      },
      body: this.body(),
    });
    if (response.status !== 200) throw new Error(`turn failed: ${response.status} ${await response.text()}`);
    await response.text();
    this.history.push({ role: "assistant", content: [{ type: "text", text: "Cached answer." }] });
    const id = response.headers.get("x-aibridge-interception-id") ?? "";
    this.interceptions.push(id);
    return id;
  }
}
