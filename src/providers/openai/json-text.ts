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

function skipSpace(text: string, i: number): number {
  while (i < text.length && (text[i] === " " || text[i] === "\n" || text[i] === "\r" || text[i] === "\t"))
    i++;
  return i;
}

function skipString(text: string, i: number): number {
  let j = i + 1;
  while (j < text.length) {
    const char = text[j];
    if (char === "\\") j += 2;
    else if (char === '"') return j + 1;
    else j++;
  }
  throw new Error("unterminated string");
}

function skipValue(text: string, i: number): number {
  const first = text[i];
  if (first === '"') return skipString(text, i);
  if (first === "{" || first === "[") {
    let depth = 0;
    let j = i;
    while (j < text.length) {
      const char = text[j];
      if (char === '"') {
        j = skipString(text, j);
        continue;
      }
      if (char === "{" || char === "[") depth++;
      else if (char === "}" || char === "]") {
        depth--;
        if (depth === 0) return j + 1;
      }
      j++;
    }
    throw new Error("unterminated value");
  }
  let j = i;
  while (j < text.length && !",}] \n\r\t".includes(text[j]!)) j++;
  return j;
}
