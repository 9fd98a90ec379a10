/**
 * Stacked bar chart as SVG (the dashboard only needs bars, so no chart library). Each bar segment
 * carries data-day, data-key and data-value, and a <title> tooltip.
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
}

export function stackedBars(container: HTMLElement, chart: StackedBars): void {
  const { days, keys, colorOf, valueAt, format } = chart;
  const width = 600;
  const height = 220;
  const left = 56;
  const bottom = 22;
  const top = 8;
  const totals = days.map((day) => keys.reduce((sum, key) => sum + valueAt(day, key), 0));
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
          "data-day": day,
          "data-key": key,
          "data-value": value,
        }),
      );
      rect.appendChild(svg("title")).textContent = `${day} · ${key}: ${format(value)}`;
    }
    if (days.length <= 10 || i % Math.ceil(days.length / 8) === 0 || i === days.length - 1) {
      const label = root.appendChild(
        svg("text", { x: (x + barW / 2).toFixed(2), y: height - 6, "text-anchor": "middle" }),
      );
      label.textContent = day.slice(5);
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
