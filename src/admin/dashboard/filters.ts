/**
 * The shared filter controls (range, user, model, stack). They show the route's values, only the
 * ones the current view uses, and changing one navigates (so the filters are part of the link).
 */
import { api, type UsageResponse } from "./api";
import { byId, el } from "./dom";
import { navigate, type Route } from "./route";
import type { Filter } from "./views/view";

const FILTERS: Filter[] = ["range", "user", "model", "stack"];

function fillOptions(select: HTMLSelectElement, values: string[], allLabel: string, current: string): void {
  const all = current && !values.includes(current) ? [current, ...values] : values;
  select.replaceChildren(el("option", { value: "" }, allLabel));
  for (const value of all) select.appendChild(el("option", { value }, value));
  select.value = current;
}

export function bindFilters(): void {
  for (const name of FILTERS) {
    byId<HTMLSelectElement>(name).addEventListener("change", (event) => {
      navigate({ [name]: (event.target as HTMLSelectElement).value });
    });
  }
  byId("filters").addEventListener("submit", (event) => event.preventDefault());
}

/** Shows the route in the controls and loads the user and model choices for its range. */
export async function showFilters(route: Route, used: Filter[]): Promise<void> {
  for (const name of FILTERS) {
    const select = byId<HTMLSelectElement>(name);
    (select.closest("label") as HTMLElement).hidden = !used.includes(name);
    if (name === "range" || name === "stack") select.value = route[name];
  }
  byId("filters").hidden = used.length === 0;
  if (!used.includes("user") && !used.includes("model")) return;
  const [users, models] = await Promise.all([
    api<UsageResponse>("/usage", { from: route.range, group_by: "user" }),
    api<UsageResponse>("/usage", { from: route.range, group_by: "model" }),
  ]);
  fillOptions(
    byId("user"),
    users.rows.map((r) => r.user ?? ""),
    "All users",
    route.user,
  );
  fillOptions(
    byId("model"),
    models.rows.map((r) => r.model ?? ""),
    "All models",
    route.model,
  );
}
