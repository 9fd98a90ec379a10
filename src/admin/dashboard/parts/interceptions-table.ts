/**
 * Interceptions, newest first. A row opens the interception in the side panel (?interception=<id>,
 * so the open detail is part of the link); "Load more" follows the API's cursor.
 */
import type { InterceptionList, InterceptionSummary } from "../api";
import { el, emptyRow, numCell, table } from "../dom";
import { fmtInt, fmtTime, fmtUsd } from "../format";
import { currentRoute, linkTo, navigate } from "../route";

/** The status, with a limit's reason when refused and the number of secrets redacted, if any. */
function statusCell(it: InterceptionSummary): HTMLTableCellElement {
  const cell = el("td", { "data-col": "status" }, it.status);
  if (it.status === "rejected" && it.error?.type) cell.textContent = `rejected: ${it.error.type}`;
  const redacted = redactionCount(it.recording?.redactions);
  cell.setAttribute("data-redactions", String(redacted));
  if (redacted > 0) cell.appendChild(el("small", { class: "redacted" }, `${fmtInt(redacted)} redacted`));
  return cell;
}

export function redactionCount(byKind: Record<string, number> | null | undefined): number {
  return Object.values(byKind ?? {}).reduce((sum, n) => sum + n, 0);
}

function row(it: InterceptionSummary): HTMLTableRowElement {
  const tr = el("tr", { "data-id": it.id, class: "clickable" });
  if (currentRoute().interception === it.id) tr.setAttribute("aria-selected", "true");
  tr.appendChild(el("td", { class: "time" })).appendChild(
    el("a", { href: linkTo({ interception: it.id }), "data-route": "" }, fmtTime(it.started_at)),
  );
  tr.appendChild(el("td", { "data-col": "user" })).appendChild(
    el("a", { href: linkTo({ view: "user", user: it.user, interception: "" }), "data-route": "" }, it.user),
  );
  tr.appendChild(el("td", { "data-col": "model" }, it.model));
  tr.appendChild(el("td", {}, it.client));
  // The session view: the conversation turn by turn, with its prompt cache.
  const session = tr.appendChild(el("td", { "data-col": "session" }));
  if (it.session_id) {
    const href = linkTo({ view: "session", session: it.session_id, interception: it.id });
    session.appendChild(el("a", { href, "data-route": "", title: it.session_id }, it.session_id));
  }
  tr.appendChild(statusCell(it));
  const t = it.tokens;
  const tokens = `${fmtInt(t.input)} / ${fmtInt(t.output)} / ${fmtInt(t.cache_read + t.cache_write)}`;
  tr.appendChild(el("td", { class: "num" }, tokens));
  tr.appendChild(numCell(it.cost_micros, fmtUsd(it.cost_micros), "cost"));
  tr.appendChild(el("td", { "data-col": "tools" }, it.tools.map((x) => x.tool).join(", ")));
  tr.appendChild(el("td", { class: "prompt", "data-col": "prompt" }, it.prompt ?? ""));
  tr.addEventListener("click", (event) => {
    if ((event.target as Element).closest("a")) return; // the link navigates by itself
    navigate({ interception: it.id });
  });
  return tr;
}

/**
 * The table for a first page; `more(cursor)` fetches the next page (omit it when the list is
 * complete, e.g. one session).
 */
export function interceptionsTable(
  first: InterceptionList,
  more?: (cursor: string) => Promise<InterceptionList>,
): HTMLElement {
  const { table: node, body } = table("interceptions-table", [
    "Started",
    "User",
    "Model",
    "Client",
    "Session",
    "Status",
    "Tokens in / out / cache",
    "Cost",
    "Tools",
    "Prompt",
  ]);
  const box = el("div");
  box.appendChild(node);
  for (const it of first.interceptions) body.appendChild(row(it));
  if (first.interceptions.length === 0) emptyRow(body, 10, "No interceptions in this range.");
  if (more) {
    const button = box.appendChild(el("button", { id: "more", type: "button" }, "Load more"));
    let cursor = first.next_cursor;
    button.hidden = !cursor;
    button.addEventListener("click", async () => {
      if (!cursor) return;
      const page = await more(cursor);
      for (const it of page.interceptions) body.appendChild(row(it));
      cursor = page.next_cursor;
      button.hidden = !cursor;
    });
  }
  return box;
}

/** Marks the row of the interception open in the panel (after the panel changed alone). */
export function markSelected(id: string): void {
  for (const tr of document.querySelectorAll("#interceptions-table tr[data-id]")) {
    if (tr.getAttribute("data-id") === id) tr.setAttribute("aria-selected", "true");
    else tr.removeAttribute("aria-selected");
  }
}
