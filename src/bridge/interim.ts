/**
 * The final answer behind an upstream's interim (1xx) response.
 *
 * HTTP lets a server send any number of 1xx responses (100 Continue, 103 Early Hints) before the
 * final one, and a client must read past them (RFC 9110 §15.2). workerd's fetch does not: it hands
 * back the first 1xx as if it were the answer, with the rest of the connection (the final status
 * line, headers and body, still framed) as its body. Failing there would lose a request the
 * provider has already processed and billed, so the final response is parsed out of that body:
 * interim heads are skipped (at most five, like Go's client), and the body is unframed from its
 * chunked encoding or its content-length, then decompressed as the runtime would have done.
 */

const MAX_INTERIM = 5;
const MAX_HEAD_BYTES = 64 * 1024;
const CRLF = [13, 10];

export class InterimResponseError extends Error {}

/** The final response carried in the body of an interim one. Throws InterimResponseError. */
export async function finalResponseAfterInterim(interim: Response): Promise<Response> {
  if (!interim.body)
    throw new InterimResponseError(`interim status ${interim.status} without a final answer`);
  const source = new ByteSource(interim.body.getReader());
  for (let heads = 0; heads <= MAX_INTERIM; heads++) {
    const head = await source.readUntil(headEnd, MAX_HEAD_BYTES);
    if (!head) throw new InterimResponseError("the connection ended before the final response");
    const { status, headers } = parseHead(new TextDecoder().decode(head));
    if (status >= 100 && status < 200 && status !== 101) continue;
    let body: ReadableStream<Uint8Array> | null = null;
    if (status !== 204 && status !== 304) {
      const encoding = (headers.get("transfer-encoding") ?? "").toLowerCase();
      const length = headers.get("content-length");
      if (encoding.includes("chunked")) body = dechunked(source);
      else if (length !== null && /^\d+$/.test(length)) body = limited(source, Number(length));
      else body = untilEnd(source);
      const coding = (headers.get("content-encoding") ?? "").toLowerCase().trim();
      if (coding === "gzip" || coding === "deflate") {
        body = body.pipeThrough(
          new DecompressionStream(coding) as unknown as TransformStream<Uint8Array, Uint8Array>,
        );
        headers.delete("content-encoding");
      } else if (coding && coding !== "identity") {
        throw new InterimResponseError(`final response after an interim one has content-encoding ${coding}`);
      }
    }
    headers.delete("transfer-encoding");
    headers.delete("content-length");
    return new Response(body, { status, headers });
  }
  throw new InterimResponseError(`more than ${MAX_INTERIM} interim responses`);
}

function parseHead(text: string): { status: number; headers: Headers } {
  const [statusLine = "", ...lines] = text.split("\r\n");
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!match) throw new InterimResponseError("no status line after an interim response");
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return { status: Number(match[1]), headers };
}

/** Index just past the blank line ending a head (\r\n\r\n), or -1. */
function headEnd(bytes: Uint8Array): number {
  for (let i = 3; i < bytes.length; i++) {
    if (bytes[i - 3] === 13 && bytes[i - 2] === 10 && bytes[i - 1] === 13 && bytes[i] === 10) return i + 1;
  }
  return -1;
}

function lineEnd(bytes: Uint8Array): number {
  for (let i = 1; i < bytes.length; i++) if (bytes[i - 1] === CRLF[0] && bytes[i] === CRLF[1]) return i + 1;
  return -1;
}

/** Buffered reads over the interim body: whole heads and lines, or whatever bytes come next. */
class ByteSource {
  private buffer = new Uint8Array(0);
  private done = false;

  constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>) {}

  /** Bytes up to and including where `end` says a unit ends; null if the stream ended first. */
  async readUntil(end: (bytes: Uint8Array) => number, max: number): Promise<Uint8Array | null> {
    for (;;) {
      const at = end(this.buffer);
      if (at >= 0) return this.take(at);
      if (this.buffer.length > max)
        throw new InterimResponseError("oversized framing after an interim response");
      if (!(await this.fill())) return null;
    }
  }

  /** Up to `max` bytes: what is buffered, or the next chunk; null at the end. */
  async some(max: number): Promise<Uint8Array | null> {
    if (this.buffer.length === 0 && !(await this.fill())) return null;
    return this.take(Math.min(max, this.buffer.length));
  }

  cancel(): void {
    this.reader.cancel().catch(() => {});
  }

  private take(count: number): Uint8Array {
    const out = this.buffer.slice(0, count);
    this.buffer = this.buffer.slice(count);
    return out;
  }

  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const { done, value } = await this.reader.read();
    if (done) {
      this.done = true;
      return false;
    }
    const merged = new Uint8Array(this.buffer.length + value.length);
    merged.set(this.buffer);
    merged.set(value, this.buffer.length);
    this.buffer = merged;
    return true;
  }
}

function stream(next: () => Promise<Uint8Array | null>, source: ByteSource): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const bytes = await next();
        if (bytes === null) {
          controller.close();
          source.cancel(); // the connection may stay open (keep-alive): the answer is complete
        } else controller.enqueue(bytes);
      },
      cancel() {
        source.cancel();
      },
    },
    { highWaterMark: 0 },
  );
}

function dechunked(source: ByteSource): ReadableStream<Uint8Array> {
  let remaining = 0;
  let finished = false;
  return stream(async () => {
    if (finished) return null;
    while (remaining === 0) {
      const line = await source.readUntil(lineEnd, 4096);
      if (!line) throw new InterimResponseError("chunked body cut short");
      const size = Number.parseInt(new TextDecoder().decode(line).split(";")[0]?.trim() ?? "", 16);
      if (Number.isNaN(size)) throw new InterimResponseError("bad chunk size");
      if (size === 0) {
        // Trailers (ignored) up to the blank line.
        for (;;) {
          const trailer = await source.readUntil(lineEnd, 16 * 1024);
          if (!trailer || trailer.length === 2) break;
        }
        finished = true;
        return null;
      }
      remaining = size;
    }
    const bytes = await source.some(remaining);
    if (!bytes) throw new InterimResponseError("chunked body cut short");
    remaining -= bytes.length;
    if (remaining === 0 && !(await source.readUntil(lineEnd, 2)))
      throw new InterimResponseError("chunked body cut short");
    return bytes;
  }, source);
}

function limited(source: ByteSource, length: number): ReadableStream<Uint8Array> {
  let remaining = length;
  return stream(async () => {
    if (remaining === 0) return null;
    const bytes = await source.some(remaining);
    if (!bytes) throw new InterimResponseError("body shorter than its content-length");
    remaining -= bytes.length;
    return bytes;
  }, source);
}

function untilEnd(source: ByteSource): ReadableStream<Uint8Array> {
  return stream(() => source.some(64 * 1024), source);
}
