/** Tokens and cost per day, stacked by one dimension (user or model), with a shared legend. */
import type { UsageRow } from "../api";
import { COLORS, dayList, stackedBars } from "../chart";
import { el, svg } from "../dom";
import { fmtShort, fmtUsd } from "../format";

/** `rows` come from GET /usage?group_by=day,<stack>; `from` is that answer's range start. */
export function usageCharts(rows: UsageRow[], stack: "user" | "model", from: string): HTMLElement {
  const byKey = new Map<string, number>();
  const cell = new Map<string, UsageRow>();
  for (const r of rows) {
    const key = r[stack] ?? "";
    byKey.set(key, (byKey.get(key) ?? 0) + r.total_tokens);
    cell.set(`${r.day}\u0000${key}`, r);
  }
  const keys = [...byKey.keys()].sort((a, b) => byKey.get(b)! - byKey.get(a)!);
  const colorOf = (key: string) => COLORS[keys.indexOf(key) % COLORS.length]!;
  const days = dayList(from);
  const at = (day: string, key: string) => cell.get(`${day}\u0000${key}`);

  const figure = (id: string, caption: string) => {
    const node = el("figure");
    node.appendChild(el("figcaption", {}, caption));
    return { node, chart: node.appendChild(el("div", { id, class: "chart" })) };
  };
  const tokens = figure("tokens-chart", "Tokens per day");
  stackedBars(tokens.chart, {
    days,
    keys,
    colorOf,
    valueAt: (day, key) => at(day, key)?.total_tokens ?? 0,
    format: fmtShort,
  });
  const cost = figure("cost-chart", "Cost per day (USD)");
  stackedBars(cost.chart, {
    days,
    keys,
    colorOf,
    valueAt: (day, key) => at(day, key)?.cost_micros ?? 0,
    format: fmtUsd,
  });

  const legend = el("ul", { id: "legend", class: "legend", "aria-label": "Legend" });
  for (const key of keys) {
    const item = legend.appendChild(el("li", { "data-key": key }));
    item
      .appendChild(svg("svg", { viewBox: "0 0 10 10" }))
      .appendChild(svg("rect", { width: 10, height: 10, fill: colorOf(key) }));
    item.appendChild(document.createTextNode(key));
  }
  const box = el("section", { class: "charts" });
  box.append(tokens.node, cost.node, legend);
  return box;
}
