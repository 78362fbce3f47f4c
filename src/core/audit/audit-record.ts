// What one audit row asserts, and the exact text its MAC covers. A row's MAC is
//   hex(HMAC-SHA256(key[key_id], prev_mac + '\n' + canonicalJson(row)))
// where prev_mac is the MAC of the row before it in the same chain ('' for the first), so
// editing, deleting, inserting or reordering any row breaks the chain from there on. The writer
// (src/adapters/db/repositories/event-log.ts) and the verifier (audit-service.ts) both build the
// text here, so they cannot drift apart. Changing this text invalidates every stored row.
import { canonicalJson } from './canonical-json.js'

/** The chain of events that belong to no project (system alerts). Not a valid project name. */
export const SYSTEM_CHAIN = '_system'

/**
 * The chain of audit.checkpoint events. A checkpoint records every chain's head; were it
 * appended to a chain it records, it would move that head and every checkpoint would be stale
 * the moment it was written. Not a valid project name.
 */
export const AUDIT_CHAIN = '_audit'

/** One chain per project: appends to it are serialized by the project's lock. */
export const chainOf = (project: string | null): string => project ? project : SYSTEM_CHAIN

/** The chain an event joins: its project's, or the checkpoints' own. */
export const chainOfEvent = (event: { type: string, project: string | null }): string =>
  event.type === 'audit.checkpoint' ? AUDIT_CHAIN : chainOf(event.project)

/** The columns a MAC covers. `id` and `tx_id` are storage details and are not covered. */
export interface AuditRecord {
  chain: string
  chainSeq: number
  eventId: string
  eventType: string
  entityType: string
  entityId: string
  project: string | null
  actor: string
  occurredAt: Date
  data: Record<string, unknown>
}

export const macInput = (prevMac: string, row: AuditRecord): string => `${prevMac}\n${canonicalJson({
  chain: row.chain,
  chain_seq: row.chainSeq,
  // Postgres returns uuids in lower case; sign what will be read back.
  event_id: row.eventId.toLowerCase(),
  event_type: row.eventType,
  entity_type: row.entityType,
  entity_id: row.entityId,
  project: row.project,
  actor: row.actor,
  // timestamptz keeps microseconds, a JS Date milliseconds: the two agree at millisecond precision.
  occurred_at: row.occurredAt.toISOString(),
  data: row.data,
})}`
