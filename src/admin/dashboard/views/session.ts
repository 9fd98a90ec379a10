/** One client session (e.g. one Claude Code conversation): its totals and every interception, in order. */
import { api, type SessionResponse } from "../api";
import { el, section } from "../dom";
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
      section("Interceptions", interceptionsTable({ interceptions: s.interceptions, next_cursor: null })),
    );
  },
};
