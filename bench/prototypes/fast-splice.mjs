/**
 * The fix proposed in bench/RESULTS.md for the tool-injection miss, as a measured prototype (not
 * used by the gateway): find the top-level members of the body ONCE, skipping strings with
 * String.indexOf('"') (a native scan) and reading characters with charCodeAt instead of text[i],
 * then apply both edits (tools, tool_choice) from the end backwards; and reuse the text the body
 * parse already decoded instead of decoding the bytes a second time. Checks that the output is
 * byte-identical to src/'s anthropicInjection.prepare, then times both. A second variant does the
 * same on the body's bytes, which also saves decoding the body and encoding the result.
 *
 *   node bench/prototypes/fast-splice.mjs        (run bench/micro.mjs once first: it bundles src/)
 */
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { claudeCodeBody, injectedTools } from "../fixtures/claude-code-body.mjs";

const src = await import(join(resolve(import.meta.dirname, ".."), "out/micro-lib.mjs"));

function skipString(text, i) {
  let j = i + 1;
  for (;;) {
    const quote = text.indexOf('"', j);
    if (quote < 0) throw new Error("unterminated string");
    let backslashes = 0;
    for (let b = quote - 1; text.charCodeAt(b) === 92; b--) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    j = quote + 1;
  }
}

function skipValue(text, i) {
  const first = text.charCodeAt(i);
  if (first === 34) return skipString(text, i);
  if (first === 123 || first === 91) {
    let depth = 0;
    for (let j = i; j < text.length; ) {
      const c = text.charCodeAt(j);
      if (c === 34) {
        j = skipString(text, j);
        continue;
      }
      if (c === 123 || c === 91) depth++;
      else if ((c === 125 || c === 93) && --depth === 0) return j + 1;
      j++;
    }
    throw new Error("unterminated value");
  }
  let j = i;
  while (j < text.length && !",}] \n\r\t".includes(text[j])) j++;
  return j;
}

const isSpace = (c) => c === 32 || c === 10 || c === 13 || c === 9;

function members(text) {
  const out = [];
  let i = text.indexOf("{") + 1;
  for (;;) {
    while (isSpace(text.charCodeAt(i))) i++;
    const c = text.charCodeAt(i);
    if (c === 125) return { members: out, close: i };
    if (c === 44) {
      i++;
      continue;
    }
    const start = i;
    const keyEnd = skipString(text, i);
    const key = JSON.parse(text.slice(start, keyEnd));
    i = keyEnd;
    while (isSpace(text.charCodeAt(i))) i++;
    i++; // the colon
    while (isSpace(text.charCodeAt(i))) i++;
    const valueEnd = skipValue(text, i);
    out.push({ key, valueStart: i, valueEnd });
    i = valueEnd;
  }
}

/** Same result as anthropicInjection.prepare, one scan. */
function prepareFast(text, json, toolsJson) {
  const { members: list, close } = members(text);
  const last = (key) => list.findLast((m) => m.key === key);
  const edits = [];
  let appended = list.length > 0;
  const append = (key, valueJson) => {
    edits.push([close, close, `${appended ? "," : ""}${JSON.stringify(key)}:${valueJson}`]);
    appended = true;
  };
  const tools = last("tools");
  if (tools && text[tools.valueStart] === "[") {
    const end = tools.valueEnd - 1;
    const empty = text.slice(tools.valueStart + 1, end).trim() === "";
    edits.push([end, end, `${empty ? "" : ","}${toolsJson}`]);
  } else if (tools) edits.push([tools.valueStart, tools.valueEnd, `[${toolsJson}]`]);
  else append("tools", `[${toolsJson}]`);
  const choice = json.tool_choice;
  let choiceJson = null;
  if (!choice || typeof choice !== "object") choiceJson = '{"type":"auto","disable_parallel_tool_use":true}';
  else if (choice.type !== "none" && choice.disable_parallel_tool_use !== true) {
    choiceJson = JSON.stringify({ ...choice, disable_parallel_tool_use: true });
  }
  if (choiceJson) {
    const member = last("tool_choice");
    if (member) edits.push([member.valueStart, member.valueEnd, choiceJson]);
    else append("tool_choice", choiceJson);
  }
  // Apply from the end so earlier positions stay valid (stable for equal positions: in push order).
  const ordered = edits.map((e, k) => [...e, k]).sort((a, b) => b[0] - a[0] || b[3] - a[3]);
  let out = text;
  for (const [from, to, insert] of ordered) out = out.slice(0, from) + insert + out.slice(to);
  return out;
}

/**
 * The same on the body's bytes (JSON's structural characters are ASCII, so byte offsets are found
 * the same way): no decode of the body and no encode of the result, just three copies.
 */
function skipStringBytes(bytes, i) {
  let j = i + 1;
  for (;;) {
    const quote = bytes.indexOf(34, j);
    if (quote < 0) throw new Error("unterminated string");
    let backslashes = 0;
    for (let b = quote - 1; bytes[b] === 92; b--) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    j = quote + 1;
  }
}

function skipValueBytes(bytes, i) {
  const first = bytes[i];
  if (first === 34) return skipStringBytes(bytes, i);
  if (first === 123 || first === 91) {
    let depth = 0;
    for (let j = i; j < bytes.length; ) {
      const c = bytes[j];
      if (c === 34) {
        j = skipStringBytes(bytes, j);
        continue;
      }
      if (c === 123 || c === 91) depth++;
      else if ((c === 125 || c === 93) && --depth === 0) return j + 1;
      j++;
    }
    throw new Error("unterminated value");
  }
  let j = i;
  while (j < bytes.length && ![44, 125, 93, 32, 10, 13, 9].includes(bytes[j])) j++;
  return j;
}

const utf8 = new TextDecoder();
const encoder = new TextEncoder();

/** Appends the tools and sets tool_choice (absent in the fixture), on bytes. */
function prepareBytes(bytes, toolsJson, choiceJson) {
  const list = [];
  let i = bytes.indexOf(123) + 1;
  let close = -1;
  while (close < 0) {
    while (isSpace(bytes[i])) i++;
    if (bytes[i] === 125) close = i;
    else if (bytes[i] === 44) i++;
    else {
      const keyEnd = skipStringBytes(bytes, i);
      const key = JSON.parse(utf8.decode(bytes.subarray(i, keyEnd)));
      i = keyEnd;
      while (isSpace(bytes[i])) i++;
      i++;
      while (isSpace(bytes[i])) i++;
      const valueEnd = skipValueBytes(bytes, i);
      list.push({ key, valueStart: i, valueEnd });
      i = valueEnd;
    }
  }
  const tools = list.findLast((m) => m.key === "tools");
  const toolsAt = tools.valueEnd - 1;
  const toolsInsert = encoder.encode(`,${toolsJson}`);
  const choiceInsert = encoder.encode(`,"tool_choice":${choiceJson}`);
  const out = new Uint8Array(bytes.length + toolsInsert.length + choiceInsert.length);
  out.set(bytes.subarray(0, toolsAt), 0);
  out.set(toolsInsert, toolsAt);
  out.set(bytes.subarray(toolsAt, close), toolsAt + toolsInsert.length);
  out.set(choiceInsert, close + toolsInsert.length);
  out.set(bytes.subarray(close), close + toolsInsert.length + choiceInsert.length);
  return out;
}

function time(op, ms = 2000) {
  for (const end = performance.now() + 300; performance.now() < end; ) op();
  const cpu = process.cpuUsage();
  let ops = 0;
  for (const end = performance.now() + ms; performance.now() < end; ops++) op();
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / 1000 / ops;
}

const text = claudeCodeBody(400 * 1024);
const bytes = new TextEncoder().encode(text);
const json = JSON.parse(text);
const tools = injectedTools(12);
const current = src.anthropicInjection.prepare(text, json, tools);
const toolsJson = tools
  .map((tool) => {
    const { $schema: _, ...schema } = tool.inputSchema;
    return JSON.stringify({ name: tool.name, description: tool.description, input_schema: schema });
  })
  .join(",");
const fast = prepareFast(text, json, toolsJson);
if (fast !== current) throw new Error("prototype output differs from src/ prepare");
const choiceJson = '{"type":"auto","disable_parallel_tool_use":true}';
if (utf8.decode(prepareBytes(bytes, toolsJson, choiceJson)) !== current) {
  throw new Error("byte prototype output differs from src/ prepare");
}

const results = {
  bodyBytes: bytes.length,
  currentMs: time(() => {
    const decoded = new TextDecoder().decode(bytes);
    new TextEncoder().encode(src.anthropicInjection.prepare(decoded, json, tools));
  }),
  prototypeMs: time(() => new TextEncoder().encode(prepareFast(text, json, toolsJson))),
  prototypeSpliceOnlyMs: time(() => prepareFast(text, json, toolsJson)),
  prototypeBytesMs: time(() => prepareBytes(bytes, toolsJson, choiceJson)),
};
console.log(JSON.stringify(results, null, 2));
