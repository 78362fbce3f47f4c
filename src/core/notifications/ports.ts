// The ports of webhook notifications: the store of deliveries, reminders and the fan-out
// cursor (src/adapters/db/repositories/notifications.ts), and the HTTP client that makes a
// request (src/adapters/notifications/webhook-sender.ts).
import type { NotificationKind } from './notification.js'

export const DELIVERY_STATUSES = ['pending', 'sending', 'delivered', 'dead'] as const
export type DeliveryStatus = typeof DELIVERY_STATUSES[number]

export interface NotificationDelivery {
  id: string
  idempotencyKey: string
  webhookId: string
  kind: NotificationKind
  eventId: string
  eventType: string
  routingKey: string
  /** What the body is built from: `type`, `project`, `occurred_at`, `data` and, for an event, `event` (its envelope). */
  payload: Record<string, unknown>
  status: DeliveryStatus
  attempts: number
  maxAttempts: number
  nextAttemptAt: Date
  lastError: string | null
  lastStatusCode: number | null
  createdAt: Date
  deliveredAt: Date | null
  deadAt: Date | null
}

export type NewDelivery = Pick<NotificationDelivery, 'id' | 'idempotencyKey' | 'webhookId' | 'kind' | 'eventId' | 'eventType' | 'routingKey' | 'payload' | 'maxAttempts'>

/** An event of the log in the live feed's order, as the fan-out reads it. */
export interface LoggedEvent {
  position: string
  eventId: string
  type: string
  routingKey: string
  project: string
  aggregateId: string
  occurredAt: Date
  data: Record<string, unknown>
  envelope: Record<string, unknown>
}

export interface PendingReminder {
  runnerId: string
  eventId: string
  project: string
  state: string
  data: Record<string, unknown>
  since: Date
  /** Seconds from `since` to the database's now, when the reminder is taken. */
  waitingSeconds: number
}

export interface NotificationRepository {
  /** Creates the cursor at `position` unless it exists. */
  initCursor(position: string): Promise<void>
  /** Locks the cursor until the transaction ends; null when another transaction holds it (or there is none). */
  lockCursor(): Promise<string | null>
  moveCursor(position: string): Promise<void>
  /** Up to `limit` events placed after `after` and at or before `until`, in the feed's order. */
  readEvents(after: string, until: string, limit: number): Promise<LoggedEvent[]>
  /** Inserts what is not there yet (by idempotency key); returns how many were new. */
  enqueue(deliveries: NewDelivery[]): Promise<number>
  /** The runner now waits: its reminder is this wait's (a reminder already sent for an earlier wait is replaced). */
  scheduleReminder(reminder: { runnerId: string, eventId: string, project: string, state: string, data: Record<string, unknown>, since: Date, dueAt: Date }): Promise<void>
  /** The runner no longer waits: its reminder, if not sent, is dropped. */
  cancelReminder(runnerId: string): Promise<void>
  /** Reminders due and not sent, marked sent (the caller's transaction enqueues their deliveries). */
  takeDueReminders(limit: number): Promise<PendingReminder[]>

  /** Claims up to `limit` due deliveries of one webhook (pending and due, or sending with an ended lease) under `leaseId`. */
  claim(webhookId: string, limit: number, leaseId: string, leaseMs: number): Promise<NotificationDelivery[]>
  /** Conditional on the lease: false when another daemon has taken the row over. */
  markDelivered(id: string, leaseId: string, statusCode: number): Promise<boolean>
  markFailed(id: string, leaseId: string, outcome: { error: string, statusCode: number | null, retryInMs: number, dead: boolean }): Promise<boolean>
  /** Newest first; `before` an id to page on. */
  list(filter: { status?: DeliveryStatus, webhookId?: string, before?: string, limit: number }): Promise<NotificationDelivery[]>
  find(id: string): Promise<NotificationDelivery | null>
  /** A dead delivery back to pending with its attempts reset; null when it is not dead (or not there). */
  retryDead(id: string): Promise<NotificationDelivery | null>
}

export interface WebhookRequest {
  url: string
  headers: Record<string, string>
  body: string
  /** HMAC-SHA256 key: the sender adds the timestamp and signature headers. */
  secret: string | null
  timeoutMs: number
  /** Aborts the request (a forced shutdown). */
  signal?: AbortSignal
}

export type WebhookResponse = { ok: true, statusCode: number } | { ok: false, statusCode: number | null, error: string }

export interface WebhookSender {
  send(request: WebhookRequest): Promise<WebhookResponse>
}
