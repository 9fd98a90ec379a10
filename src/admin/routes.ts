/** Everything under /admin. */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { adminAuth } from "./auth";
import { adminKeyRoutes } from "./keys";

export const adminRoutes = new Hono<AppEnv>();

adminRoutes.use("/v1/*", adminAuth());
adminRoutes.route("/v1/keys", adminKeyRoutes);
