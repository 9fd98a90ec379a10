/** Everyone's usage: totals, tokens and cost per day, the users table, recent interceptions. */
import { api, type InterceptionList, type UsageResponse } from "../api";
import { section } from "../dom";
import { interceptionsTable } from "../parts/interceptions-table";
import { totalsCards } from "../parts/totals";
import { usageCharts } from "../parts/usage-charts";
import { usageTable } from "../parts/usage-table";
import { linkTo } from "../route";
import type { View } from "./view";

export const overview: View = {
  name: "overview",
  title: "Overview",
  inNav: true,
  filters: ["range", "user", "model", "stack"],
  async render({ route, root, stale }) {
    const filter = { from: route.range, user: route.user, model: route.model };
    const stack = route.stack === "model" ? "model" : "user";
    const [byUser, byDay, list] = await Promise.all([
      api<UsageResponse>("/usage", { ...filter, group_by: "user" }),
      api<UsageResponse>("/usage", { ...filter, group_by: `day,${stack}` }),
      api<InterceptionList>("/interceptions", { ...filter, limit: "25" }),
    ]);
    if (stale()) return;
    root.append(
      totalsCards(byUser.totals),
      usageCharts(byDay.rows, stack, byDay.from),
      section(
        "Users",
        usageTable("users-table", byUser.rows, "user", (user) => linkTo({ view: "user", user })),
      ),
      section(
        "Recent interceptions",
        interceptionsTable(list, (cursor) =>
          api<InterceptionList>("/interceptions", { ...filter, limit: "25", cursor }),
        ),
      ),
    );
  },
};
