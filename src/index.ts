/** Worker entry: HTTP (Hono), the records queue consumers, and the retention cron. */
import { app } from "./app";
import { type Env, getConfig } from "./config";
import { consumeDeadLetters, consumeRecords } from "./recorder/consumer";
import { deleteOldRecords } from "./retention";

// The per-user limits Durable Object (wrangler.toml: LIMITER).
export { UserLimiter } from "./limits/limiter";

export default {
  fetch: app.fetch,
  async queue(batch: MessageBatch<unknown>, env: Env): Promise<void> {
    if (batch.queue.endsWith("-dlq")) return consumeDeadLetters(batch, env.DB);
    const retryBaseSeconds = Number(env.RECORDS_RETRY_BASE_SECONDS ?? 2);
    await consumeRecords(batch, env.DB, {
      retryBaseSeconds: Number.isFinite(retryBaseSeconds) ? retryBaseSeconds : 2,
    });
  },
  // Awaited (not waitUntil) so a failed run shows as a failed cron invocation.
  async scheduled(_controller: ScheduledController, env: Env): Promise<void> {
    await deleteOldRecords(env.DB, getConfig(env).retentionDays);
  },
} satisfies ExportedHandler<Env>;
