/** Usage per user or per model: requests, tokens by type, cost, cache hit ratio, last seen. */
import type { UsageRow } from "../api";
import { el, emptyRow, numCell, table } from "../dom";
import { fmtInt, fmtPct, fmtTime, fmtUsd } from "../format";
import { linkTo } from "../route";

/**
 * One row per `key` value, most expensive first. `linkOf` turns a key into a link (e.g. the user's
 * own view); rows then carry data-<key> for tests and scripts.
 */
export function usageTable(
  id: string,
  rows: UsageRow[],
  key: "user" | "model",
  linkOf?: (value: string) => string,
): HTMLTableElement {
  const label = key === "user" ? "User" : "Model";
  const { table: node, body } = table(id, [
    label,
    "Requests",
    "Input",
    "Output",
    "Cache read",
    "Cache write",
    "Reasoning",
    "Cost",
    "Cache hit",
    "Cache breaks",
    "Last seen",
  ]);
  const sorted = [...rows].sort((a, b) => (b.cost_micros ?? 0) - (a.cost_micros ?? 0));
  for (const r of sorted) {
    const value = r[key] ?? "";
    const tr = body.appendChild(el("tr", { [`data-${key}`]: value }));
    const name = tr.appendChild(el("td", { "data-col": key }));
    if (linkOf) name.appendChild(el("a", { href: linkOf(value), "data-route": "" }, value));
    else name.textContent = value;
    tr.appendChild(numCell(r.requests, fmtInt(r.requests), "requests"));
    tr.appendChild(numCell(r.input_tokens, fmtInt(r.input_tokens), "input"));
    tr.appendChild(numCell(r.output_tokens, fmtInt(r.output_tokens), "output"));
    tr.appendChild(numCell(r.cache_read_tokens, fmtInt(r.cache_read_tokens), "cache_read"));
    tr.appendChild(numCell(r.cache_write_tokens, fmtInt(r.cache_write_tokens), "cache_write"));
    tr.appendChild(numCell(r.reasoning_tokens, fmtInt(r.reasoning_tokens), "reasoning"));
    const unpriced = r.unpriced_usages ? ` (+${r.unpriced_usages} unpriced)` : "";
    tr.appendChild(numCell(r.cost_micros, fmtUsd(r.cost_micros) + unpriced, "cost"));
    tr.appendChild(numCell(r.cache_hit_ratio, fmtPct(r.cache_hit_ratio), "cache_hit"));
    tr.appendChild(breaksCell(r, key, value));
    tr.appendChild(el("td", { "data-col": "last_seen" }, fmtTime(r.last_seen)));
  }
  if (rows.length === 0) emptyRow(body, 11, "No usage in this range.");
  return node;
}

/** Prompt-cache breaks and their cost; a link to the cache-breaks view for this user or model. */
function breaksCell(r: UsageRow, key: "user" | "model", value: string): HTMLTableCellElement {
  const breaks = r.cache_breaks ?? 0;
  const costMicros = Math.round((r.cache_break_cost_usd ?? 0) * 1e6);
  const cell = numCell(breaks, "", "cache_breaks");
  cell.setAttribute("data-cost", String(costMicros));
  if (breaks === 0) {
    cell.textContent = "0";
    return cell;
  }
  const text = `${fmtInt(breaks)} · ${fmtUsd(costMicros)}`;
  cell.appendChild(
    el("a", { href: linkTo({ view: "cache", [key]: value, interception: "" }), "data-route": "" }, text),
  );
  return cell;
}
