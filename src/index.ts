/** Worker entry: HTTP (Hono), the records queue consumers, and the retention cron. */
import { app } from "./app";
import { BACKGROUND_QUEUE, consumeBackground } from "./background/follow";
import { type Env, getConfig } from "./config";
import { consumeDeadLetters, consumeRecords } from "./recorder/consumer";
import { deleteOldRecords } from "./retention";

// The per-user limits Durable Object (wrangler.toml: LIMITER).
export { UserLimiter } from "./limits/limiter";

export default {
  fetch: app.fetch,
  async queue(batch: MessageBatch<unknown>, env: Env): Promise<void> {
    if (batch.queue.endsWith("-dlq")) return consumeDeadLetters(batch, env.DB);
    if (batch.queue === BACKGROUND_QUEUE) return consumeBackground(batch, env);
    // Validated like every other setting: a bad value throws a ConfigError naming the variable, and
    // the batch is retried by the queue rather than written with a made-up delay.
    await consumeRecords(batch, env.DB, { retryBaseSeconds: getConfig(env).recordsRetryBaseSeconds });
  },
  // Awaited (not waitUntil) so a failed run shows as a failed cron invocation.
  async scheduled(_controller: ScheduledController, env: Env): Promise<void> {
    await deleteOldRecords(env.DB, getConfig(env).retentionDays);
  },
} satisfies ExportedHandler<Env>;
