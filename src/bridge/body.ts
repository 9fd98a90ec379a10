/**
 * Reads a bridged request body once: the exact bytes (sent upstream untouched) and the parsed JSON
 * (read, never re-serialized). Every way a body can be unusable gets a message for a 400.
 */

export interface ParsedBody {
  bytes: Uint8Array;
  /** The same bytes decoded (kept so a rewrite, e.g. tool injection, need not decode them again). */
  text: string;
  json: Record<string, unknown>;
  model: string;
}

export type BodyResult = { ok: true; body: ParsedBody } | { ok: false; message: string };

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

export async function readJsonBody(request: Request): Promise<BodyResult> {
  const contentType = request.headers.get("content-type") ?? "";
  if (contentType && !/^application\/(?:[\w.+-]+\+)?json\b/i.test(contentType)) {
    return {
      ok: false,
      message: `Unsupported content-type "${contentType.slice(0, 100)}": send application/json.`,
    };
  }
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (bytes.byteLength === 0) return { ok: false, message: "The request body is empty: send a JSON object." };
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return { ok: false, message: "The request body is not valid UTF-8." };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : "parse error";
    return { ok: false, message: `The request body is not valid JSON: ${detail.slice(0, 200)}` };
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    return { ok: false, message: "The request body must be a JSON object." };
  }
  const model = (json as Record<string, unknown>).model;
  if (typeof model !== "string" || model === "") {
    return { ok: false, message: "model: a non-empty string is required." };
  }
  return { ok: true, body: { bytes, text, json: json as Record<string, unknown>, model } };
}
