/**
 * What a dashboard view is. A view is one module in views/ listed in views/index.ts: it gets the
 * route (the URL's parameters) and an empty element, fetches what it needs from the admin API and
 * renders into the element. See docs/dashboard.md.
 */
import type { Route } from "../route";

/** The shared filter controls above every view. */
export type Filter = "range" | "user" | "model" | "stack";

export interface ViewContext {
  route: Route;
  /** The view's element, already emptied. */
  root: HTMLElement;
  /** True once a newer render has started (the admin changed something): stop rendering. */
  stale(): boolean;
}

export interface View {
  /** The ?view= value. */
  name: string;
  /** Label in the navigation. */
  title: string;
  /** Shown in the navigation; views reached through a link (one session) are not. */
  inNav: boolean;
  /** Which shared filter controls apply to this view (the others are hidden). */
  filters: Filter[];
  render(context: ViewContext): Promise<void>;
}

/** A detail panel beside the view, opened by a route parameter (e.g. ?interception=<id>). */
export interface Panel {
  /** The route parameter that opens it; its value is what to show. */
  param: string;
  render(value: string, root: HTMLElement, route: Route): Promise<void>;
}
