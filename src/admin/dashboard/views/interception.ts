/**
 * One interception in the side panel (?interception=<id>, over any view): who, what, tokens per
 * upstream call, the prompt, tool calls with their inputs, thoughts. All text via textContent.
 */
import { api, type InterceptionDetail } from "../api";
import { el, numCell, table } from "../dom";
import { fmtInt, fmtTime, fmtUsd } from "../format";
import { redactionCount } from "../parts/interceptions-table";
import { linkTo, navigate } from "../route";
import type { Panel } from "./view";

function block(container: HTMLElement, title: string | null, text: string): void {
  const wrap = container.appendChild(el("div"));
  if (title) wrap.appendChild(el("strong", {}, title));
  wrap.appendChild(el("pre", {}, text));
}

function link(text: string, href: string): HTMLAnchorElement {
  return el("a", { href, "data-route": "" }, text);
}

export const interceptionPanel: Panel = {
  param: "interception",
  async render(id, root) {
    const d = await api<InterceptionDetail>(`/interceptions/${encodeURIComponent(id)}`);
    const box = el("section", { id: "detail" });
    const heading = box.appendChild(el("h2", {}, "Interception "));
    heading.appendChild(el("code", { id: "detail-id" }, d.id));
    const close = heading.appendChild(el("button", { id: "detail-close", type: "button" }, "Close"));
    close.addEventListener("click", () => navigate({ interception: "" }));

    const meta = box.appendChild(el("dl", { id: "detail-meta" }));
    const status = d.status + (d.stop_reason ? ` (${d.stop_reason})` : "");
    const rows: [string, string | Node][] = [
      ["User", link(d.user, linkTo({ view: "user", user: d.user }))],
      ["Model", d.model],
      ["API", `${d.provider} ${d.api}`],
      ["Client", d.client],
      [
        "Session",
        d.session_id ? link(d.session_id, linkTo({ view: "session", session: d.session_id })) : "–",
      ],
      ["Status", status],
      ["Started", fmtTime(d.started_at)],
      ["Duration", d.duration_ms === null ? "–" : `${d.duration_ms} ms`],
      ["Cost", fmtUsd(d.cost_micros)],
    ];
    if (d.error) rows.push(["Error", `${d.error.type}${d.error.message ? `: ${d.error.message}` : ""}`]);
    if (d.recording) {
      const r = d.recording;
      rows.push(["Recorded", `${r.content ?? "–"}${r.source ? ` (set by ${r.source})` : ""}`]);
      const kinds = Object.entries(r.redactions ?? {}).sort(
        (a, b) => b[1] - a[1] || a[0].localeCompare(b[0]),
      );
      const text = kinds.length > 0 ? kinds.map(([kind, n]) => `${kind} × ${n}`).join(", ") : "none";
      rows.push([
        "Secrets redacted",
        el("span", { id: "detail-redactions", "data-value": redactionCount(r.redactions) }, text),
      ]);
    }
    for (const [label, value] of rows) {
      meta.appendChild(el("dt", {}, label));
      meta.appendChild(el("dd")).append(value);
    }

    box.appendChild(el("h3", {}, "Tokens"));
    const tokens = table("detail-tokens", ["Input", "Output", "Cache read", "Cache write", "Other", "Cost"]);
    for (const u of d.token_usages) {
      const tr = tokens.body.appendChild(el("tr"));
      tr.appendChild(numCell(u.input_tokens, fmtInt(u.input_tokens), "input"));
      tr.appendChild(numCell(u.output_tokens, fmtInt(u.output_tokens), "output"));
      tr.appendChild(numCell(u.cache_read_input_tokens, fmtInt(u.cache_read_input_tokens), "cache_read"));
      tr.appendChild(numCell(u.cache_write_input_tokens, fmtInt(u.cache_write_input_tokens), "cache_write"));
      tr.appendChild(el("td", {}, u.extra_token_types ? JSON.stringify(u.extra_token_types) : ""));
      tr.appendChild(numCell(u.cost_micros, fmtUsd(u.cost_micros), "cost"));
    }
    box.appendChild(el("div", { class: "scroll" })).appendChild(tokens.table);

    box.appendChild(el("h3", {}, "Prompt"));
    const prompts = box.appendChild(el("div", { id: "detail-prompts" }));
    for (const p of d.prompts) block(prompts, null, p.prompt);
    if (d.prompts.length === 0) prompts.textContent = "No prompt recorded.";

    box.appendChild(el("h3", {}, "Tools"));
    const tools = box.appendChild(el("div", { id: "detail-tools" }));
    for (const t of d.tools) {
      const error = t.invocation_error ? ` – error: ${t.invocation_error}` : "";
      block(tools, t.tool + (t.injected ? " (injected)" : "") + error, t.input);
    }
    if (d.tools.length === 0) tools.textContent = "No tool calls.";

    box.appendChild(el("h3", {}, "Thoughts"));
    const thoughts = box.appendChild(el("div", { id: "detail-thoughts" }));
    for (const t of d.thoughts) block(thoughts, t.source, t.content);
    if (d.thoughts.length === 0) thoughts.textContent = "None recorded.";

    root.replaceChildren(box);
  },
};
