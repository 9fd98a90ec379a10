/**
 * DOM helpers. Every value from the API is untrusted text (prompts, tool inputs, user names): it is
 * only ever set with textContent or as an attribute value, never parsed as HTML.
 */
const SVG_NS = "http://www.w3.org/2000/svg";

type Attrs = Record<string, string | number | null | undefined>;

function setAttrs(node: Element, attrs: Attrs | undefined): void {
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value !== null && value !== undefined) node.setAttribute(name, String(value));
  }
}

/** An HTML element with attributes and (optionally) text content. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs,
  text?: string | number | null,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/** An SVG element with attributes. */
export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs?: Attrs): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, tag);
  setAttrs(node, attrs);
  return node;
}

/** The element with this id; a missing one is a bug in the page, so it throws. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from the page`);
  return node as T;
}

/** A right-aligned number cell; data-value keeps the exact number for tests and scripts. */
export function numCell(value: number | null | undefined, text: string, col: string): HTMLTableCellElement {
  return el("td", { class: "num", "data-col": col, "data-value": value ?? "" }, text);
}

/** A table with a header row; returns the table and its body. */
export function table(
  id: string,
  headers: string[],
): { table: HTMLTableElement; body: HTMLTableSectionElement } {
  const node = el("table", { id });
  const head = node.appendChild(el("thead")).appendChild(el("tr"));
  for (const header of headers) head.appendChild(el("th", {}, header));
  const body = node.appendChild(el("tbody"));
  return { table: node, body };
}

/** A row that says there is nothing to show. */
export function emptyRow(body: HTMLTableSectionElement, columns: number, text: string): void {
  body.appendChild(el("tr")).appendChild(el("td", { colspan: columns }, text));
}

/** A section with a heading. */
export function section(title: string, ...children: Node[]): HTMLElement {
  const node = el("section");
  node.appendChild(el("h2", {}, title));
  node.append(...children);
  return node;
}
