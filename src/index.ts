/** Worker entry: HTTP (Hono), the records queue consumers, and the retention cron. */
import { app } from "./app";
import { type Env, getConfig } from "./config";
import { consumeDeadLetters, consumeRecords } from "./recorder/consumer";
import { contentStore, deleteOldContent } from "./recorder/content";
import { deleteOldRecords } from "./retention";

export default {
  fetch: app.fetch,
  async queue(batch: MessageBatch<unknown>, env: Env): Promise<void> {
    if (batch.queue.endsWith("-dlq")) return consumeDeadLetters(batch, env.DB);
    const retryBaseSeconds = Number(env.RECORDS_RETRY_BASE_SECONDS ?? 2);
    await consumeRecords(batch, env.DB, {
      retryBaseSeconds: Number.isFinite(retryBaseSeconds) ? retryBaseSeconds : 2,
      content: contentStore(env),
    });
  },
  // Awaited (not waitUntil) so a failed run shows as a failed cron invocation.
  async scheduled(_controller: ScheduledController, env: Env): Promise<void> {
    const config = getConfig(env);
    await deleteOldRecords(env.DB, {
      contentDays: config.contentRetentionDays,
      usageDays: config.usageRetentionDays,
      rollupDays: config.rollupRetentionDays,
    });
    if (env.CONTENT)
      await deleteOldContent(env.CONTENT, Date.now() - config.contentRetentionDays * 86_400_000);
  },
} satisfies ExportedHandler<Env>;
