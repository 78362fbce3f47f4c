// Writes each domain event twice in the caller's transaction: to the outbox, which the relay
// publishes, and to the audit log, which is kept. Both share the event id.
import { envelopeOf, routingKeyOf } from '../../../core/events/event.js'
import type { EventLog } from '../../../core/ports.js'
import type { Db } from '../client.js'
import { events, outbox } from '../schema.js'

export const createEventLog = (db: Db): EventLog => ({
  async append (event) {
    const envelope = envelopeOf(event)
    await db.insert(outbox).values({
      eventId: event.eventId,
      eventType: event.type,
      routingKey: routingKeyOf(event),
      aggregateType: event.aggregateType,
      aggregateId: event.aggregateId,
      seq: event.seq,
      payload: envelope,
      createdAt: event.occurredAt,
      nextAttemptAt: event.occurredAt,
    })
    await db.insert(events).values({
      eventId: event.eventId,
      eventType: event.type,
      entityType: event.aggregateType,
      entityId: event.aggregateId,
      project: event.project,
      actor: event.actor,
      occurredAt: event.occurredAt,
      data: event.data,
    })
  },
})
