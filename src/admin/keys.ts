/** /admin/v1/keys: create, list and revoke gateway keys over HTTP. */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { createKey, listKeys, revokeKey } from "../auth/keys";

export const adminKeyRoutes = new Hono<AppEnv>();

adminKeyRoutes.get("/", async (c) => {
  const user = c.req.query("user") || undefined;
  return c.json({ keys: await listKeys(c.env.DB, user) });
});

adminKeyRoutes.post("/", async (c) => {
  let body: { user?: unknown; name?: unknown };
  try {
    body = await c.req.json();
  } catch {
    return c.json({ error: 'Send a JSON body: {"user": "alice@example.com", "name": "laptop"}.' }, 400);
  }
  const user = typeof body.user === "string" ? body.user.trim() : "";
  if (!user || user.length > 320)
    return c.json({ error: "user: a non-empty string (≤ 320 characters) is required." }, 400);
  const name = typeof body.name === "string" && body.name.trim() ? body.name.trim().slice(0, 200) : null;
  const created = await createKey(c.env.DB, user, name);
  return c.json(created, 201);
});

adminKeyRoutes.delete("/:id", async (c) => {
  const revoked = await revokeKey(c.env.DB, c.req.param("id"));
  if (!revoked) return c.json({ error: "No such key." }, 404);
  return c.json({ id: c.req.param("id"), revoked: true });
});
