// What the audit log lacks compared with a checkpoint. Each checkpointed head must still be
// in the table, with the same MAC; the reasons, per checkpointed chain:
//
//   chain_deleted        the chain has no row left
//   tail_deleted         its newest row is older than the checkpointed head: rows were cut off its end
//   checkpoint_mismatch  the row at the checkpointed seq is gone or has another MAC, though the chain
//                        reaches that far: rows were replaced (re-signed, or deleted and written anew)
//   log_emptied          every chain the checkpoint names is gone (one finding rather than one per
//                        chain; only when the whole log is compared, not one chain)
//   checkpoint_invalid   lines newer than the checkpoint used do not check (forged, torn, or signed
//                        with a key this daemon lacks); `lines` counts them
//
// One query probes every checkpointed head by index, so this costs O(chains), not O(rows), and
// is independent of the row walk.
import type { AuditReader } from '../ports.js'
import type { CheckpointHead } from './checkpoint.js'

export const FINDING_REASONS = ['chain_deleted', 'tail_deleted', 'checkpoint_mismatch', 'log_emptied', 'checkpoint_invalid'] as const
export type FindingReason = typeof FINDING_REASONS[number]

export interface AuditFinding {
  reason: FindingReason
  chain?: string
  /** The checkpointed head's seq. */
  chainSeq?: number
  /** The chain's newest seq in the table now (0 when it has none). */
  headSeq?: number
  /** checkpoint_invalid: how many lines. */
  lines?: number
}

/** Findings past this many are dropped (ok is already false). */
export const MAX_FINDINGS = 100

/** `whole`: `heads` is the whole checkpoint, not one chain of it. */
export const compareWithCheckpoint = async (reader: AuditReader, heads: CheckpointHead[], { whole }: { whole: boolean }): Promise<AuditFinding[]> => {
  if (heads.length === 0) return []
  const probes = await reader.probe(heads.map(h => ({ chain: h.chain, seq: h.seq })))
  const found = new Map(probes.map(p => [p.chain, p]))
  const findings: AuditFinding[] = []
  for (const head of heads) {
    const probe = found.get(head.chain)
    const headSeq = probe?.headSeq ?? 0
    if (headSeq === 0) findings.push({ reason: 'chain_deleted', chain: head.chain, chainSeq: head.seq, headSeq })
    else if (headSeq < head.seq) findings.push({ reason: 'tail_deleted', chain: head.chain, chainSeq: head.seq, headSeq })
    else if (!probe!.present || (probe!.macAt ?? '') !== head.mac) findings.push({ reason: 'checkpoint_mismatch', chain: head.chain, chainSeq: head.seq, headSeq })
  }
  if (whole && findings.length === heads.length && findings.every(f => f.reason === 'chain_deleted')) return [{ reason: 'log_emptied' }]
  return findings.slice(0, MAX_FINDINGS)
}
