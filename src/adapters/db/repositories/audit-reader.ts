// Reads the audit log for the verifier, in (chain, chain_seq, id) order with a keyset cursor:
// each page is an index range scan on events_chain_seq_key, however long the log is. `id`
// breaks ties only if duplicate sequence numbers were ever forced in. heads() and probe() serve
// audit checkpoints (src/core/audit/checkpoint.ts): a few index probes per chain, never a scan.
import { and, asc, eq, sql } from 'drizzle-orm'
import type { AuditReader, HeadProbe, StoredAuditRow } from '../../../core/ports.js'
import { rowsOf, type Db } from '../client.js'
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
  // Postgres before 18 has no skip scan: a plain DISTINCT ON would read every row. The recursive
  // CTE hops from one chain to the next on events_chain_seq_key (a loose index scan), then reads
  // each chain's newest row from the same index. `>` compares in the column's collation, as
  // the index is ordered, so no chain is skipped whatever the collation.
  async heads () {
    const result = await db.execute(sql`
      with recursive chains(chain) as (
        (select chain from events order by chain limit 1)
        union all
        select (select e.chain from events e where e.chain > c.chain order by e.chain limit 1) from chains c where c.chain is not null
      )
      select c.chain, h.chain_seq as seq, coalesce(h.mac, '') as mac
      from chains c
      cross join lateral (select e.chain_seq, e.mac from events e where e.chain = c.chain order by e.chain_seq desc limit 1) h
      where c.chain is not null`)
    return rowsOf<{ chain: string, seq: number | string, mac: string }>(result).map(r => ({ chain: r.chain, seq: Number(r.seq), mac: r.mac }))
  },

  async probe (positions) {
    if (positions.length === 0) return []
    const result = await db.execute(sql`
      select p.chain, coalesce(h.head, 0) as head_seq, r.id is not null as present, r.mac as mac_at
      from jsonb_to_recordset(${JSON.stringify(positions)}::jsonb) as p(chain text, seq int)
      left join events r on r.chain = p.chain and r.chain_seq = p.seq
      cross join lateral (select max(e.chain_seq) as head from events e where e.chain = p.chain) h`)
    return rowsOf<{ chain: string, head_seq: number | string, present: boolean, mac_at: string | null }>(result)
      .map((r): HeadProbe => ({ chain: r.chain, headSeq: Number(r.head_seq), present: r.present, macAt: r.mac_at }))
  },
})
