/**
 * One client session (e.g. one Claude Code conversation): its totals, its prompt cache turn by turn
 * with the breaks, and every interception, in order.
 */
import { api, type SessionResponse } from "../api";
import { el, section } from "../dom";
import { fmtInt, fmtPct, fmtUsd } from "../format";
import { cacheTurns } from "../parts/cache-turns";
import { interceptionsTable } from "../parts/interceptions-table";
import { totalsCards } from "../parts/totals";
import type { View } from "./view";

export const session: View = {
  name: "session",
  title: "Session",
  inNav: false,
  filters: [],
  async render({ route, root, stale }) {
    if (!route.session) {
      root.append(el("p", { class: "hint" }, "Open a session from an interception's details."));
      return;
    }
    const s = await api<SessionResponse>(`/sessions/${encodeURIComponent(route.session)}`);
    if (stale()) return;
    const t = s.totals;
    const title = el("h2", { class: "view-title" }, s.session_id);
    title.appendChild(el("small", {}, `session · ${s.users.join(", ")}`));
    const cached = t.cache_read_tokens + t.cache_write_tokens;
    const prompt = t.input_tokens + cached;
    root.append(
      title,
      totalsCards({
        requests: t.requests,
        total_tokens: t.input_tokens + t.output_tokens + cached,
        cost_micros: t.cost_micros,
        unpriced_usages: t.unpriced_usages,
        cache_hit_ratio: prompt > 0 ? t.cache_read_tokens / prompt : null,
      }),
      cacheCards(t.cache),
      cacheTurns(s.interceptions),
      section("Interceptions", interceptionsTable({ interceptions: s.interceptions, next_cursor: null })),
    );
  },
};

/** The session's prompt cache in four numbers (docs/cache.md). */
function cacheCards(c: SessionResponse["totals"]["cache"]): HTMLElement {
  const box = el("section", { id: "cache-totals", class: "totals", "aria-label": "Prompt cache" });
  const cards: [string, string, string, number | null][] = [
    ["hit", fmtPct(c.hit_ratio), "prompt cache hit ratio (analysed turns)", c.hit_ratio],
    ["breaks", fmtInt(c.breaks), "cache breaks", c.breaks],
    ["break-cost", fmtUsd(Math.round(c.break_cost_usd * 1e6)), "cost of the breaks", c.break_cost_usd],
    ["wasted", fmtInt(c.wasted_write_tokens), "cache writes never read", c.wasted_write_tokens],
  ];
  for (const [id, text, label, value] of cards) {
    const card = box.appendChild(el("div", { class: "card", id: `cache-${id}`, "data-value": value ?? "" }));
    card.appendChild(el("b", {}, text));
    card.appendChild(el("span", {}, label));
  }
  return box;
}
