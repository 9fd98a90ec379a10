/**
 * A session's prompt cache, turn by turn: each turn a stacked bar of cache read / cache write /
 * uncached input (its tokens over all its upstream calls), a tick at the read the turn before it
 * left in the cache, and a mark on each cache break with its cause; then the breaks as a table
 * (cause, first changed segment, tokens missed, what it cost). See docs/cache.md.
 */
import type { SessionResponse } from "../api";
import { stackedBars } from "../chart";
import { el, emptyRow, numCell, svg, table } from "../dom";
import { fmtInt, fmtShort, fmtTime, fmtUsd } from "../format";
import { linkTo } from "../route";

type Turn = SessionResponse["interceptions"][number];

const PARTS = [
  { key: "cache read", color: "#12b76a", value: (t: Turn) => t.tokens.cache_read },
  { key: "cache write", color: "#f79009", value: (t: Turn) => t.tokens.cache_write },
  { key: "uncached input", color: "#3056d3", value: (t: Turn) => t.tokens.input },
];

/** Causes as the admin reads them. */
export const CAUSE_LABELS: Record<string, string> = {
  tools_changed: "tools changed",
  system_changed: "system changed",
  messages_changed: "history changed",
  model_changed: "model changed",
  expired: "expired",
  unknown: "unknown",
};

export const causeLabel = (cause: string): string => CAUSE_LABELS[cause] ?? cause;

export function cacheTurns(turns: Turn[]): HTMLElement {
  const numberOf = new Map(turns.map((t, i) => [t.id, i + 1]));
  const byX = new Map(turns.map((t, i) => [String(i + 1), t]));
  const figure = el("figure", { class: "wide" });
  figure.appendChild(el("figcaption", {}, "Prompt cache per turn (tokens)"));
  const chart = figure.appendChild(el("div", { id: "cache-chart", class: "chart" }));
  stackedBars(chart, {
    days: [...byX.keys()],
    keys: PARTS.map((p) => p.key),
    colorOf: (key) => PARTS.find((p) => p.key === key)?.color ?? "#667085",
    valueAt: (x, key) => {
      const turn = byX.get(x);
      const part = PARTS.find((p) => p.key === key);
      return turn && part ? part.value(turn) : 0;
    },
    format: fmtShort,
    xName: "turn",
    label: (x) => `#${x}`,
    tick: (x) => {
      const cache = byX.get(x)?.cache;
      if (!cache?.break) return null;
      return {
        value: cache.expected_read_tokens,
        title: `expected cache read: ${fmtInt(cache.expected_read_tokens)}`,
      };
    },
    mark: (x) => {
      const turn = byX.get(x);
      const brk = turn?.cache?.break;
      if (!turn || !brk) return null;
      return {
        text: causeLabel(brk.cause),
        title: `cache break: ${causeLabel(brk.cause)}${brk.first_changed ? ` at ${brk.first_changed}` : ""}, ${fmtUsd(brk.cost_micros)}`,
        attrs: { "data-turn": x, "data-cause": brk.cause },
      };
    },
  });
  const legend = figure.appendChild(el("ul", { class: "legend", "aria-label": "Legend" }));
  for (const part of PARTS) {
    const item = legend.appendChild(el("li", { "data-key": part.key }));
    item
      .appendChild(svg("svg", { viewBox: "0 0 10 10" }))
      .appendChild(svg("rect", { width: 10, height: 10, fill: part.color }));
    item.appendChild(document.createTextNode(part.key));
  }
  const expected = legend.appendChild(el("li", {}));
  expected
    .appendChild(svg("svg", { viewBox: "0 0 10 10", class: "tick-key" }))
    .appendChild(svg("line", { x1: 0, x2: 10, y1: 5, y2: 5, class: "tick" }));
  expected.appendChild(document.createTextNode("cache read expected (at a break)"));

  const { table: node, body } = table("breaks-table", [
    "Turn",
    "Started",
    "Model",
    "Cause",
    "First changed",
    "Expected read",
    "Read",
    "Missed",
    "Cost",
    "Compared with",
  ]);
  for (const turn of turns) {
    const brk = turn.cache?.break;
    if (!turn.cache || !brk) continue;
    const n = numberOf.get(turn.id) ?? 0;
    const tr = body.appendChild(el("tr", { "data-id": turn.id, "data-turn": n }));
    tr.appendChild(el("td", {})).appendChild(
      el("a", { href: linkTo({ interception: turn.id }), "data-route": "" }, `#${n}`),
    );
    tr.appendChild(el("td", { class: "time" }, fmtTime(turn.started_at)));
    tr.appendChild(el("td", {}, turn.model));
    tr.appendChild(el("td", { "data-col": "cause", "data-value": brk.cause }, causeLabel(brk.cause)));
    tr.appendChild(el("td", { "data-col": "first_changed" })).appendChild(
      el("code", {}, brk.first_changed ?? "–"),
    );
    tr.appendChild(
      numCell(turn.cache.expected_read_tokens, fmtInt(turn.cache.expected_read_tokens), "expected"),
    );
    tr.appendChild(numCell(turn.cache.read_tokens, fmtInt(turn.cache.read_tokens), "read"));
    tr.appendChild(numCell(brk.missed_tokens, fmtInt(brk.missed_tokens), "missed"));
    tr.appendChild(numCell(brk.cost_micros, fmtUsd(brk.cost_micros), "cost"));
    const ref = numberOf.get(brk.reference);
    const gap = brk.gap_seconds >= 60 ? `${Math.round(brk.gap_seconds / 60)} min` : `${brk.gap_seconds} s`;
    tr.appendChild(el("td", {}, ref ? `#${ref}, ${gap} before` : `${gap} before`));
  }
  if (body.childElementCount === 0) emptyRow(body, 10, "No cache breaks in this session.");
  const box = el("section", { class: "cache-turns" });
  box.append(figure, el("h2", {}, "Cache breaks"), node);
  return box;
}
