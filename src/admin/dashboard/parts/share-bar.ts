/**
 * A thin horizontal bar for a share (0–1) inside a table cell, as SVG attributes: the CSP allows no
 * inline styles. `tone` picks the colour class (style.css: .share-bar .ok/.warn/.over).
 */
import { svg } from "../dom";

export function shareBar(share: number, title: string, tone = "ok"): SVGSVGElement {
  const clamped = Math.max(0, Math.min(1, Number.isFinite(share) ? share : 0));
  const root = svg("svg", {
    class: "share-bar",
    viewBox: "0 0 100 8",
    preserveAspectRatio: "none",
    role: "img",
    "data-share": share.toFixed(4),
  });
  root.appendChild(svg("rect", { width: 100, height: 8, class: "track" }));
  root.appendChild(svg("rect", { width: (clamped * 100).toFixed(2), height: 8, class: tone }));
  root.appendChild(svg("title")).textContent = title;
  return root;
}
