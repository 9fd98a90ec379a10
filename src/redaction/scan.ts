/**
 * Finding secrets in one text: every rule runs over the text, and overlapping finds merge into one
 * range (so nothing of a secret two rules half-matched is left showing). Long texts are scanned in
 * windows that overlap by more than the longest secret a rule can match, with a pause between
 * windows so other requests on the isolate get the CPU.
 */
import { nextTask } from "../next-task";
import { RULES, type Rule } from "./rules";

export interface Finding {
  start: number;
  end: number;
  kind: string;
}

/** Window size and overlap, in UTF-16 units. The overlap exceeds the longest match (a PEM key ≤ ~16.5K). */
export const WINDOW_UNITS = 256 * 1024;
export const WINDOW_OVERLAP = 20 * 1024;

interface CompiledRule {
  rule: Rule;
  pattern: RegExp;
}

// `d` gives capture-group positions, so a rule can hide only its value.
const COMPILED: CompiledRule[] = RULES.map((rule) => ({
  rule,
  pattern: new RegExp(rule.pattern.source, `${rule.pattern.flags.replace("d", "")}d`),
}));

/** Finds in `text[from, to)`; positions are relative to the whole text. */
export function scanRange(text: string, from = 0, to = text.length): Finding[] {
  const slice = from === 0 && to === text.length ? text : text.slice(from, to);
  const found: Finding[] = [];
  for (const { rule, pattern } of COMPILED) {
    pattern.lastIndex = 0;
    for (let m = pattern.exec(slice); m !== null; m = pattern.exec(slice)) {
      const span = rule.group ? m.indices?.[rule.group] : m.indices?.[0];
      if (span && span[1] > span[0]) {
        const kind = typeof rule.kind === "string" ? rule.kind : rule.kind(m);
        found.push({ start: from + span[0], end: from + span[1], kind });
      }
      if (m[0].length === 0) pattern.lastIndex++;
    }
  }
  return found;
}

/**
 * Merges overlapping finds into one range each. The merged range takes the kind of the rule listed
 * first in RULES (the more specific one: `openai_api_key` over `env_secret`).
 */
export function mergeFindings(findings: Finding[]): Finding[] {
  const rank = new Map<string, number>();
  RULES.forEach((rule, i) => {
    if (typeof rule.kind === "string" && !rank.has(rule.kind)) rank.set(rule.kind, i);
  });
  const order = (kind: string) => rank.get(kind) ?? RULES.length;
  const sorted = [...findings].sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: Finding[] = [];
  for (const f of sorted) {
    const last = merged[merged.length - 1];
    if (last && f.start < last.end) {
      if (order(f.kind) < order(last.kind)) last.kind = f.kind;
      last.end = Math.max(last.end, f.end);
    } else {
      merged.push({ ...f });
    }
  }
  return merged;
}

/** Yields to the event loop between windows: a long scan must not hold the isolate. */

export interface ScanResult {
  findings: Finding[];
  /** Where scanning stopped: text from here on was not scanned (budget spent). text.length = all. */
  scannedTo: number;
}

/**
 * Scans `text` window by window while the budget lasts (`budget.units` UTF-16 units, shared by
 * all texts of one interception, decremented here).
 */
export async function scanText(text: string, budget: { units: number }): Promise<ScanResult> {
  const findings: Finding[] = [];
  let from = 0;
  while (from < text.length) {
    // Everything before `from` was scanned with room to spare: a secret that starts before it ends
    // before the last window did (the overlap is longer than any match).
    if (budget.units <= 0) return { findings: mergeFindings(findings), scannedTo: from };
    const to = Math.min(text.length, from + WINDOW_UNITS);
    findings.push(...scanRange(text, from, to));
    budget.units -= to - from;
    if (to >= text.length) break;
    from = to - WINDOW_OVERLAP;
    await nextTask();
  }
  return { findings: mergeFindings(findings), scannedTo: text.length };
}
