// The webhook notifier, run by the relay role: fans events of the log out to the configured
// webhooks (notifications.webhooks), reminds of runners that wait for a person, and sends the
// deliveries with retries. Several may run at once on one database: the fan-out is one at a
// time (the cursor row's lock) and deliveries are claimed under leases.
import { OUTBOX_CHANNEL } from '../src/adapters/db/unit-of-work.js'
import { createEventFeedSource } from '../src/adapters/db/repositories/event-feed.js'
import { createWebhookSender } from '../src/adapters/notifications/webhook-sender.js'
import type { Context } from '../src/context.js'
import { createNotificationDelivery } from '../src/core/notifications/notification-delivery.js'
import { createNotificationFanOut } from '../src/core/notifications/notification-fanout.js'
import { createNotificationLoop, type NotificationLoop } from '../src/core/notifications/notification-loop.js'
import type { WebhookSender } from '../src/core/notifications/ports.js'
import type { Part } from '../src/process/lifecycle.js'

/** The loop over a context's database and config (tests build it too, with their own poll interval). */
export const createNotifier = (ctx: Context, { pollIntervalMs = ctx.config.relay.poll_interval_ms, sender = createWebhookSender() }: { pollIntervalMs?: number, sender?: WebhookSender } = {}): NotificationLoop => {
  const n = ctx.config.notifications
  const log = ctx.logger.child({ component: 'notifications' })
  const source = createEventFeedSource(ctx.database.db)
  const fanOut = createNotificationFanOut({
    uow: ctx.uow, feedHead: () => source.head(), webhooks: ctx.config.webhooks, ids: ctx.ids, clock: ctx.clock,
    maxAttempts: n.max_attempts, remindAfterSeconds: n.remind_after_seconds,
  })
  const delivery = createNotificationDelivery({
    repo: ctx.repos.notifications, sender, webhooks: ctx.config.webhooks, ids: ctx.ids, clock: ctx.clock, log,
    timeoutMs: n.timeout_ms, concurrency: n.concurrency, retryBaseMs: n.retry_base_ms, retryCapMs: n.retry_cap_ms,
  })
  return createNotificationLoop({
    fanOut, delivery, pollIntervalMs, log,
    // A committed event wakes it at once; listening failing only leaves it polling.
    onWake: wake => {
      let unlisten: (() => Promise<void>) | null = null
      const listening = ctx.database.listen(OUTBOX_CHANNEL, wake, wake).then(stop => { unlisten = stop }, err => log.warn({ err }, 'notifications: LISTEN failed; polling'))
      return async () => { await listening; await unlisten?.() }
    },
  })
}

export const startNotifier = (ctx: Context): Part[] => {
  if (ctx.config.webhooks.length === 0) return []
  const loop = createNotifier(ctx)
  loop.start()
  ctx.logger.info({ webhooks: ctx.config.webhooks.map(w => w.id) }, 'notifications started')
  // Graceful: requests in flight end (each within notifications.timeout_ms) and are recorded.
  return [{ name: 'notifications', stop: () => loop.stop() }]
}
