// The fan-out: turns events of the log into deliveries, one per matching webhook, and
// schedules and takes the reminders of runners that wait for a person. One pass is one
// transaction that locks the cursor row: the events after the cursor (up to the feed's head,
// a page at a time), their deliveries and reminders, and the cursor moved past them commit
// together or not at all. So an event is fanned out exactly once, whichever daemon does it,
// and a daemon that dies mid-pass leaves the cursor where the last committed pass put it.
// Another daemon's pass finds the row locked and skips (SKIP LOCKED): it never waits.
import type { Clock, IdGenerator, UnitOfWork } from '../ports.js'
import { ACTIVITY_TYPE, REMINDER_TYPE, WAITING_STATES, type NotificationKind } from './notification.js'
import type { LoggedEvent, NewDelivery, NotificationRepository, PendingReminder } from './ports.js'
import { reminderRoutingKey, webhookMatches, type Webhook } from './webhook.js'

/** The events that end a runner's wait without an activity event of their own. */
const RUNNER_ENDED = new Set(['runner.stopped', 'runner.failed'])

export interface FanOutOptions {
  uow: UnitOfWork
  /** Places what has committed in the feed's order and returns the last place (EventFeedSource.head). */
  feedHead: () => Promise<string>
  webhooks: Webhook[]
  ids: IdGenerator
  clock: Clock
  maxAttempts: number
  /** 0: no reminders. */
  remindAfterSeconds: number
  pageSize?: number
  /** Tests only: runs once the pass holds the cursor lock and has read its first page. */
  afterRead?: () => Promise<void>
}

export interface FanOutResult { events: number, deliveries: number, reminders: number, skipped: boolean }

type Tx = { notifications: NotificationRepository }

const sinceOf = (event: LoggedEvent): Date => {
  const since = typeof event.data.since === 'string' ? new Date(event.data.since) : null
  return since && !Number.isNaN(since.getTime()) ? since : event.occurredAt
}

export const createNotificationFanOut = (options: FanOutOptions) => {
  const { uow, feedHead, webhooks, ids, maxAttempts, remindAfterSeconds, pageSize = 500, afterRead } = options

  const deliveriesFor = (kind: NotificationKind, eventId: string, type: string, routingKey: string, payload: Record<string, unknown>): NewDelivery[] =>
    webhooks.filter(w => webhookMatches(w, routingKey)).map(w => ({
      id: ids.next(),
      idempotencyKey: `${kind === 'reminder' ? 'reminder:' : ''}${eventId}:${w.id}`,
      webhookId: w.id,
      kind,
      eventId,
      eventType: type,
      routingKey,
      payload,
      maxAttempts,
    }))

  const eventDeliveries = (e: LoggedEvent) => deliveriesFor('event', e.eventId, e.type, e.routingKey, {
    type: e.type, project: e.project, occurred_at: e.occurredAt.toISOString(), data: e.data, event: e.envelope,
  })

  const reminderDeliveries = (r: PendingReminder) => deliveriesFor('reminder', r.eventId, REMINDER_TYPE, reminderRoutingKey(r.project), {
    type: REMINDER_TYPE,
    project: r.project,
    occurred_at: new Date(r.since.getTime() + r.waitingSeconds * 1000).toISOString(),
    data: { ...r.data, runnerId: r.runnerId, state: r.state, since: r.since.toISOString(), waitingSeconds: Math.round(r.waitingSeconds), activityEventId: r.eventId },
  })

  const track = async (tx: Tx, e: LoggedEvent) => {
    if (remindAfterSeconds === 0) return
    if (e.type === ACTIVITY_TYPE) {
      const runnerId = typeof e.data.runnerId === 'string' && e.data.runnerId ? e.data.runnerId : e.aggregateId
      const state = String(e.data.state ?? '')
      if (!WAITING_STATES.has(state)) return tx.notifications.cancelReminder(runnerId)
      const since = sinceOf(e)
      await tx.notifications.scheduleReminder({
        runnerId, eventId: e.eventId, project: e.project, state, data: e.data, since, dueAt: new Date(since.getTime() + remindAfterSeconds * 1000),
      })
    } else if (RUNNER_ENDED.has(e.type)) {
      await tx.notifications.cancelReminder(e.aggregateId)
    }
  }

  return {
    async fanOutOnce (): Promise<FanOutResult> {
      // Placing events takes the feed's own lock: done in its own statement, before ours.
      const head = await feedHead()
      return uow.run(async tx => {
        const result: FanOutResult = { events: 0, deliveries: 0, reminders: 0, skipped: false }
        await tx.notifications.initCursor(head)
        let cursor = await tx.notifications.lockCursor()
        if (cursor === null) return { ...result, skipped: true }
        for (;;) {
          const page = await tx.notifications.readEvents(cursor, head, pageSize)
          if (afterRead && result.events === 0) await afterRead()
          const batch: NewDelivery[] = []
          for (const e of page) {
            batch.push(...eventDeliveries(e))
            await track(tx, e)
          }
          result.deliveries += await tx.notifications.enqueue(batch)
          result.events += page.length
          if (page.length > 0) cursor = page.at(-1)!.position
          if (page.length < pageSize) break
        }
        await tx.notifications.moveCursor(cursor)
        // Only now, with every event up to the head seen: a runner whose next activity event
        // committed before this pass has had its reminder cancelled above.
        if (remindAfterSeconds > 0) {
          const due = await tx.notifications.takeDueReminders(pageSize)
          result.reminders = due.length
          result.deliveries += await tx.notifications.enqueue(due.flatMap(reminderDeliveries))
        }
        return result
      })
    },
  }
}

export type NotificationFanOut = ReturnType<typeof createNotificationFanOut>
