/** Worker entry: HTTP (Hono), the records queue consumer, and the retention cron. */
import { app } from "./app";
import type { Env } from "./config";
import { consumeRecords } from "./recorder/consumer";

export default {
  fetch: app.fetch,
  async queue(batch: MessageBatch<unknown>, env: Env): Promise<void> {
    await consumeRecords(batch, env.DB);
  },
} satisfies ExportedHandler<Env>;
