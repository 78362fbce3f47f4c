// Writes each domain event twice in the caller's transaction: to the outbox, which the relay
// publishes, and to the audit log, which is kept. Both share the event id. The audit row joins
// its project's chain (src/core/audit/audit-record.ts): it takes the next chain_seq and is
// signed over the MAC of the chain's head, so appends to one chain must be serialized. They
// are, by the project's advisory lock, held until the transaction ends. Appends to different
// projects do not wait for each other.
//
// Events are on every write path, so round trips matter: the lock and the head read are sent
// together (one round trip), and the outbox and audit inserts are one statement. The unit of
// work's lockProject goes through here too, so a launch, which locks its project first, has the
// head in hand by the time it appends.
import { sql } from 'drizzle-orm'
import { chainOf, macInput, type AuditRecord } from '../../../core/audit/audit-record.js'
import { envelopeOf, routingKeyOf } from '../../../core/events/event.js'
import type { AuditSigner, EventLog } from '../../../core/ports.js'
import { rowsOf, type Db } from '../client.js'
import { lockProject } from '../project-lock.js'
import { events, outbox } from '../schema.js'

interface ChainHead { seq: number, mac: string }

// The head must be read by a statement of its own: under READ COMMITTED a statement's snapshot
// is taken when it starts, so a read in the same statement as the lock would predate the wait
// and miss the row the previous holder just committed. postgres.js pipelines the two statements
// on the transaction's connection, so this is still one round trip.
const lockAndReadHead = async (db: Db, chain: string): Promise<ChainHead> => {
  const [, result] = await Promise.all([
    lockProject(db, chain),
    db.execute(sql`select ${events.chainSeq} as seq, ${events.mac} as mac from ${events} where ${events.chain} = ${chain} order by ${events.chainSeq} desc limit 1`),
  ])
  const [head] = rowsOf<{ seq: number, mac: string | null }>(result)
  // A head without a MAC predates the chain (see drizzle/0001_audit_chain.sql); the verifier
  // reports it as unsigned, and the chain goes on from ''.
  return head ? { seq: Number(head.seq), mac: head.mac ?? '' } : { seq: 0, mac: '' }
}

export interface ChainedEventLog extends EventLog {
  /** Takes the project's lock until the transaction ends (and reads its chain's head). */
  lock(project: string): Promise<void>
}

/** One per transaction (the unit of work makes one per run): the heads it caches are only
 * current while the transaction holds their locks. */
export const createEventLog = (db: Db, signer: AuditSigner): ChainedEventLog => {
  const heads = new Map<string, ChainHead>()
  const headOf = async (chain: string): Promise<ChainHead> => {
    let head = heads.get(chain)
    if (!head) heads.set(chain, head = await lockAndReadHead(db, chain))
    return head
  }
  // Reading the head and writing the next row must not interleave, even when a caller starts
  // several appends of one transaction at once: they run one after another.
  let queue: Promise<unknown> = Promise.resolve()
  const serially = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work, work)
    queue = run.catch(() => {})
    return run
  }
  return {
    lock: project => serially(async () => { await headOf(chainOf(project)) }),
    append: event => serially(async () => {
      const chain = chainOf(event.project)
      const head = await headOf(chain)
      const row: AuditRecord = {
        chain,
        chainSeq: head.seq + 1,
        eventId: event.eventId,
        eventType: event.type,
        entityType: event.aggregateType,
        entityId: event.aggregateId,
        project: event.project,
        actor: event.actor,
        occurredAt: event.occurredAt,
        data: event.data,
      }
      const { keyId, mac } = signer.sign(macInput(head.mac, row))
      const at = event.occurredAt.toISOString()
      await db.execute(sql`
        with queued as (
          insert into ${outbox} (event_id, event_type, routing_key, aggregate_type, aggregate_id, seq, payload, created_at, next_attempt_at)
          values (${event.eventId}, ${event.type}, ${routingKeyOf(event)}, ${event.aggregateType}, ${event.aggregateId}, ${event.seq},
                  ${JSON.stringify(envelopeOf(event))}::jsonb, ${at}::timestamptz, ${at}::timestamptz)
        )
        insert into ${events} (chain, chain_seq, event_id, event_type, entity_type, entity_id, project, actor, occurred_at, data, key_id, prev_mac, mac)
        values (${chain}, ${row.chainSeq}, ${event.eventId}, ${event.type}, ${event.aggregateType}, ${event.aggregateId}, ${event.project}, ${event.actor},
                ${at}::timestamptz, ${JSON.stringify(event.data)}::jsonb, ${keyId}, ${head.mac}, ${mac})`)
      heads.set(chain, { seq: row.chainSeq, mac })
    }),
  }
}
