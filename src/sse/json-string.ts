/**
 * Reading one JSON string value out of an event's data without JSON.parse. Streams are mostly
 * deltas whose only use is their text (appended to a thought or a tool input, or counted for an
 * estimate); parsing each whole event costs about a microsecond, slicing the string out costs a
 * native indexOf. The callers check the surrounding shape exactly and fall back to JSON.parse for
 * anything else, so the result is always what JSON.parse would have given.
 */

/**
 * Index of the quote that closes the JSON string whose content starts at `from` (just after its
 * opening quote), or -1. A quote preceded by an odd number of backslashes is escaped.
 */
export function jsonStringEnd(text: string, from: number): number {
  let quote = text.indexOf('"', from);
  while (quote >= 0) {
    let backslashes = 0;
    for (let i = quote - 1; i >= from && text.charCodeAt(i) === 92; i--) backslashes++;
    if ((backslashes & 1) === 0) return quote;
    quote = text.indexOf('"', quote + 1);
  }
  return -1;
}

/**
 * The decoded value of the JSON string between `from` and its closing quote at `end`: the text
 * itself when it has no escapes (a JSON string without a backslash is its own value), else
 * JSON.parse of that literal alone. Undefined for an invalid escape.
 */
export function jsonStringValue(text: string, from: number, end: number): string | undefined {
  const raw = text.slice(from, end);
  if (raw.indexOf("\\") < 0) return raw;
  try {
    return JSON.parse(text.slice(from - 1, end + 1)) as string;
  } catch {
    return undefined;
  }
}

/**
 * Reads a non-negative integer written at `from`: [value, index after its digits], or null when
 * there is none (or it is implausibly long).
 */
export function jsonIntegerAt(text: string, from: number): [number, number] | null {
  let value = 0;
  let i = from;
  for (let c = text.charCodeAt(i); c >= 48 && c <= 57; c = text.charCodeAt(++i)) value = value * 10 + c - 48;
  return i === from || i - from > 9 ? null : [value, i];
}
