/** The row of total cards (requests, tokens, cost, cache hit ratio, unpriced records). */
import type { UsageRow } from "../api";
import { el } from "../dom";
import { fmtInt, fmtPct, fmtUsd } from "../format";

export function totalsCards(
  t: Pick<UsageRow, "requests" | "cost_micros" | "unpriced_usages"> & {
    total_tokens: number;
    cache_hit_ratio: number | null;
  },
): HTMLElement {
  const box = el("section", { id: "totals", class: "totals", "aria-label": "Totals" });
  const cards: [string, string, string][] = [
    ["requests", fmtInt(t.requests), "requests"],
    ["tokens", fmtInt(t.total_tokens), "tokens"],
    ["cost", fmtUsd(t.cost_micros), "cost"],
    ["cache-hit", fmtPct(t.cache_hit_ratio), "cache hit ratio"],
    ["unpriced", fmtInt(t.unpriced_usages), "unpriced usage records"],
  ];
  for (const [id, value, label] of cards) {
    const card = box.appendChild(el("div", { class: "card", id: `total-${id}` }));
    card.appendChild(el("b", {}, value));
    card.appendChild(el("span", {}, label));
  }
  return box;
}
