// Writes each domain event twice in the caller's transaction: to the outbox, which the relay
// publishes, and to the audit log, which is kept. Both share the event id. One statement does
// both (a data-modifying CTE): events are on every write path, so a round trip matters.
import { sql } from 'drizzle-orm'
import { envelopeOf, routingKeyOf } from '../../../core/events/event.js'
import type { EventLog } from '../../../core/ports.js'
import type { Db } from '../client.js'
import { events, outbox } from '../schema.js'

export const createEventLog = (db: Db): EventLog => ({
  async append (event) {
    const at = event.occurredAt.toISOString()
    await db.execute(sql`
      with queued as (
        insert into ${outbox} (event_id, event_type, routing_key, aggregate_type, aggregate_id, seq, payload, created_at, next_attempt_at)
        values (${event.eventId}, ${event.type}, ${routingKeyOf(event)}, ${event.aggregateType}, ${event.aggregateId}, ${event.seq},
                ${JSON.stringify(envelopeOf(event))}::jsonb, ${at}::timestamptz, ${at}::timestamptz)
      )
      insert into ${events} (event_id, event_type, entity_type, entity_id, project, actor, occurred_at, data)
      values (${event.eventId}, ${event.type}, ${event.aggregateType}, ${event.aggregateId}, ${event.project}, ${event.actor},
              ${at}::timestamptz, ${JSON.stringify(event.data)}::jsonb)`)
  },
})
