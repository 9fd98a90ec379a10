/**
 * Secrets redacted before storage (docs/redaction.md): how many per user and per kind, and how each
 * user's interceptions were recorded (redacted / full / none; opted down by the client). Counts
 * only: the values were never stored.
 */
import { api, type RedactionsResponse } from "../api";
import { el, emptyRow, numCell, section, table } from "../dom";
import { fmtInt } from "../format";
import { linkTo } from "../route";
import type { View } from "./view";

function cards(byKind: RedactionsResponse, byUser: RedactionsResponse): HTMLElement {
  const box = el("section", { id: "redaction-totals", class: "totals", "aria-label": "Redactions" });
  const secrets = byKind.rows.reduce((sum, r) => sum + r.redactions, 0);
  const interceptions = byUser.rows.reduce((sum, r) => sum + r.interceptions_with_redactions, 0);
  const recorded = byUser.recording.reduce((sum, r) => sum + r.interceptions, 0);
  const list: [string, number, string][] = [
    ["secrets", secrets, "secrets redacted"],
    ["interceptions", interceptions, "interceptions with a secret"],
    ["recorded", recorded, "interceptions recorded"],
  ];
  for (const [id, value, label] of list) {
    const card = box.appendChild(el("div", { class: "card", id: `redaction-${id}`, "data-value": value }));
    card.appendChild(el("b", {}, fmtInt(value)));
    card.appendChild(el("span", {}, label));
  }
  return box;
}

function usersTable(answer: RedactionsResponse): HTMLTableElement {
  const { table: node, body } = table("redaction-users", [
    "User",
    "Secrets redacted",
    "Interceptions with secrets",
    "Recorded redacted",
    "Full",
    "None",
    "Opted down",
  ]);
  const counts = new Map(answer.rows.map((r) => [r.user ?? "", r]));
  const users = [
    ...new Set([...answer.rows.map((r) => r.user ?? ""), ...answer.recording.map((r) => r.user)]),
  ];
  users.sort(
    (a, b) => (counts.get(b)?.redactions ?? 0) - (counts.get(a)?.redactions ?? 0) || a.localeCompare(b),
  );
  for (const user of users) {
    const c = counts.get(user);
    const rec = answer.recording.find((r) => r.user === user);
    const tr = body.appendChild(el("tr", { "data-user": user }));
    tr.appendChild(el("td", { "data-col": "user" })).appendChild(
      el("a", { href: linkTo({ view: "user", user }), "data-route": "" }, user),
    );
    tr.appendChild(numCell(c?.redactions ?? 0, fmtInt(c?.redactions ?? 0), "redactions"));
    tr.appendChild(
      numCell(
        c?.interceptions_with_redactions ?? 0,
        fmtInt(c?.interceptions_with_redactions ?? 0),
        "interceptions",
      ),
    );
    tr.appendChild(numCell(rec?.redacted ?? 0, fmtInt(rec?.redacted ?? 0), "redacted"));
    tr.appendChild(numCell(rec?.full ?? 0, fmtInt(rec?.full ?? 0), "full"));
    tr.appendChild(numCell(rec?.none ?? 0, fmtInt(rec?.none ?? 0), "none"));
    tr.appendChild(numCell(rec?.opted_down ?? 0, fmtInt(rec?.opted_down ?? 0), "opted_down"));
  }
  if (users.length === 0) emptyRow(body, 7, "Nothing recorded in this range.");
  return node;
}

function kindsTable(answer: RedactionsResponse): HTMLTableElement {
  const { table: node, body } = table("redaction-kinds", ["Kind", "Secrets redacted", "Interceptions"]);
  const rows = [...answer.rows].sort((a, b) => b.redactions - a.redactions);
  for (const r of rows) {
    const tr = body.appendChild(el("tr", { "data-kind": r.kind ?? "" }));
    tr.appendChild(el("td", { "data-col": "kind" })).appendChild(el("code", {}, r.kind ?? ""));
    tr.appendChild(numCell(r.redactions, fmtInt(r.redactions), "redactions"));
    tr.appendChild(
      numCell(r.interceptions_with_redactions, fmtInt(r.interceptions_with_redactions), "interceptions"),
    );
  }
  if (rows.length === 0) emptyRow(body, 3, "No secret was redacted in this range.");
  return node;
}

export const redactions: View = {
  name: "redactions",
  title: "Redactions",
  inNav: true,
  filters: ["range", "user"],
  async render({ route, root, stale }) {
    const filter = { from: route.range, user: route.user };
    const [byUser, byKind] = await Promise.all([
      api<RedactionsResponse>("/redactions", { ...filter, group_by: "user" }),
      api<RedactionsResponse>("/redactions", { ...filter, group_by: "kind" }),
    ]);
    if (stale()) return;
    const pair = el("div", { class: "pair" });
    pair.append(section("By user", usersTable(byUser)), section("By kind", kindsTable(byKind)));
    root.append(
      el(
        "p",
        { class: "hint" },
        "Secrets found in prompts, tool inputs and thoughts are replaced by markers before anything is stored; only their kinds and counts are kept. Each interception's counts are in its details.",
      ),
      cards(byKind, byUser),
      pair,
    );
  },
};
