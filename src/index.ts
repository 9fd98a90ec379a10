/**
 * Worker entry: HTTP (the provider routes, then the Hono app), the records queue consumers, and
 * the retention cron.
 */
import { app } from "./app";
import { BACKGROUND_QUEUE, consumeBackground } from "./background/follow";
import { type Env, getConfig } from "./config";
import { providerFetch } from "./providers/mount";
import { consumeDeadLetters, consumeRecords } from "./recorder/consumer";
import { contentStore, deleteOldContent } from "./recorder/content";
import { deleteOldRecords } from "./retention";

// The per-user limits Durable Object (wrangler.toml: LIMITER).
export { UserLimiter } from "./limits/limiter";

export default {
  // Provider routes go straight to their API's app; everything else (and CORS) through the app.
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response> {
    return providerFetch(request, env, ctx) ?? app.fetch(request, env, ctx);
  },
  async queue(batch: MessageBatch<unknown>, env: Env): Promise<void> {
    if (batch.queue.endsWith("-dlq")) return consumeDeadLetters(batch, env.DB);
    if (batch.queue === BACKGROUND_QUEUE) return consumeBackground(batch, env);
    // Validated like every other setting: a bad value throws a ConfigError naming the variable, and
    // the batch is retried by the queue rather than written with a made-up delay.
    await consumeRecords(batch, env.DB, {
      retryBaseSeconds: getConfig(env).recordsRetryBaseSeconds,
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
