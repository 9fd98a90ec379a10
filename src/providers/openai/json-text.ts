/**
 * Finding members of a JSON object inside its text, so the gateway can change one value without
 * re-serializing the rest: a re-serialized body loses key order, number spelling and whitespace,
 * and with them the provider's byte-prefix prompt cache. Only used on text that JSON.parse accepted.
 */

export interface JsonMember {
  key: string;
  /** Index of the key's opening quote. */
  start: number;
  valueStart: number;
  /** Index just past the value. */
  valueEnd: number;
}

export interface JsonObjectText {
  members: JsonMember[];
  /** Index of the closing brace. */
  close: number;
}

/** The top-level members of the object whose `{` is at `open`. */
export function objectMembers(text: string, open: number): JsonObjectText {
  if (text[open] !== "{") throw new Error("not an object");
  const members: JsonMember[] = [];
  let i = open + 1;
  for (;;) {
    i = skipSpace(text, i);
    const char = text[i];
    if (char === "}") return { members, close: i };
    if (char === ",") {
      i++;
      continue;
    }
    if (char !== '"') throw new Error(`unexpected ${char ?? "end"} at ${i}`);
    const start = i;
    const keyEnd = skipString(text, i);
    const key = JSON.parse(text.slice(start, keyEnd)) as string;
    i = skipSpace(text, keyEnd);
    if (text[i] !== ":") throw new Error(`expected : at ${i}`);
    const valueStart = skipSpace(text, i + 1);
    const valueEnd = skipValue(text, valueStart);
    members.push({ key, start, valueStart, valueEnd });
    i = valueEnd;
  }
}

/** The last member named `key` (the one JSON.parse keeps when a key repeats). */
export function lastMember(object: JsonObjectText, key: string): JsonMember | undefined {
  for (let i = object.members.length - 1; i >= 0; i--) {
    if (object.members[i]?.key === key) return object.members[i];
  }
  return undefined;
}

/** Index just past the JSON value that starts at `start`. */
export function valueEnd(text: string, start: number): number {
  return skipValue(text, start);
}

/** The [start, end) text ranges of the elements of the array whose `[` is at `open`. */
export function arrayElements(text: string, open: number): [number, number][] {
  if (text[open] !== "[") throw new Error("not an array");
  const elements: [number, number][] = [];
  let i = open + 1;
  for (;;) {
    i = skipSpace(text, i);
    const char = text[i];
    if (char === "]") return elements;
    if (char === ",") {
      i++;
      continue;
    }
    if (char === undefined) throw new Error("unterminated array");
    const end = skipValue(text, i);
    elements.push([i, end]);
    i = end;
  }
}

// The scanners below use charCodeAt and a native indexOf for strings: on a 400 KB Claude-Code-sized
// body they are several times faster than indexing characters one by one (see bench/RESULTS.md).

function isSpace(code: number): boolean {
  return code === 32 || code === 10 || code === 13 || code === 9;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  return i;
}

/** Index just past the string whose opening quote is at `i`. */
function skipString(text: string, i: number): number {
  let from = i + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote < 0) throw new Error("unterminated string");
    // A quote preceded by an odd number of backslashes is escaped.
    let backslashes = 0;
    for (let b = quote - 1; text.charCodeAt(b) === 92; b--) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

function skipValue(text: string, i: number): number {
  const first = text.charCodeAt(i);
  if (first === 34) return skipString(text, i);
  if (first === 123 || first === 91) {
    let depth = 0;
    let j = i;
    while (j < text.length) {
      const code = text.charCodeAt(j);
      if (code === 34) {
        j = skipString(text, j);
        continue;
      }
      if (code === 123 || code === 91) depth++;
      else if ((code === 125 || code === 93) && --depth === 0) return j + 1;
      j++;
    }
    throw new Error("unterminated value");
  }
  let j = i;
  while (j < text.length) {
    const code = text.charCodeAt(j);
    if (code === 44 || code === 125 || code === 93 || isSpace(code)) break;
    j++;
  }
  return j;
}
