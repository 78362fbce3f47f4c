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
// newest rows of a chain, or a whole chain, leaves no trace in the rows: the walk is therefore
// preceded by a comparison with the newest signed checkpoint (checkpoint-compare.ts).
//
// Paging: each query reads `pageSize` rows, so no request holds the table in memory or one
// huge query open. A request may also stop after `limit` rows and answer a signed `next`
// cursor (verify-cursor.ts); the request given that cursor goes on from there. The checkpoint
// comparison runs on the first request of such a series (the one without a cursor).
import { errors } from '../errors.js'
import type { AuditPosition, AuditReader, AuditSigner, CheckpointLog, StoredAuditRow } from '../ports.js'
import { macInput } from './audit-record.js'
import { compareWithCheckpoint, type AuditFinding } from './checkpoint-compare.js'
import { latestCheckpoint } from './checkpoint.js'
import { decodeVerifyCursor, encodeVerifyCursor } from './verify-cursor.js'

export const BROKEN_REASONS = ['mac_mismatch', 'sequence_gap', 'duplicate_sequence', 'unknown_key', 'unsigned'] as const
export type BrokenReason = typeof BROKEN_REASONS[number]

export interface BrokenLink { chain: string, chainSeq: number, eventId: string, reason: BrokenReason }

export interface AuditVerification {
  /** No broken row and no finding. */
  ok: boolean
  /** Rows examined by this request, the broken one included. */
  checkedRows: number
  /** Chains this request started to examine, the broken one included. */
  chains: number
  firstBroken?: BrokenLink
  /** What the log lacks compared with the newest checkpoint (first request of a series only). */
  findings: AuditFinding[]
  /** The checkpoint compared with; absent when there is none, or on a request with a cursor. */
  checkpoint?: { at: Date, daemonId: string, chains: number }
  /** The walk reached the end of the log (or of the chain asked for). */
  complete: boolean
  /** Set when `limit` stopped the walk: pass it as `after` to go on. */
  next?: string
}

export interface AuditVerifyQuery {
  chain?: string
  /** A `next` cursor from an earlier answer. */
  after?: string
  /** Rows to examine at most in this request; every row when absent. */
  limit?: number
}

export const AUDIT_VERIFY_PAGE_SIZE = 500

interface ChainWalk { chain: string, lastSeq: number, lastId: number, prevMac: string }

const judge = (walk: ChainWalk, row: StoredAuditRow, signer: AuditSigner): BrokenReason | null => {
  if (row.chainSeq === walk.lastSeq) return 'duplicate_sequence'
  if (row.chainSeq !== walk.lastSeq + 1) return 'sequence_gap'
  if (!row.mac || !row.keyId) return 'unsigned'
  if (row.prevMac !== walk.prevMac) return 'mac_mismatch'
  const check = signer.check(row.keyId, macInput(walk.prevMac, row), row.mac)
  return check === 'ok' ? null : check === 'unknown_key' ? 'unknown_key' : 'mac_mismatch'
}

export const createAuditService = ({ reader, signer, checkpoints, pageSize = AUDIT_VERIFY_PAGE_SIZE }: {
  reader: AuditReader
  signer: AuditSigner
  /** The checkpoint log; without one, nothing is compared with a checkpoint. */
  checkpoints?: CheckpointLog
  pageSize?: number
}) => {
  const compare = async (chain: string | undefined): Promise<Pick<AuditVerification, 'findings' | 'checkpoint'>> => {
    if (!checkpoints) return { findings: [] }
    const { checkpoint, rejectedLines } = await latestCheckpoint(checkpoints, signer)
    const findings: AuditFinding[] = rejectedLines > 0 ? [{ reason: 'checkpoint_invalid', lines: rejectedLines }] : []
    if (!checkpoint) return { findings }
    const heads = chain === undefined ? checkpoint.heads : checkpoint.heads.filter(h => h.chain === chain)
    findings.push(...await compareWithCheckpoint(reader, heads, { whole: chain === undefined }))
    return { findings, checkpoint: { at: checkpoint.at, daemonId: checkpoint.daemonId, chains: checkpoint.heads.length } }
  }

  return {
    /** Checks every chain, or only `chain`; stops at the first broken link, or after `limit` rows. */
    async verify ({ chain, after, limit }: AuditVerifyQuery = {}): Promise<AuditVerification> {
      const cursor = after !== undefined ? decodeVerifyCursor(signer, after) : null
      if (cursor && chain !== undefined && cursor.chain !== chain) throw errors.invalidCursor()
      const { findings, checkpoint } = cursor ? { findings: [], checkpoint: undefined } : await compare(chain)
      const answer = (rest: Omit<AuditVerification, 'ok' | 'findings' | 'checkpoint'>): AuditVerification =>
        ({ ok: !rest.firstBroken && findings.length === 0, ...rest, findings, ...(checkpoint ? { checkpoint } : {}) })
      let checkedRows = 0
      let chains = 0
      let walk: ChainWalk | null = cursor ? { chain: cursor.chain, lastSeq: cursor.chainSeq, lastId: cursor.id, prevMac: cursor.mac } : null
      let position: AuditPosition | null = cursor ? { chain: cursor.chain, chainSeq: cursor.chainSeq, id: cursor.id } : null
      for (;;) {
        const want = limit === undefined ? pageSize : Math.min(pageSize, limit - checkedRows)
        if (want <= 0) {
          const next = walk ? encodeVerifyCursor(signer, { chain: walk.chain, chainSeq: walk.lastSeq, id: walk.lastId, mac: walk.prevMac }) : undefined
          return answer({ checkedRows, chains, complete: next === undefined, ...(next ? { next } : {}) })
        }
        const rows = await reader.page({ ...(chain !== undefined ? { chain } : {}), after: position, limit: want })
        for (const row of rows) {
          if (walk?.chain !== row.chain) {
            walk = { chain: row.chain, lastSeq: 0, lastId: 0, prevMac: '' }
            chains++
          }
          checkedRows++
          const reason = judge(walk, row, signer)
          if (reason) return answer({ checkedRows, chains, firstBroken: { chain: row.chain, chainSeq: row.chainSeq, eventId: row.eventId, reason }, complete: false })
          walk.lastSeq = row.chainSeq
          walk.lastId = row.id
          walk.prevMac = row.mac!
        }
        const last = rows.at(-1)
        if (!last || rows.length < want) return answer({ checkedRows, chains, complete: true })
        position = { chain: last.chain, chainSeq: last.chainSeq, id: last.id }
      }
    },
  }
}

export type AuditService = ReturnType<typeof createAuditService>
