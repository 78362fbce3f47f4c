// Verifies the audit log: walks every chain in chain_seq order, page by page (never the whole
// table in memory), recomputes each row's MAC from the row before it, and reports the first
// broken link. What each reason means for a row at position n of its chain:
//
//   duplicate_sequence  its chain_seq repeats the row before (only possible if the unique index
//                       on (chain, chain_seq) was dropped)
//   sequence_gap        its chain_seq is not n: rows before it were deleted (or renumbered)
//   unsigned            it has no MAC (written before the chain existed, or stripped)
//   unknown_key         it names a key id this daemon does not have
//   mac_mismatch        its MAC, or its stored prev_mac, does not match: the row was edited,
//                       forged, or moved (swapped rows land here, since chain_seq is signed)
//
// Rows appended while the walk runs are fine: a chain only grows at its end, one committed
// row after another (the project lock), so a page never sees n+1 without n. Removing the
// newest rows of a chain (truncating its tail) is not detectable from the rows alone.
import type { AuditPosition, AuditReader, AuditSigner, StoredAuditRow } from '../ports.js'
import { macInput } from './audit-record.js'

export const BROKEN_REASONS = ['mac_mismatch', 'sequence_gap', 'duplicate_sequence', 'unknown_key', 'unsigned'] as const
export type BrokenReason = typeof BROKEN_REASONS[number]

export interface BrokenLink { chain: string, chainSeq: number, eventId: string, reason: BrokenReason }

export interface AuditVerification {
  ok: boolean
  /** Rows examined, the broken one included. */
  checkedRows: number
  /** Chains examined, the broken one included. */
  chains: number
  firstBroken?: BrokenLink
}

export const AUDIT_VERIFY_PAGE_SIZE = 500

interface ChainWalk { chain: string, lastSeq: number, prevMac: string }

const judge = (walk: ChainWalk, row: StoredAuditRow, signer: AuditSigner): BrokenReason | null => {
  if (row.chainSeq === walk.lastSeq) return 'duplicate_sequence'
  if (row.chainSeq !== walk.lastSeq + 1) return 'sequence_gap'
  if (!row.mac || !row.keyId) return 'unsigned'
  if (row.prevMac !== walk.prevMac) return 'mac_mismatch'
  const check = signer.check(row.keyId, macInput(walk.prevMac, row), row.mac)
  return check === 'ok' ? null : check === 'unknown_key' ? 'unknown_key' : 'mac_mismatch'
}

export const createAuditService = ({ reader, signer, pageSize = AUDIT_VERIFY_PAGE_SIZE }: {
  reader: AuditReader
  signer: AuditSigner
  pageSize?: number
}) => ({
  /** Checks every chain, or only `chain`; stops at the first broken link. */
  async verify ({ chain }: { chain?: string } = {}): Promise<AuditVerification> {
    let checkedRows = 0
    let chains = 0
    let walk = null as ChainWalk | null
    let after: AuditPosition | null = null
    for (;;) {
      const rows = await reader.page({ ...(chain !== undefined ? { chain } : {}), after, limit: pageSize })
      for (const row of rows) {
        if (walk?.chain !== row.chain) {
          walk = { chain: row.chain, lastSeq: 0, prevMac: '' }
          chains++
        }
        checkedRows++
        const reason = judge(walk, row, signer)
        if (reason) return { ok: false, checkedRows, chains, firstBroken: { chain: row.chain, chainSeq: row.chainSeq, eventId: row.eventId, reason } }
        walk.lastSeq = row.chainSeq
        walk.prevMac = row.mac!
      }
      const last = rows.at(-1)
      if (!last || rows.length < pageSize) return { ok: true, checkedRows, chains }
      after = { chain: last.chain, chainSeq: last.chainSeq, id: last.id }
    }
  },
})

export type AuditService = ReturnType<typeof createAuditService>
