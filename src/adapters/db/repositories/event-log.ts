// Writes each domain event twice in the caller's transaction: to the outbox, which the relay
// publishes, and to the audit log, which is kept. Both share the event id. The audit row joins
// its project's chain (src/core/audit/audit-record.ts): it takes the next chain_seq and is
// signed over the MAC of the chain's head, so appends to one chain must be serialized. They
// are, by the project's advisory lock, held until the transaction ends. Appends to different
// projects do not wait for each other.
//
// Events are on every write path, so round trips matter. The outbox and audit inserts are one
// statement. The head is read once per transaction and chain: sent together with the lock when
// the transaction does not hold it yet (one round trip), alone when it does, and not at all on
// a launch, whose admission statement reads it under the lock (launch-admission.ts). A batch
// (appendMany) locks and reads the heads it lacks in one pipelined round trip, signs every row
// here, and writes all the outbox and audit rows in one statement.
import { sql } from 'drizzle-orm'
import { chainOf, chainOfEvent, macInput, type AuditRecord } from '../../../core/audit/audit-record.js'
import { envelopeOf, routingKeyOf, type DomainEvent } from '../../../core/events/event.js'
import type { AuditSigner, EventLog } from '../../../core/ports.js'
import { rowsOf, type Db } from '../client.js'
import { lockProject } from '../project-lock.js'
import { events, outbox } from '../schema.js'

export interface ChainHead { seq: number, mac: string }

/**
 * What one transaction knows about chain locks: the chains (project names) whose lock it holds,
 * and the heads of those it has read. A head stays current until the transaction ends, since
 * nobody else can append to a chain while the lock is held. Make one per transaction.
 */
export interface ChainLocks { held: Set<string>, heads: Map<string, ChainHead> }
export const newChainLocks = (): ChainLocks => ({ held: new Set(), heads: new Map() })

/** The head as a row of (seq, mac) reads it; null columns mean an empty chain. */
export const toChainHead = (seq: number | string | null, mac: string | null): ChainHead =>
  // A head without a MAC predates the chain (drizzle/0001_audit_chain.sql); the verifier reports
  // it as unsigned, and the chain goes on from ''.
  seq === null ? { seq: 0, mac: '' } : { seq: Number(seq), mac: mac ?? '' }

const readHead = (db: Db, chain: string) =>
  db.execute(sql`select ${events.chainSeq} as seq, ${events.mac} as mac from ${events} where ${events.chain} = ${chain} order by ${events.chainSeq} desc limit 1`)

const headOf = (result: unknown): ChainHead => {
  const [row] = rowsOf<{ seq: number, mac: string | null }>(result)
  return toChainHead(row?.seq ?? null, row?.mac ?? null)
}

// The head must be read by a statement of its own: under READ COMMITTED a statement's snapshot
// is taken when it starts, so a read in the same statement as the lock would predate the wait
// and miss the row the previous holder just committed (tried: duplicate chain_seqs on Postgres).
// postgres.js pipelines the two statements on the transaction's connection: one round trip.
const lockAndReadHead = async (db: Db, chain: string): Promise<ChainHead> => {
  const [, result] = await Promise.all([lockProject(db, chain), readHead(db, chain)])
  return headOf(result)
}

export interface ChainedEventLog extends EventLog {
  /** Takes the project's lock until the transaction ends (the unit of work's lockProject). */
  lock(project: string): Promise<void>
}

export const createEventLog = (db: Db, signer: AuditSigner, locks: ChainLocks): ChainedEventLog => {
  const currentHead = async (chain: string): Promise<ChainHead> => {
    let head = locks.heads.get(chain)
    if (!head) {
      head = locks.held.has(chain) ? headOf(await readHead(db, chain)) : await lockAndReadHead(db, chain)
      locks.held.add(chain)
      locks.heads.set(chain, head)
    }
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
  const recordOf = (event: DomainEvent, chain: string): { row: AuditRecord, keyId: string, mac: string, prevMac: string } => {
    const head = locks.heads.get(chain)!
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
    locks.heads.set(chain, { seq: row.chainSeq, mac })
    return { row, keyId, mac, prevMac: head.mac }
  }

  return {
    lock: project => serially(async () => {
      const chain = chainOf(project)
      if (locks.held.has(chain)) return
      await lockProject(db, chain)
      locks.held.add(chain)
    }),
    append: event => serially(async () => {
      const chain = chainOfEvent(event)
      await currentHead(chain)
      const { row, keyId, mac, prevMac } = recordOf(event, chain)
      const at = event.occurredAt.toISOString()
      await db.execute(sql`
        with queued as (
          insert into ${outbox} (event_id, event_type, routing_key, aggregate_type, aggregate_id, seq, payload, created_at, next_attempt_at)
          values (${event.eventId}, ${event.type}, ${routingKeyOf(event)}, ${event.aggregateType}, ${event.aggregateId}, ${event.seq},
                  ${JSON.stringify(envelopeOf(event))}::jsonb, ${at}::timestamptz, ${at}::timestamptz)
        )
        insert into ${events} (chain, chain_seq, event_id, event_type, entity_type, entity_id, project, actor, occurred_at, data, key_id, prev_mac, mac)
        values (${chain}, ${row.chainSeq}, ${event.eventId}, ${event.type}, ${event.aggregateType}, ${event.aggregateId}, ${event.project}, ${event.actor},
                ${at}::timestamptz, ${JSON.stringify(event.data)}::jsonb, ${keyId}, ${prevMac}, ${mac})`)
    }),

    appendMany: batch => serially(async () => {
      if (batch.length === 0) return
      // The heads this transaction lacks, locked in chain order (as every caller orders its
      // events by project) and read, all sent at once: postgres.js pipelines them.
      const missing = [...new Set(batch.map(e => chainOfEvent(e)))].filter(chain => !locks.heads.has(chain)).sort()
      await Promise.all(missing.map(chain => currentHead(chain)))
      const rows = batch.map((event, ord) => {
        const { row, keyId, mac, prevMac } = recordOf(event, chainOfEvent(event))
        return {
          ord, event_id: event.eventId, event_type: event.type, routing_key: routingKeyOf(event), aggregate_type: event.aggregateType,
          aggregate_id: event.aggregateId, seq: event.seq, payload: envelopeOf(event), at: event.occurredAt.toISOString(),
          chain: row.chain, chain_seq: row.chainSeq, project: event.project, actor: event.actor, data: event.data, key_id: keyId, prev_mac: prevMac, mac,
        }
      })
      await db.execute(sql`
        with input as (
          select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as x(ord int, event_id uuid, event_type text, routing_key text,
            aggregate_type text, aggregate_id text, seq bigint, payload jsonb, at timestamptz, chain text, chain_seq bigint, project text,
            actor text, data jsonb, key_id text, prev_mac text, mac text)
        ),
        queued as (
          insert into ${outbox} (event_id, event_type, routing_key, aggregate_type, aggregate_id, seq, payload, created_at, next_attempt_at)
          select event_id, event_type, routing_key, aggregate_type, aggregate_id, seq, payload, at, at from input order by ord
        )
        insert into ${events} (chain, chain_seq, event_id, event_type, entity_type, entity_id, project, actor, occurred_at, data, key_id, prev_mac, mac)
        select chain, chain_seq, event_id, event_type, aggregate_type, aggregate_id, project, actor, at, data, key_id, prev_mac, mac from input order by ord`)
    }),
  }
}
