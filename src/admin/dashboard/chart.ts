/**
 * Stacked bar chart as SVG (the dashboard only needs bars, so no chart library). Each bar segment
 * carries data-day (or data-<xName>), data-key and data-value, and a <title> tooltip. A bar may
 * carry a tick (a level across it, e.g. the cache read expected) and a mark above it (e.g. a cache
 * break).
 */
import { svg } from "./dom";

export const COLORS = [
  "#3056d3",
  "#12b76a",
  "#f79009",
  "#d92d6e",
  "#7a5af8",
  "#06aed4",
  "#667085",
  "#a15c07",
];

export interface StackedBars {
  /** The x axis, one bar per entry (e.g. UTC days). */
  days: string[];
  /** The stack keys, bottom first. */
  keys: string[];
  colorOf: (key: string) => string;
  valueAt: (day: string, key: string) => number;
  format: (value: number) => string;
  /** The data attribute naming a bar's x value: data-<xName> (default "day"). */
  xName?: string;
  /** The label under a bar (default: the day without its year). */
  label?: (x: string) => string;
  /** A level drawn across the bar, or null. */
  tick?: (x: string) => { value: number; title: string } | null;
  /** A mark above the bar, or null: its short text, tooltip and data attributes. */
  mark?: (x: string) => { text: string; title: string; attrs: Record<string, string> } | null;
}

/** A level across a bar and a mark above it (see StackedBars.tick, .mark). */
function annotate(
  root: SVGSVGElement,
  chart: StackedBars,
  day: string,
  bar: { x: number; w: number; top: number; yOf: (value: number) => number },
): void {
  const tick = chart.tick?.(day);
  if (tick) {
    const y = bar.yOf(tick.value).toFixed(2);
    const line = root.appendChild(
      svg("line", {
        x1: (bar.x - 3).toFixed(2),
        x2: (bar.x + bar.w + 3).toFixed(2),
        y1: y,
        y2: y,
        class: "tick",
        "data-tick": tick.value,
      }),
    );
    line.appendChild(svg("title")).textContent = tick.title;
  }
  const mark = chart.mark?.(day);
  if (mark) {
    const top = Math.min(bar.top, tick ? bar.yOf(tick.value) : bar.top);
    const cx = bar.x + bar.w / 2;
    const group = root.appendChild(svg("g", { class: "mark", ...mark.attrs }));
    group.appendChild(svg("path", { d: `M${(cx - 5).toFixed(2)},${(top - 12).toFixed(2)} h10 l-5,8 z` }));
    const text = group.appendChild(
      svg("text", { x: cx.toFixed(2), y: (top - 15).toFixed(2), "text-anchor": "middle" }),
    );
    text.textContent = mark.text;
    group.appendChild(svg("title")).textContent = mark.title;
  }
}

export function stackedBars(container: HTMLElement, chart: StackedBars): void {
  const { days, keys, colorOf, valueAt, format } = chart;
  const width = 600;
  const height = 220;
  const left = 56;
  const bottom = 22;
  const top = chart.mark ? 30 : 8;
  const totals = days.map((day) =>
    Math.max(
      keys.reduce((sum, key) => sum + valueAt(day, key), 0),
      chart.tick?.(day)?.value ?? 0,
    ),
  );
  const max = Math.max(0, ...totals);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", preserveAspectRatio: "none" });
  const plotH = height - top - bottom;
  const slot = (width - left) / Math.max(days.length, 1);
  const barW = Math.max(2, slot * 0.7);
  root.appendChild(svg("line", { x1: left, x2: width, y1: top + plotH, y2: top + plotH, stroke: "#d0d5dd" }));
  for (const f of [0, 0.5, 1]) {
    const label = root.appendChild(
      svg("text", { x: left - 6, y: top + plotH - f * plotH + 3, "text-anchor": "end" }),
    );
    label.textContent = format(max * f);
  }
  days.forEach((day, i) => {
    const x = left + i * slot + (slot - barW) / 2;
    let y = top + plotH;
    for (const key of keys) {
      const value = valueAt(day, key);
      if (!value) continue;
      const h = max > 0 ? (value / max) * plotH : 0;
      y -= h;
      const rect = root.appendChild(
        svg("rect", {
          x: x.toFixed(2),
          y: y.toFixed(2),
          width: barW.toFixed(2),
          height: h.toFixed(2),
          fill: colorOf(key),
          [`data-${chart.xName ?? "day"}`]: day,
          "data-key": key,
          "data-value": value,
        }),
      );
      rect.appendChild(svg("title")).textContent = `${chart.label?.(day) ?? day} · ${key}: ${format(value)}`;
    }
    const yOf = (value: number) => top + plotH - (max > 0 ? (value / max) * plotH : 0);
    annotate(root, chart, day, { x, w: barW, top: y, yOf });
    if (days.length <= 10 || i % Math.ceil(days.length / 8) === 0 || i === days.length - 1) {
      const label = root.appendChild(
        svg("text", { x: (x + barW / 2).toFixed(2), y: height - 6, "text-anchor": "middle" }),
      );
      label.textContent = chart.label ? chart.label(day) : day.slice(5);
    }
  });
  container.replaceChildren(root);
}

/** Every UTC day from `fromIso` to today, so quiet days show as gaps. */
export function dayList(fromIso: string): string[] {
  const days: string[] = [];
  const today = new Date(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`).getTime();
  for (let day = new Date(`${fromIso.slice(0, 10)}T00:00:00Z`).getTime(); day <= today; day += 86_400_000) {
    days.push(new Date(day).toISOString().slice(0, 10));
  }
  return days;
}
