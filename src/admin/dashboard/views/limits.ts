/**
 * Budgets and limits (docs/limits.md): each user's spend this period against their budget, their
 * rate limits and model policy, the requests a limit refused; and a form to edit one user's limits
 * (?view=limits&edit=<user>, or &edit=* for the default; &add=1 for a user without a policy yet).
 */
import { api, type InterceptionList, type LimitPolicy, type LimitsResponse, type UserLimits } from "../api";
import { el, emptyRow, numCell, section, table } from "../dom";
import { fmtInt, fmtPct, fmtTime, fmtUsd } from "../format";
import { limitsForm } from "../parts/limits-form";
import { shareBar } from "../parts/share-bar";
import { linkTo, navigate } from "../route";
import type { View } from "./view";

const usdMicros = (usd: number | null | undefined) =>
  usd === null || usd === undefined ? null : Math.round(usd * 1e6);

/** A policy in one line: "$50 / month · 60 req/min · models ^claude". */
export function policySummary(p: LimitPolicy | null): string {
  if (!p) return "no limits";
  const parts: string[] = [];
  if (p.budget_usd !== undefined) parts.push(`${fmtUsd(usdMicros(p.budget_usd))} / ${p.period ?? "month"}`);
  if (p.requests_per_minute !== undefined) parts.push(`${fmtInt(p.requests_per_minute)} req/min`);
  if (p.tokens_per_minute !== undefined) parts.push(`${fmtInt(p.tokens_per_minute)} tokens/min`);
  if (p.models?.allow) parts.push(`allow /${p.models.allow}/`);
  if (p.models?.deny) parts.push(`deny /${p.models.deny}/`);
  if (p.record_content) parts.push(`record ${p.record_content}`);
  return parts.length > 0 ? parts.join(" · ") : "no limits";
}

/** How close the user is to the budget: a bar, the share, and a tone (ok < 80 % ≤ warn < 100 % ≤ over). */
function spendCell(u: UserLimits): HTMLTableCellElement {
  const budget = u.state?.budget_usd ?? u.policy?.budget_usd ?? null;
  const spent = u.state?.spent_usd ?? null;
  const cell = el("td", { class: "bar", "data-col": "spend" });
  if (budget === null || spent === null) {
    cell.textContent = "–";
    return cell;
  }
  const share = budget > 0 ? spent / budget : spent > 0 ? 1 : 0;
  cell.setAttribute("data-value", share.toFixed(4));
  const tone = share >= 1 ? "over" : share >= 0.8 ? "warn" : "ok";
  const reserved = u.state?.reserved_usd ? `, ${fmtUsd(usdMicros(u.state.reserved_usd))} reserved` : "";
  cell.appendChild(shareBar(share, `${fmtPct(share)} of the budget spent${reserved}`, tone));
  cell.appendChild(el("small", { class: tone }, fmtPct(share)));
  return cell;
}

function perMinute(used: number | undefined, limit: number | undefined): string {
  if (limit === undefined) return used ? fmtInt(used) : "–";
  return `${fmtInt(used ?? 0)} / ${fmtInt(limit)}`;
}

function limitsTable(users: UserLimits[]): HTMLTableElement {
  const { table: node, body } = table("limits-table", [
    "User",
    "Policy",
    "Spent",
    "Budget",
    "",
    "Remaining",
    "Resets",
    "Req / min",
    "Tokens / min",
    "Rejected",
    "",
  ]);
  for (const u of users) {
    const tr = body.appendChild(el("tr", { "data-user": u.user, "data-source": u.source ?? "" }));
    tr.appendChild(el("td", { "data-col": "user" })).appendChild(
      el("a", { href: linkTo({ view: "user", user: u.user, edit: "", add: "" }), "data-route": "" }, u.user),
    );
    const source = u.source === "*" ? " (default)" : "";
    tr.appendChild(el("td", { "data-col": "policy" }, policySummary(u.policy) + source));
    const s = u.state;
    tr.appendChild(numCell(usdMicros(s?.spent_usd), s ? fmtUsd(usdMicros(s.spent_usd)) : "–", "spent"));
    const budget = s?.budget_usd ?? u.policy?.budget_usd ?? null;
    tr.appendChild(numCell(usdMicros(budget), budget === null ? "–" : fmtUsd(usdMicros(budget)), "budget"));
    tr.appendChild(spendCell(u));
    const remaining = s?.remaining_usd ?? null;
    tr.appendChild(
      numCell(usdMicros(remaining), remaining === null ? "–" : fmtUsd(usdMicros(remaining)), "remaining"),
    );
    tr.appendChild(
      el("td", { class: "time", "data-col": "resets" }, s?.resets_at ? fmtTime(s.resets_at) : "–"),
    );
    tr.appendChild(
      el(
        "td",
        { class: "num", "data-col": "rpm" },
        perMinute(s?.requests_last_minute, u.policy?.requests_per_minute),
      ),
    );
    tr.appendChild(
      el(
        "td",
        { class: "num", "data-col": "tpm" },
        perMinute(s?.tokens_last_minute, u.policy?.tokens_per_minute),
      ),
    );
    const reasons = Object.entries(u.rejected.by_reason)
      .sort((a, b) => b[1] - a[1])
      .map(([reason, n]) => `${reason} ${n}`)
      .join(", ");
    tr.appendChild(
      numCell(
        u.rejected.total,
        u.rejected.total ? `${fmtInt(u.rejected.total)} (${reasons})` : "0",
        "rejected",
      ),
    );
    tr.appendChild(el("td", {})).appendChild(
      el("a", { href: linkTo({ edit: u.user, add: "" }), "data-route": "", class: "edit" }, "Edit"),
    );
  }
  if (users.length === 0) emptyRow(body, 11, "No user has limits yet.");
  return node;
}

function rejectedTable(list: InterceptionList): HTMLTableElement {
  const { table: node, body } = table("rejected-table", [
    "Started",
    "User",
    "Model",
    "Client",
    "Reason",
    "Message",
  ]);
  for (const it of list.interceptions) {
    const tr = body.appendChild(el("tr", { "data-id": it.id, class: "clickable" }));
    tr.appendChild(el("td", { class: "time" })).appendChild(
      el("a", { href: linkTo({ interception: it.id }), "data-route": "" }, fmtTime(it.started_at)),
    );
    tr.appendChild(el("td", { "data-col": "user" }, it.user));
    tr.appendChild(el("td", { "data-col": "model" }, it.model));
    tr.appendChild(el("td", {}, it.client));
    tr.appendChild(el("td", { "data-col": "reason" }, it.error?.type ?? "–"));
    const message = it.error?.message ?? "";
    tr.appendChild(el("td", { "data-col": "message", class: "prompt", title: message }, message));
    tr.addEventListener("click", (event) => {
      if ((event.target as Element).closest("a")) return;
      navigate({ interception: it.id });
    });
  }
  if (list.interceptions.length === 0) emptyRow(body, 6, "No request was refused in this range.");
  return node;
}

export const limits: View = {
  name: "limits",
  title: "Budgets",
  inNav: true,
  filters: ["range", "user"],
  async render({ route, root, stale }) {
    const [all, rejected] = await Promise.all([
      api<LimitsResponse>("/limits"),
      api<InterceptionList>("/interceptions", {
        from: route.range,
        user: route.user,
        status: "rejected",
        limit: "50",
      }),
    ]);
    if (stale()) return;
    const users = route.user ? all.users.filter((u) => u.user === route.user) : all.users;

    const head = el("div", { class: "limits-head" });
    head.appendChild(
      el(
        "p",
        { id: "limits-default" },
        `Default for users without their own (*): ${policySummary(all.default)}`,
      ),
    );
    head.appendChild(
      el("a", { href: linkTo({ edit: "*", add: "" }), "data-route": "", class: "edit" }, "Edit default"),
    );
    head.appendChild(
      el(
        "a",
        { href: linkTo({ add: "1", edit: "" }), "data-route": "", class: "edit", id: "limits-add" },
        "Set limits for a user",
      ),
    );
    root.append(head);

    const editing = route.edit ?? "";
    if (editing || route.add) {
      const current = all.users.find((u) => u.user === editing);
      const policy = editing === "*" ? all.default : (current?.policy ?? null);
      const own = editing === "*" ? all.default !== null : current?.source === "user";
      const title =
        editing === "*"
          ? "Edit the default (*)"
          : editing
            ? `Edit limits of ${editing}`
            : "Set limits for a user";
      const close = el("a", { href: linkTo({ edit: "", add: "" }), "data-route": "" }, "Cancel");
      root.append(
        section(
          title,
          limitsForm(editing, policy, own, () => navigate({ edit: "", add: "" })),
          close,
        ),
      );
    }

    root.append(
      section("Spend against budget, this period", limitsTable(users)),
      section("Rejected requests", rejectedTable(rejected)),
    );
  },
};
