// Sends due deliveries to their webhooks. Each webhook has its own slots (`concurrency`
// requests at most in flight) and every request its own timeout, so a slow or dead endpoint
// fills only its own slots: other webhooks, the fan-out and the rest of the daemon go on.
//
// A claim is a short transaction that marks rows `sending` under a lease and commits; the
// request runs outside any transaction (a slow endpoint holds no connection), and its outcome
// is written only while the lease is still ours. A daemon that dies mid-request leaves its
// rows `sending`; once their lease ends any daemon claims them again and sends them with the
// same Idempotency-Key. Failures back off exponentially to a cap, and after `maxAttempts` the
// delivery is dead: kept, listed, and retried only by hand.
import type { Clock, IdGenerator, Log } from '../ports.js'
import { renderNotification, type Notification } from './notification.js'
import type { NotificationDelivery, NotificationRepository, WebhookSender } from './ports.js'
import type { Webhook } from './webhook.js'

export interface DeliveryOptions {
  repo: NotificationRepository
  sender: WebhookSender
  webhooks: Webhook[]
  ids: IdGenerator
  clock: Clock
  log: Log
  timeoutMs: number
  concurrency: number
  retryBaseMs: number
  retryCapMs: number
  random?: () => number
}

/** base·2^(attempt-1) with ±20% jitter, never past the cap. */
export const deliveryBackoffMs = (attempt: number, baseMs: number, capMs: number, random = Math.random) =>
  Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1) * (0.8 + random() * 0.4))

export const notificationOf = (d: NotificationDelivery): Notification => ({
  key: d.idempotencyKey,
  kind: d.kind,
  type: String(d.payload.type ?? d.eventType),
  routingKey: d.routingKey,
  project: String(d.payload.project ?? ''),
  occurredAt: String(d.payload.occurred_at ?? ''),
  data: (d.payload.data ?? {}) as Record<string, unknown>,
  ...(d.payload.event ? { event: d.payload.event as Record<string, unknown> } : {}),
})

export const createNotificationDelivery = (options: DeliveryOptions) => {
  const { repo, sender, webhooks, ids, log, timeoutMs, concurrency, retryBaseMs, retryCapMs, random = Math.random } = options
  // Long enough that a live daemon's request always ends (by its timeout) before its lease.
  const leaseMs = 2 * timeoutMs + 1_000
  const inFlight = new Map<string, number>()
  const running = new Set<Promise<void>>()
  const abort = new AbortController()
  let onSettled: () => void = () => {}

  const requestOf = (webhook: Webhook, d: NotificationDelivery) => {
    const rendered = renderNotification(notificationOf(d), webhook.format)
    return {
      url: webhook.url,
      secret: webhook.secret,
      timeoutMs,
      signal: abort.signal,
      body: rendered.body,
      headers: {
        ...rendered.headers,
        'content-type': rendered.contentType,
        'idempotency-key': d.idempotencyKey,
        'x-stratavore-delivery': d.id,
        'x-stratavore-event': String(d.payload.type ?? d.eventType),
        'user-agent': 'stratavore-webhooks',
      },
    }
  }

  const deliver = async (webhook: Webhook, d: NotificationDelivery, leaseId: string) => {
    const response = await sender.send(requestOf(webhook, d)).catch((err: unknown) => ({ ok: false as const, statusCode: null, error: (err as Error).message }))
    // A forced stop: the request was cut, the row stays leased and is sent again later.
    if (abort.signal.aborted) return
    if (response.ok) {
      if (!await repo.markDelivered(d.id, leaseId, response.statusCode)) log.warn({ deliveryId: d.id }, 'notification: delivered after its lease ended')
      return
    }
    const attempt = d.attempts + 1
    const dead = attempt >= d.maxAttempts
    await repo.markFailed(d.id, leaseId, { error: response.error, statusCode: response.statusCode, retryInMs: deliveryBackoffMs(attempt, retryBaseMs, retryCapMs, random), dead })
    ;(dead ? log.warn : log.debug).call(log, { deliveryId: d.id, webhook: webhook.id, attempt, error: response.error, dead }, dead ? 'notification dead-lettered' : 'notification failed; will retry')
  }

  const start = (webhook: Webhook, d: NotificationDelivery, leaseId: string) => {
    inFlight.set(webhook.id, (inFlight.get(webhook.id) ?? 0) + 1)
    const run = deliver(webhook, d, leaseId)
      .catch(err => log.warn({ err, deliveryId: d.id }, 'notification: could not record the outcome; the lease will end and it is sent again'))
      .finally(() => {
        inFlight.set(webhook.id, inFlight.get(webhook.id)! - 1)
        running.delete(run)
        onSettled()
      })
    running.add(run)
  }

  return {
    /** Claims what each webhook has room for and starts sending it; returns how many started. */
    async deliverOnce (): Promise<number> {
      let started = 0
      for (const webhook of webhooks) {
        const free = concurrency - (inFlight.get(webhook.id) ?? 0)
        if (free <= 0 || abort.signal.aborted) continue
        const leaseId = ids.next()
        const claimed = await repo.claim(webhook.id, free, leaseId, leaseMs)
        for (const d of claimed) start(webhook, d, leaseId)
        started += claimed.length
      }
      return started
    },
    /** Called whenever a request ends (the loop then looks for more). */
    onSettled (fn: () => void) { onSettled = fn },
    inFlight: () => running.size,
    /** Resolves when every request in flight has ended and its outcome is written. */
    async drain () { while (running.size > 0) await Promise.all([...running]) },
    /** Cuts every request in flight; their rows stay leased and go out again after the lease. */
    async abort () {
      abort.abort()
      await Promise.all([...running])
    },
  }
}

export type NotificationDeliverer = ReturnType<typeof createNotificationDelivery>
