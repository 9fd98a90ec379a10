/**
 * Prompt-cache breaks (docs/cache.md): who and what broke the cache and what it cost, worst first:
 * per user, per cause, per client, and the costliest breaks, each linking to its session.
 */
import { api, type CacheResponse } from "../api";
import { el, emptyRow, numCell, section, table } from "../dom";
import { fmtInt, fmtPct, fmtTime, fmtUsd } from "../format";
import { causeLabel } from "../parts/cache-turns";
import { shareBar } from "../parts/share-bar";
import { linkTo, navigate } from "../route";
import type { View } from "./view";

const micros = (usd: number | null | undefined): number | null =>
  usd === null || usd === undefined ? null : Math.round(usd * 1e6);

function groupTable(
  id: string,
  answer: CacheResponse,
  key: "user" | "cause" | "client",
  name: (value: string) => Node | string,
): HTMLTableElement {
  const label = { user: "User", cause: "Cause", client: "Client" }[key];
  // Grouped by cause only breaks count, so a hit ratio would say nothing there.
  const withHit = key !== "cause";
  const headers = [label, "Breaks", "Cost", "", "Missed tokens", "Wasted writes"];
  const { table: node, body } = table(id, withHit ? [...headers, "Hit ratio"] : headers);
  const total = answer.totals.break_cost_usd;
  for (const row of answer.rows) {
    const value = row[key] ?? "";
    const tr = body.appendChild(el("tr", { [`data-${key}`]: value }));
    tr.appendChild(el("td", { "data-col": key })).append(name(value));
    tr.appendChild(numCell(row.breaks, fmtInt(row.breaks), "breaks"));
    tr.appendChild(numCell(micros(row.break_cost_usd), fmtUsd(micros(row.break_cost_usd)), "cost"));
    const share = total > 0 ? row.break_cost_usd / total : 0;
    tr.appendChild(el("td", { class: "bar" })).appendChild(
      shareBar(share, `${fmtPct(share)} of the cost`, "warn"),
    );
    tr.appendChild(numCell(row.missed_tokens, fmtInt(row.missed_tokens), "missed"));
    tr.appendChild(numCell(row.wasted_write_tokens, fmtInt(row.wasted_write_tokens), "wasted"));
    if (withHit) tr.appendChild(numCell(row.hit_ratio, fmtPct(row.hit_ratio), "hit"));
  }
  if (answer.rows.length === 0)
    emptyRow(body, withHit ? headers.length + 1 : headers.length, "No prompt-cache turns in this range.");
  return node;
}

function breaksTable(answer: CacheResponse): HTMLTableElement {
  const { table: node, body } = table("costliest-breaks", [
    "Started",
    "User",
    "Model",
    "Cause",
    "First changed",
    "Missed",
    "Cost",
    "Session",
  ]);
  for (const b of answer.breaks) {
    const tr = body.appendChild(el("tr", { "data-id": b.interception_id, class: "clickable" }));
    tr.appendChild(el("td", { class: "time" })).appendChild(
      el("a", { href: linkTo({ interception: b.interception_id }), "data-route": "" }, fmtTime(b.started_at)),
    );
    tr.appendChild(el("td", { "data-col": "user" }, b.user));
    tr.appendChild(el("td", { "data-col": "model" }, b.model));
    tr.appendChild(el("td", { "data-col": "cause", "data-value": b.cause }, causeLabel(b.cause)));
    tr.appendChild(el("td", { "data-col": "first_changed" })).appendChild(
      el("code", {}, b.first_changed ?? "–"),
    );
    tr.appendChild(numCell(b.missed_tokens, fmtInt(b.missed_tokens), "missed"));
    tr.appendChild(numCell(b.cost_micros, fmtUsd(b.cost_micros), "cost"));
    const session = tr.appendChild(el("td", { "data-col": "session" }));
    if (b.session_id) {
      session.appendChild(
        el(
          "a",
          {
            href: linkTo({ view: "session", session: b.session_id, interception: b.interception_id }),
            "data-route": "",
          },
          b.session_id,
        ),
      );
    } else session.textContent = "–";
    tr.addEventListener("click", (event) => {
      if ((event.target as Element).closest("a")) return;
      navigate({ interception: b.interception_id });
    });
  }
  if (answer.breaks.length === 0) emptyRow(body, 8, "No cache breaks in this range.");
  return node;
}

function cards(t: CacheResponse["totals"]): HTMLElement {
  const box = el("section", { id: "cache-totals", class: "totals", "aria-label": "Prompt cache" });
  const list: [string, string, string, number][] = [
    ["breaks", fmtInt(t.breaks), "cache breaks", t.breaks],
    ["break-cost", fmtUsd(micros(t.break_cost_usd)), "cost of the breaks", t.break_cost_usd],
    ["wasted", fmtInt(t.wasted_write_tokens), "cache writes never read", t.wasted_write_tokens],
    ["turns", fmtInt(t.turns), "turns analysed", t.turns],
  ];
  for (const [id, text, label, value] of list) {
    const card = box.appendChild(el("div", { class: "card", id: `cache-${id}`, "data-value": value }));
    card.appendChild(el("b", {}, text));
    card.appendChild(el("span", {}, label));
  }
  return box;
}

export const cache: View = {
  name: "cache",
  title: "Cache breaks",
  inNav: true,
  filters: ["range", "user", "model"],
  async render({ route, root, stale }) {
    const filter = { from: route.range, user: route.user, model: route.model };
    const [byUser, byCause, byClient] = await Promise.all([
      api<CacheResponse>("/cache", { ...filter, group_by: "user", limit: "25" }),
      api<CacheResponse>("/cache", { ...filter, group_by: "cause", limit: "1" }),
      api<CacheResponse>("/cache", { ...filter, group_by: "client", limit: "1" }),
    ]);
    if (stale()) return;
    const userLink = (user: string) =>
      el("a", { href: linkTo({ view: "cache", user, interception: "" }), "data-route": "" }, user);
    const grid = el("div", { class: "pair" });
    grid.append(
      section("By user", groupTable("cache-users", byUser, "user", userLink)),
      section("By cause", groupTable("cache-causes", byCause, "cause", causeLabel)),
    );
    root.append(
      el(
        "p",
        { class: "hint" },
        "A cache break is a turn that read less from the prompt cache than the turn before it left there; its cost is what re-writing the prefix cost beyond reading it.",
      ),
      cards(byUser.totals),
      grid,
      section("Costliest breaks", breaksTable(byUser)),
      section(
        "By client",
        groupTable("cache-clients", byClient, "client", (client) => client),
      ),
    );
  },
};
