/** Names the client application behind a request, from the headers its SDK or tool always sends. */

const RULES: readonly [RegExp, string][] = [
  [/^claude-cli\//i, "Claude Code"],
  [/claude-code/i, "Claude Code"],
  [/^codex_|codex/i, "Codex"],
  [/cursor/i, "Cursor"],
  [/\bzed\//i, "Zed"],
  [/copilot/i, "GitHub Copilot"],
  [/kilo-?code/i, "Kilo Code"],
  [/roo-?code/i, "Roo Code"],
  [/cline/i, "Cline"],
  [/^Anthropic\/JS/i, "Anthropic SDK (JS)"],
  [/^Anthropic\/Python/i, "Anthropic SDK (Python)"],
  [/^OpenAI\/JS/i, "OpenAI SDK (JS)"],
  [/^OpenAI\/Python/i, "OpenAI SDK (Python)"],
  [/^curl\//i, "curl"],
];

export function detectClient(headers: Headers): string {
  if (headers.get("x-claude-code-session-id") || headers.get("x-app") === "cli") return "Claude Code";
  const originator = headers.get("originator");
  if (originator?.startsWith("codex")) return "Codex";
  const userAgent = headers.get("user-agent") ?? "";
  for (const [pattern, name] of RULES) if (pattern.test(userAgent)) return name;
  return "Unknown";
}
