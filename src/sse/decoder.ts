/**
 * Incremental SSE decoding for the copy of a stream the gateway reads. Bytes may be split anywhere
 * (inside a UTF-8 character too): TextDecoder in stream mode carries partial characters over, and
 * eventsource-parser carries partial lines and events over (it handles \n, \r\n and \r line ends,
 * comments and multi-line data).
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";

export interface SseEvent {
  /** The `event:` field, if any. */
  event: string | undefined;
  data: string;
}

export interface SseDecoder {
  push(chunk: Uint8Array): void;
  /** Flushes a final event that had no trailing blank line. */
  end(): void;
}

export function createSseDecoder(onEvent: (event: SseEvent) => void): SseDecoder {
  const text = new TextDecoder("utf-8");
  // The parser's own message object is an SseEvent (event, data, and an id no one reads): handed
  // over as it is rather than copied, one allocation less per event.
  const parser = createParser({ onEvent: onEvent as (message: EventSourceMessage) => void });
  return {
    push(chunk) {
      parser.feed(text.decode(chunk, { stream: true }));
    },
    end() {
      const rest = text.decode();
      // A blank line terminates any event still pending in the parser.
      parser.feed(`${rest}\n\n`);
    },
  };
}

/** Encodes one event the way providers do: optional `event:` line, `data:` line(s), blank line. */
export function encodeSseEvent(event: SseEvent): string {
  const head = event.event ? `event: ${event.event}\n` : "";
  const data = event.data
    .split(/\r\n|\r|\n/)
    .map((line) => `data: ${line}\n`)
    .join("");
  return `${head}${data}\n`;
}
