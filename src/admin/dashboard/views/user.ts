/** One user: their totals, tokens and cost per day by model, their models, their interceptions. */
import { api, type InterceptionList, type UsageResponse } from "../api";
import { el, section } from "../dom";
import { interceptionsTable } from "../parts/interceptions-table";
import { totalsCards } from "../parts/totals";
import { usageCharts } from "../parts/usage-charts";
import { usageTable } from "../parts/usage-table";
import type { View } from "./view";

export const user: View = {
  name: "user",
  title: "User",
  inNav: false,
  filters: ["range", "user", "model"],
  async render({ route, root, stale }) {
    if (!route.user) {
      root.append(el("p", { class: "hint" }, "Pick a user above, or click one in the overview."));
      return;
    }
    const filter = { from: route.range, user: route.user, model: route.model };
    const [byModel, byDay, list] = await Promise.all([
      api<UsageResponse>("/usage", { ...filter, group_by: "model" }),
      api<UsageResponse>("/usage", { ...filter, group_by: "day,model" }),
      api<InterceptionList>("/interceptions", { ...filter, limit: "25" }),
    ]);
    if (stale()) return;
    const title = el("h2", { class: "view-title" }, route.user);
    title.appendChild(el("small", {}, "user"));
    root.append(
      title,
      totalsCards(byModel.totals),
      usageCharts(byDay.rows, "model", byDay.from),
      section("Models", usageTable("models-table", byModel.rows, "model")),
      section(
        "Interceptions",
        interceptionsTable(list, (cursor) =>
          api<InterceptionList>("/interceptions", { ...filter, limit: "25", cursor }),
        ),
      ),
    );
  },
};
