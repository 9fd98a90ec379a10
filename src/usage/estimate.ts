/**
 * Token estimates for the one case where the provider's own count never arrives: a stream that
 * ends before its final usage event (the upstream cut it, or the client left and the disconnect
 * drain hit its bound). Recording nothing, or the `message_start` placeholder (1 output token),
 * would under-count what the provider bills; an estimate is recorded instead, through the same
 * token-usage record as a real count, marked `estimated` with the method used.
 *
 * Method: characters / 4. No well-kept tokenizer fits: Anthropic publishes none for Claude 3 and
 * later (its count_tokens endpoint is the tokenizer), and OpenAI's o200k_base ranks would add
 * megabytes to a Worker bundle (limit 3 MB free / 10 MB paid, compressed) to sharpen a number that
 * is only ever a fallback. Where the provider did say something exact (Anthropic's message_start
 * carries the real input and cache counts) that part is kept and only the output is estimated.
 * The error on the test fakes' streams is reported in docs/security.md.
 */

export const CHARS_PER_TOKEN = 4;

/** Input and cache counts from message_start (exact); output from the streamed deltas. */
export const METHOD_START_AND_DELTAS = "message_start+chars/4";
/** Input from the request's text, output from the streamed deltas, both at CHARS_PER_TOKEN. */
export const METHOD_REQUEST_AND_DELTAS = "request_chars/4+chars/4";

export function tokensFromChars(chars: number): number {
  return Number.isFinite(chars) ? Math.ceil(Math.max(0, chars) / CHARS_PER_TOKEN) : 0;
}

/**
 * The usage to record when the provider's own never arrived and nothing exact was seen: input from
 * the request's text, output from the streamed deltas, marked as estimated.
 */
export function requestAndDeltasEstimate(
  requestChars: number,
  providerResponseId: string | null,
  outputChars: number,
) {
  return {
    providerResponseId,
    inputTokens: tokensFromChars(requestChars),
    outputTokens: tokensFromChars(outputChars),
    cacheReadInputTokens: 0,
    cacheWriteInputTokens: 0,
    extraTokenTypes: null,
    rawUsage: null,
    estimateMethod: METHOD_REQUEST_AND_DELTAS,
  };
}

/**
 * Keys whose string values are not text the model reads as tokens at ~4 characters each: ids and
 * names of the request's shape, base64 media and opaque (encrypted, signed) blobs.
 */
const NOT_TEXT = new Set([
  "model",
  "type",
  "role",
  "id",
  "data",
  "image_url",
  "file_data",
  "url",
  "signature",
  "encrypted_content",
  "previous_response_id",
  "prompt_cache_key",
  "tool_choice",
  "media_type",
]);

/** Characters of text in a request body (messages, system, tools, instructions), for an estimate. */
export function requestTextChars(json: unknown): number {
  let chars = 0;
  const walk = (value: unknown, depth: number): void => {
    if (depth > 64) return;
    if (typeof value === "string") chars += value.length;
    else if (Array.isArray(value)) for (const item of value) walk(item, depth + 1);
    else if (value && typeof value === "object") {
      for (const [key, item] of Object.entries(value)) if (!NOT_TEXT.has(key)) walk(item, depth + 1);
    }
  };
  walk(json, 0);
  return chars;
}

/**
 * Length of the JSON string value of `"key":"…"` in an event's data, read without JSON.parse (text
 * deltas are the bulk of a stream and are otherwise skipped unparsed). Escapes count as written
 * (`\n` as 2), which over-counts slightly; it is an estimate.
 */
export function jsonStringFieldLength(data: string, key: string): number {
  const marker = `"${key}":"`;
  const start = data.indexOf(marker);
  if (start < 0) return 0;
  let i = start + marker.length;
  const from = i;
  while (i < data.length) {
    const ch = data.charCodeAt(i);
    if (ch === 92 /* \ */) i += 2;
    else if (ch === 34 /* " */) return i - from;
    else i += 1;
  }
  return 0;
}
