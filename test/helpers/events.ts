// Events for tests of the live feed: committed through the real event log (outbox row and
// audit row in one unit of work), and published the way the relay publishes them.
import { inArray } from 'drizzle-orm'
import { outbox } from '../../src/adapters/db/schema.js'
import type { Context } from '../../src/context.js'
import type { DomainEvent, EventType } from '../../src/core/events/event.js'
import type { BusMessage } from '../../src/core/ports.js'

export interface EventSpec { project: string, type?: EventType, data?: Record<string, unknown> }

export const domainEvent = (ctx: Context, { project, type = 'runner.launched', data = {} }: EventSpec): DomainEvent => ({
  eventId: ctx.ids.next(),
  type,
  occurredAt: ctx.clock.now(),
  project,
  aggregateType: type.startsWith('project.') ? 'project' : 'runner',
  aggregateId: type.startsWith('project.') ? project : ctx.ids.next(),
  seq: 1,
  actor: 'test',
  data,
})

/** Commits each event in its own unit of work, in order; returns them. */
export const commitEvents = async (ctx: Context, specs: EventSpec[]): Promise<DomainEvent[]> => {
  const committed: DomainEvent[] = []
  for (const spec of specs) {
    const event = domainEvent(ctx, spec)
    await ctx.uow.run(tx => tx.events.append(event))
    committed.push(event)
  }
  return committed
}

/** What the relay does: reads the outbox rows and publishes them (in the order given). */
export const publishEvents = async (ctx: Context, eventIds: string[]): Promise<void> => {
  if (eventIds.length === 0) return
  const rows = await ctx.database.db.select().from(outbox).where(inArray(outbox.eventId, [...new Set(eventIds)]))
  const byId = new Map(rows.map(r => [r.eventId, r]))
  const messages: BusMessage[] = eventIds.map(id => {
    const row = byId.get(id)
    if (!row) throw new Error(`no outbox row for event ${id}`)
    return { routingKey: row.routingKey, messageId: row.eventId, type: row.eventType, timestamp: row.createdAt, body: row.payload }
  })
  const outcomes = await ctx.bus.publishBatch(messages)
  const refused = outcomes.filter(o => !o.ok)
  if (refused.length > 0) throw new Error(`the bus refused ${refused.length} message(s): ${JSON.stringify(refused[0])}`)
}
