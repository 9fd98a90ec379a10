/**
 * The dashboard's entry (bundled into /admin/dashboard.js by scripts/build-dashboard.mjs): sign-in,
 * navigation, and rendering the route's view and panel. Views live in views/ (docs/dashboard.md).
 */
import { token, Unauthorized } from "./api";
import { byId, el } from "./dom";
import { bindFilters, showFilters } from "./filters";
import { markSelected } from "./parts/interceptions-table";
import { currentRoute, hrefOf, onRouteChange, type Route, viewLink } from "./route";
import { PANELS, VIEWS } from "./views";

let generation = 0;
let renderedView = "";
let loads = 0;

function showError(error: unknown): void {
  if (error instanceof Unauthorized) signOut(error.message);
  else byId("status").textContent = `Error: ${error instanceof Error ? error.message : String(error)}`;
}

function renderNav(route: Route): void {
  const nav = byId("nav");
  nav.replaceChildren();
  for (const view of VIEWS) {
    if (!view.inNav && view.name !== route.view) continue;
    const link = nav.appendChild(el("a", { href: viewLink(view.name), "data-route": "" }));
    link.textContent = view.title;
    if (view.name === route.view) link.setAttribute("aria-current", "page");
  }
}

/** Renders the view unless only the panel changed, then the panel. */
async function render(route: Route): Promise<void> {
  const panelParams = PANELS.map((p) => p.param);
  const viewKey = hrefOf(Object.fromEntries(Object.entries(route).filter(([k]) => !panelParams.includes(k))));
  const mine = ++generation;
  const stale = () => mine !== generation;
  const jobs: Promise<void>[] = [renderPanel(route)];
  if (viewKey !== renderedView) {
    renderedView = viewKey;
    jobs.push(renderView(route, stale));
  } else {
    markSelected(route.interception);
  }
  byId("status").textContent = "Loading…";
  try {
    await Promise.all(jobs);
    if (stale()) return;
    byId("status").textContent = `Updated ${new Date().toLocaleTimeString()}`;
    // A load counter, so tests (and scripts) can wait for a refresh to finish.
    document.body.setAttribute("data-loads", String(++loads));
  } catch (error) {
    if (!stale()) showError(error);
  }
}

async function renderView(route: Route, stale: () => boolean): Promise<void> {
  const view = VIEWS.find((v) => v.name === route.view) ?? VIEWS[0]!;
  renderNav(route);
  const content = el("div");
  await Promise.all([showFilters(route, view.filters), view.render({ route, root: content, stale })]);
  if (!stale()) byId("view").replaceChildren(content);
}

async function renderPanel(route: Route): Promise<void> {
  const aside = byId("panel");
  const panel = PANELS.find((p) => route[p.param]);
  if (!panel) {
    aside.hidden = true;
    byId("panel-body").replaceChildren();
    return;
  }
  const body = el("div");
  await panel.render(route[panel.param] ?? "", body, route);
  byId("panel-body").replaceChildren(...body.childNodes);
  aside.hidden = false;
}

function signOut(message: string): void {
  token.clear();
  renderedView = "";
  byId("app").hidden = true;
  byId("sign-out").hidden = true;
  byId("sign-in").hidden = false;
  byId("sign-in-error").textContent = message;
}

function start(): void {
  byId("sign-in").hidden = true;
  byId("app").hidden = false;
  byId("sign-out").hidden = false;
  void render(currentRoute());
}

function init(): void {
  byId("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = byId<HTMLInputElement>("token");
    token.set(input.value.trim());
    input.value = "";
    start();
  });
  byId("sign-out").addEventListener("click", () => signOut(""));
  bindFilters();
  onRouteChange((route) => {
    if (token.get()) void render(route);
  });
  addEventListener("unhandledrejection", (event) => showError(event.reason));
  if (token.get()) start();
  else signOut("");
}

// A module script runs after the document is parsed.
init();
