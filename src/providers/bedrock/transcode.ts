/**
 * Bedrock's InvokeModelWithResponseStream answer → the Anthropic SSE stream clients expect. Each
 * `chunk` event carries `{"bytes": "<base64 of one Anthropic event JSON>"}`; it becomes
 * `event: <type>\ndata: <json>\n\n`, the same transcoding @anthropic-ai/bedrock-sdk does on the
 * client side. Exception frames become an Anthropic `error` event and end the stream.
 *
 * A pull-based stream (like the relay): one upstream read per pull, so backpressure holds and a
 * client disconnect, which cancels the relay's reader, cancels the upstream too.
 */

import { exceptionEvent } from "./errors";
import { type EventMessage, EventStreamDecoder, EventStreamError } from "./eventstream";

const encoder = new TextEncoder();
const utf8 = new TextDecoder();

export function transcodeEventStream(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const decoder = new EventStreamDecoder();
  let ended = false;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          if (ended) return;
          const { done, value } = await reader.read();
          if (done) {
            ended = true;
            if (decoder.pending > 0) {
              controller.error(
                new EventStreamError(`stream ended inside a message (${decoder.pending} bytes)`),
              );
            } else {
              controller.close();
            }
            return;
          }
          let out = "";
          try {
            for (const message of decoder.push(value)) {
              const text = sseFor(message);
              out += text.sse;
              if (text.final) {
                ended = true;
                break;
              }
            }
          } catch (error) {
            ended = true;
            reader.cancel().catch(() => {});
            controller.error(error);
            return;
          }
          if (out) controller.enqueue(encoder.encode(out));
          if (ended) {
            reader.cancel().catch(() => {});
            controller.close();
            return;
          }
          if (out) return;
        }
      },
      cancel(reason) {
        ended = true;
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

function sseFor(message: EventMessage): { sse: string; final: boolean } {
  const messageType = message.headers[":message-type"];
  if (messageType === "exception") {
    const type = String(message.headers[":exception-type"] ?? "internalServerException");
    return { sse: exceptionEvent(type, payloadMessage(message.payload)), final: true };
  }
  if (messageType === "error") {
    const code = String(message.headers[":error-code"] ?? "InternalServerException");
    const text = String(message.headers[":error-message"] ?? "");
    return { sse: exceptionEvent(code, text), final: true };
  }
  if (message.headers[":event-type"] !== "chunk") return { sse: "", final: false };
  let part: { bytes?: unknown };
  try {
    part = JSON.parse(utf8.decode(message.payload));
  } catch {
    throw new EventStreamError("a chunk payload is not JSON");
  }
  if (typeof part.bytes !== "string") return { sse: "", final: false };
  const json = decodeBase64Utf8(part.bytes);
  let event: { type?: unknown };
  try {
    event = JSON.parse(json);
  } catch {
    throw new EventStreamError("a chunk does not hold a JSON event");
  }
  // Events without a type (keep-alives) have no SSE name: dropped, as the official SDK does.
  if (!event || typeof event.type !== "string") return { sse: "", final: false };
  // SSE data must be one line; Bedrock's JSON is, but re-serialize if it ever is not.
  const data = /[\r\n]/.test(json) ? JSON.stringify(event) : json;
  return { sse: `event: ${event.type}\ndata: ${data}\n\n`, final: false };
}

function payloadMessage(payload: Uint8Array): string {
  try {
    const parsed = JSON.parse(utf8.decode(payload)) as { message?: unknown };
    return String(parsed.message ?? "");
  } catch {
    return "";
  }
}

function decodeBase64Utf8(value: string): string {
  const binary = atob(value);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return utf8.decode(bytes);
}
