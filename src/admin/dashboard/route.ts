/**
 * Addressable views: the whole state of the page lives in the query string of /admin, so any view
 * with its filters (and an open interception) is a link an admin can send to a colleague, and the
 * browser's back button works. Example: /admin?view=user&user=alice%40example.com&range=30d&interception=…
 *
 * Parameters: view (a registered view's name; default "overview"), range (1d|7d|30d|90d), user,
 * model, stack (user|model), session, interception (opens the detail panel over any view).
 */
export type RouteParam = "view" | "range" | "user" | "model" | "stack" | "session" | "interception";

/**
 * The shared parameters are always there (their defaults filled in); a view may read parameters of
 * its own too (e.g. ?view=budgets&period=month) without changing this file.
 */
export type Route = Readonly<Record<RouteParam, string>> & Readonly<Record<string, string | undefined>>;

const DEFAULTS: Record<RouteParam, string> = {
  view: "overview",
  range: "7d",
  user: "",
  model: "",
  stack: "user",
  session: "",
  interception: "",
};

const PARAMS = Object.keys(DEFAULTS) as RouteParam[];

/** The route the current URL describes. */
export function currentRoute(): Route {
  const route: Record<string, string> = { ...DEFAULTS };
  for (const [name, value] of new URLSearchParams(location.search)) route[name] = value;
  return route as Route;
}

/** The URL of `route`, leaving out empty and default values so links stay short. */
export function hrefOf(route: Route | Record<string, string | undefined>): string {
  const query = new URLSearchParams();
  const names = [
    ...PARAMS,
    ...Object.keys(route)
      .filter((n) => !PARAMS.includes(n as RouteParam))
      .sort(),
  ];
  for (const name of names) {
    const value = route[name];
    if (value && value !== DEFAULTS[name as RouteParam]) query.set(name, value);
  }
  const text = query.toString();
  return text ? `/admin?${text}` : "/admin";
}

/** The link to the current route with some parameters changed ("" = back to the default). */
export function linkTo(change: Record<string, string>): string {
  return hrefOf({ ...currentRoute(), ...change });
}

/** The shared filters, kept when the admin switches views. */
const FILTER_PARAMS: RouteParam[] = ["range", "user", "model", "stack"];

/** The link to another view with the current filters (view-specific parameters are dropped). */
export function viewLink(view: string): string {
  const route = currentRoute();
  return hrefOf({ view, ...Object.fromEntries(FILTER_PARAMS.map((name) => [name, route[name]])) });
}

type Listener = (route: Route) => void;
let listener: Listener = () => {};

/** Calls `onChange` whenever the route changes (navigate, back/forward). */
export function onRouteChange(onChange: Listener): void {
  listener = onChange;
  addEventListener("popstate", () => listener(currentRoute()));
  // Same-page links (<a data-route>) navigate without reloading the page; modified clicks
  // (new tab, copy) keep the browser's own behaviour.
  document.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const link = (event.target as Element | null)?.closest?.("a[data-route]");
    if (!(link instanceof HTMLAnchorElement)) return;
    event.preventDefault();
    navigate(link.getAttribute("href") ?? "/admin");
  });
}

/** Goes to `href` (or the current route with `change` applied) and notifies the listener. */
export function navigate(target: string | Record<string, string>): void {
  const href = typeof target === "string" ? target : linkTo(target);
  if (href !== location.pathname + location.search) history.pushState(null, "", href);
  listener(currentRoute());
}
