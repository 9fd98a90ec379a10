/**
 * AWS event stream framing (`application/vnd.amazon.eventstream`), decoded incrementally: bytes go
 * in as the network delivers them (a chunk may end anywhere, even inside the 12-byte prelude) and
 * whole, CRC-checked messages come out. The format, from AWS's documentation:
 *
 *   total length (u32 BE) · headers length (u32 BE) · prelude CRC32 (of the 8 bytes before)
 *   headers: name length (u8) · name (UTF-8) · value type (u8) · value
 *   payload · message CRC32 (of everything before it)
 *
 * Written here rather than taken from @smithy/eventstream-codec: that codec is built around async
 * iterables and several @smithy/@aws-crypto packages, while the relay needs a push decoder that
 * costs nothing per chunk; the framing itself is these few lines.
 */

export type HeaderValue = string | number | boolean | bigint | Uint8Array;

export interface EventMessage {
  headers: Record<string, HeaderValue>;
  payload: Uint8Array;
}

export class EventStreamError extends Error {
  constructor(message: string) {
    super(`Bedrock event stream: ${message}`);
    this.name = "EventStreamError";
  }
}

const PRELUDE = 12;
const MIN_MESSAGE = 16;
// AWS caps an event message far below this; a bigger length means corrupt framing, not a message.
const MAX_MESSAGE = 24 * 1024 * 1024;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE, the one gzip uses), as the event stream's checksums are. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++)
    crc = (CRC_TABLE[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

export class EventStreamDecoder {
  private buffer: Uint8Array = new Uint8Array(0);

  /** Adds bytes; returns every message they complete (throws EventStreamError on corrupt framing). */
  push(chunk: Uint8Array): EventMessage[] {
    this.buffer = this.buffer.byteLength === 0 ? chunk : concat(this.buffer, chunk);
    const messages: EventMessage[] = [];
    let offset = 0;
    for (;;) {
      const available = this.buffer.byteLength - offset;
      if (available < PRELUDE) break;
      const view = new DataView(this.buffer.buffer, this.buffer.byteOffset + offset, PRELUDE);
      const total = view.getUint32(0);
      const headersLength = view.getUint32(4);
      if (crc32(this.buffer, offset, offset + 8) !== view.getUint32(8)) {
        throw new EventStreamError("prelude CRC mismatch");
      }
      if (total < MIN_MESSAGE || total > MAX_MESSAGE || headersLength > total - MIN_MESSAGE) {
        throw new EventStreamError(`impossible message length ${total}`);
      }
      if (available < total) break;
      const message = this.buffer.subarray(offset, offset + total);
      const expected = new DataView(message.buffer, message.byteOffset + total - 4, 4).getUint32(0);
      if (crc32(message, 0, total - 4) !== expected) throw new EventStreamError("message CRC mismatch");
      messages.push({
        headers: decodeHeaders(message.subarray(PRELUDE, PRELUDE + headersLength)),
        payload: message.slice(PRELUDE + headersLength, total - 4),
      });
      offset += total;
    }
    this.buffer = offset === 0 ? this.buffer : this.buffer.slice(offset);
    return messages;
  }

  /** Bytes of an unfinished message still waiting (non-zero at the end = a truncated stream). */
  get pending(): number {
    return this.buffer.byteLength;
  }
}

function decodeHeaders(bytes: Uint8Array): Record<string, HeaderValue> {
  const headers: Record<string, HeaderValue> = {};
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let i = 0;
  const need = (n: number) => {
    if (i + n > bytes.byteLength) throw new EventStreamError("header runs past its section");
  };
  while (i < bytes.byteLength) {
    need(1);
    const nameLength = view.getUint8(i);
    i += 1;
    need(nameLength + 1);
    const name = utf8.decode(bytes.subarray(i, i + nameLength));
    i += nameLength;
    const type = view.getUint8(i);
    i += 1;
    let value: HeaderValue;
    switch (type) {
      case 0:
      case 1:
        value = type === 0;
        break;
      case 2:
        need(1);
        value = view.getInt8(i);
        i += 1;
        break;
      case 3:
        need(2);
        value = view.getInt16(i);
        i += 2;
        break;
      case 4:
        need(4);
        value = view.getInt32(i);
        i += 4;
        break;
      case 5:
      case 8:
        need(8);
        value = view.getBigInt64(i);
        i += 8;
        break;
      case 6:
      case 7: {
        need(2);
        const length = view.getUint16(i);
        i += 2;
        need(length);
        const raw = bytes.subarray(i, i + length);
        value = type === 7 ? utf8.decode(raw) : raw.slice();
        i += length;
        break;
      }
      case 9:
        need(16);
        value = bytes.slice(i, i + 16);
        i += 16;
        break;
      default:
        throw new EventStreamError(`unknown header value type ${type}`);
    }
    headers[name] = value;
  }
  return headers;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}
