// Takes an audit checkpoint (checkpoint.ts): reads every chain's head, appends an
// audit.checkpoint event (through the outbox, so the bus carries a copy out of the database
// too) and then a signed line to the checkpoint log. The API process runs it every
// security.audit_checkpoint_interval_seconds and once more at shutdown (workers/api.ts).
//
// Three rules keep it honest:
// - Nothing new, nothing written: a checkpoint is taken only when a chain other than the
//   checkpoints' own (_audit) moved since the last line, so an idle log stays idle.
// - Never launder tampering: when the log no longer holds every head the last line names
//   (compareWithCheckpoint), no checkpoint is written, since a new line would become the
//   reference and hide the loss. The outcome says so and the caller logs it, at every pass,
//   until someone looks (and, if the loss was legitimate, moves the file aside).
// - The database first, the file second: a line is written only for a committed event, so a
//   crash between the two loses a checkpoint, never invents one.
import type { AuditReader, AuditSigner, CheckpointLog, Clock, IdGenerator, UnitOfWork } from '../ports.js'
import { AUDIT_CHAIN } from './audit-record.js'
import { compareWithCheckpoint, type AuditFinding } from './checkpoint-compare.js'
import { byChain, formatCheckpointLine, latestCheckpoint, signCheckpoint, type CheckpointHead } from './checkpoint.js'

export type CheckpointOutcome =
  | { written: true, chains: number }
  | { written: false, reason: 'unchanged' }
  | { written: false, reason: 'regressed', findings: AuditFinding[] }

export const CHECKPOINT_ACTOR = 'audit-checkpoint'

const tracked = (heads: CheckpointHead[]) => heads.filter(h => h.chain !== AUDIT_CHAIN).sort(byChain)

const sameHeads = (a: CheckpointHead[], b: CheckpointHead[]) =>
  a.length === b.length && a.every((h, i) => h.chain === b[i]!.chain && h.seq === b[i]!.seq && h.mac === b[i]!.mac)

/** Each chain of `earlier` is in `later`, at least as far along. */
const dominates = (later: CheckpointHead[], earlier: CheckpointHead[]) => {
  const seqs = new Map(later.map(h => [h.chain, h.seq]))
  return earlier.every(h => (seqs.get(h.chain) ?? 0) >= h.seq)
}

export const createAuditCheckpointer = ({ reader, log, uow, signer, clock, ids, daemonId }: {
  reader: AuditReader
  log: CheckpointLog
  uow: UnitOfWork
  signer: AuditSigner
  clock: Clock
  ids: IdGenerator
  /** This process's daemon id: the event's aggregate, and the line's author. */
  daemonId: string
}) => {
  // The seq of this daemon's checkpoint events (the daemon id is new at every start).
  let seq = 0
  // Calls never overlap: a second caller waits for the first and then takes its own.
  let running: Promise<unknown> = Promise.resolve()

  const regression = async (reference: CheckpointHead[]): Promise<CheckpointOutcome | null> => {
    const findings = await compareWithCheckpoint(reader, reference, { whole: true })
    return findings.length > 0 ? { written: false, reason: 'regressed', findings } : null
  }

  const take = async (): Promise<CheckpointOutcome> => {
    const { checkpoint: last } = await latestCheckpoint(log, signer)
    const before = await reader.heads()
    if (sameHeads(tracked(before), tracked(last?.heads ?? []))) return { written: false, reason: 'unchanged' }
    if (last) {
      const regressed = await regression(last.heads)
      if (regressed) return regressed
    }
    const at = clock.now()
    await uow.run(tx => tx.events.append({
      eventId: ids.next(), type: 'audit.checkpoint', routingKey: `audit.checkpoint.${daemonId}`, occurredAt: at, project: '',
      aggregateType: 'daemon', aggregateId: daemonId, seq: seq + 1, actor: CHECKPOINT_ACTOR,
      data: { heads: [...before].sort(byChain) },
    }))
    seq++
    // Read again, now with the checkpoint's own row, then make sure the heads read still hold
    // every row the last line names: a probe after the read, so rows removed between the first
    // check and now cannot slip into the new reference.
    const heads = await reader.heads()
    if (last) {
      const regressed = await regression(last.heads)
      if (regressed) return regressed
      // The heads read lacked rows the probe then found: they were put back. Refuse all the same.
      if (!dominates(heads, last.heads)) return { written: false, reason: 'regressed', findings: [] }
    }
    await log.append(formatCheckpointLine(signCheckpoint(signer, { at, daemonId, heads })))
    return { written: true, chains: heads.length }
  }

  return {
    /** Takes a checkpoint if the log moved since the last one. */
    checkpoint (): Promise<CheckpointOutcome> {
      const run = running.then(take, take)
      running = run.catch(() => {})
      return run
    },
  }
}

export type AuditCheckpointer = ReturnType<typeof createAuditCheckpointer>
