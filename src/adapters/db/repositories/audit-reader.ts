// Reads the audit log for the verifier, in (chain, chain_seq, id) order with a keyset cursor:
// each page is an index range scan on events_chain_seq_key, however long the log is. `id`
// breaks ties only if duplicate sequence numbers were ever forced in.
import { and, asc, eq, sql } from 'drizzle-orm'
import type { AuditReader, StoredAuditRow } from '../../../core/ports.js'
import type { Db } from '../client.js'
import { events } from '../schema.js'

export const createAuditReader = (db: Db): AuditReader => ({
  async page ({ chain, after, limit }) {
    const rows = await db.select({
      id: events.id,
      chain: events.chain,
      chainSeq: events.chainSeq,
      eventId: events.eventId,
      eventType: events.eventType,
      entityType: events.entityType,
      entityId: events.entityId,
      project: events.project,
      actor: events.actor,
      occurredAt: events.occurredAt,
      data: events.data,
      keyId: events.keyId,
      prevMac: events.prevMac,
      mac: events.mac,
    }).from(events)
      .where(and(
        chain !== undefined ? eq(events.chain, chain) : undefined,
        after ? sql`(${events.chain}, ${events.chainSeq}, ${events.id}) > (${after.chain}, ${after.chainSeq}, ${after.id})` : undefined,
      ))
      .orderBy(asc(events.chain), asc(events.chainSeq), asc(events.id))
      .limit(limit)
    return rows satisfies StoredAuditRow[]
  },
})
