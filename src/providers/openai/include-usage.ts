/**
 * Chat Completions streams carry usage only when `stream_options.include_usage` is true. When a
 * client streams without it, the gateway turns it on upstream (changing only those bytes of the
 * body) and takes back out of the stream what that added, so the client sees exactly the stream a
 * direct call would have given: the final usage-only chunk (`"choices":[]`) and the
 * `"usage":null` member OpenAI then adds to every other chunk.
 */
import type { StreamRewriter } from "../../bridge/adapter";
import { type JsonObjectText, lastMember, objectMembers } from "./json-text";

const encoder = new TextEncoder();

/** New body bytes asking for usage, or null when nothing must change. */
export function withIncludeUsage(json: Record<string, unknown>, bytes: Uint8Array): Uint8Array | null {
  if (json.stream !== true) return null;
  const options = json.stream_options;
  if (options !== undefined && options !== null && (typeof options !== "object" || Array.isArray(options))) {
    return null; // invalid as sent: let the provider answer it exactly as it would a direct call
  }
  if ((options as { include_usage?: unknown } | null | undefined)?.include_usage === true) return null;

  // ignoreBOM keeps a leading BOM as a character, so encoding the text again gives the same bytes.
  const text = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true }).decode(bytes);
  const root = objectMembers(text, text.indexOf("{"));
  const existing = lastMember(root, "stream_options");
  let spliced: string;
  if (!existing) {
    spliced = insert(
      text,
      root.close,
      `${root.members.length > 0 ? "," : ""}"stream_options":{"include_usage":true}`,
    );
  } else if (options === null || options === undefined) {
    spliced = replace(text, existing.valueStart, existing.valueEnd, '{"include_usage":true}');
  } else {
    const inner: JsonObjectText = objectMembers(text, existing.valueStart);
    const flag = lastMember(inner, "include_usage");
    spliced = flag
      ? replace(text, flag.valueStart, flag.valueEnd, "true")
      : insert(text, inner.close, `${inner.members.length > 0 ? "," : ""}"include_usage":true`);
  }
  return encoder.encode(spliced);
}

function insert(text: string, at: number, value: string): string {
  return text.slice(0, at) + value + text.slice(at);
}

function replace(text: string, start: number, end: number, value: string): string {
  return text.slice(0, start) + value + text.slice(end);
}

/**
 * Removes what include_usage added, event by event. Bytes are held back only until the event they
 * belong to is complete (a network chunk can end anywhere); everything but the removed parts passes
 * through unchanged, including line endings, comments and `[DONE]`.
 */
export class UsageChunkRemover implements StreamRewriter {
  private readonly decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
  private pending = "";

  clientBytes(chunk: Uint8Array): string | null {
    this.pending += this.decoder.decode(chunk, { stream: true });
    const end = lastEventEnd(this.pending);
    if (end < 0) return null;
    const complete = this.pending.slice(0, end);
    this.pending = this.pending.slice(end);
    return rewriteEvents(complete);
  }

  clientTail(): string | null {
    const rest = this.pending + this.decoder.decode();
    this.pending = "";
    return rest ? rewriteEvents(rest) : null;
  }
}

/** Index just past the last blank line (two line ends in a row) in `text`, or -1. */
function lastEventEnd(text: string): number {
  // A trailing \r may be the first half of \r\n: wait for the next byte before cutting there.
  const searchable = text.endsWith("\r") ? text.slice(0, -1) : text;
  let end = -1;
  for (const match of searchable.matchAll(/(?:\r\n|\r(?!\n)|\n)(?:\r\n|\r(?!\n)|\n)/g))
    end = match.index + match[0].length;
  return end;
}

function rewriteEvents(text: string): string {
  // split with a capture group keeps the separators: line, end, line, end, …, last line
  const parts = text.split(/(\r\n|\r|\n)/);
  let out = "";
  let event = "";
  let drop = false;
  for (let i = 0; i < parts.length; i += 2) {
    const line = parts[i] ?? "";
    const lineEnd = parts[i + 1] ?? "";
    if (line.startsWith("data:")) {
      const rewritten = rewriteData(line);
      if (rewritten === null) drop = true;
      else event += rewritten + lineEnd;
    } else {
      event += line + lineEnd;
    }
    if (line === "" && lineEnd !== "") {
      if (!drop) out += event;
      event = "";
      drop = false;
    }
  }
  return drop ? out : out + event;
}

/** The data line without `"usage":null`, or null for the usage-only chunk. */
function rewriteData(line: string): string | null {
  const open = line.indexOf("{");
  if (open < 0) return line;
  let chunk: { choices?: unknown; usage?: unknown };
  try {
    chunk = JSON.parse(line.slice(5));
  } catch {
    return line;
  }
  if (Array.isArray(chunk.choices) && chunk.choices.length === 0 && chunk.usage) return null;
  if (chunk.usage !== null) return line;
  const object = objectMembers(line, open);
  const index = object.members.findIndex((member) => member.key === "usage");
  const member = object.members[index];
  if (!member || line.slice(member.valueStart, member.valueEnd) !== "null") return line;
  const previous = object.members[index - 1];
  const next = object.members[index + 1];
  // Take the comma that joined it to a neighbour, so what remains is what OpenAI sends without it.
  if (previous) return line.slice(0, previous.valueEnd) + line.slice(member.valueEnd);
  if (next) return line.slice(0, member.start) + line.slice(next.start);
  return line.slice(0, member.start) + line.slice(member.valueEnd);
}
