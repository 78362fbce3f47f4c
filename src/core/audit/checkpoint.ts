// Audit checkpoints: the head (chain_seq and MAC) of every audit chain, signed with the audit
// key and kept where the database cannot rewrite it (a file in the daemon's data dir, one JSON
// line per checkpoint). The chains themselves show every edit, insertion and deletion *inside*
// a chain; only a record kept elsewhere shows rows missing at the *end* of one, a chain gone
// whole, or an emptied table. A checkpoint claims "chain c had a row at seq s with MAC m";
// rows are only ever appended, so the claim stays true for good, and any later state of the
// log must still contain every row a checkpoint names (compareWithCheckpoint).
//
// A line is {"v":1,"at","daemon_id","heads":[{"chain","seq","mac"}],"key_id","mac"}, its MAC
//   hex(HMAC-SHA256(key[key_id], "stratavore-audit-checkpoint\n" + canonicalJson({v, at, daemon_id, heads})))
// The prefix keeps a checkpoint's MAC from ever passing for a row's, or a cursor's.
import type { AuditSigner, CheckpointLog } from '../ports.js'
import { canonicalJson } from './canonical-json.js'

export interface CheckpointHead { chain: string, seq: number, mac: string }

export interface AuditCheckpoint {
  at: Date
  daemonId: string
  /** Sorted by chain name, code unit order. */
  heads: CheckpointHead[]
  keyId: string
  mac: string
}

const CHECKPOINT_VERSION = 1
const MAC_HEX = /^[0-9a-f]{64}$/

const signedText = (at: string, daemonId: string, heads: CheckpointHead[]) =>
  `stratavore-audit-checkpoint\n${canonicalJson({ v: CHECKPOINT_VERSION, at, daemon_id: daemonId, heads })}`

export const byChain = (a: CheckpointHead, b: CheckpointHead) => (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : 0)

export const signCheckpoint = (signer: AuditSigner, { at, daemonId, heads }: { at: Date, daemonId: string, heads: CheckpointHead[] }): AuditCheckpoint => {
  const sorted = [...heads].sort(byChain)
  const { keyId, mac } = signer.sign(signedText(at.toISOString(), daemonId, sorted))
  return { at, daemonId, heads: sorted, keyId, mac }
}

export const formatCheckpointLine = (c: AuditCheckpoint): string => JSON.stringify({
  v: CHECKPOINT_VERSION, at: c.at.toISOString(), daemon_id: c.daemonId, heads: c.heads, key_id: c.keyId, mac: c.mac,
})

const isHead = (h: unknown): h is CheckpointHead => {
  const { chain, seq, mac } = (h ?? {}) as Record<string, unknown>
  return typeof chain === 'string' && chain !== '' && Number.isSafeInteger(seq) && (seq as number) > 0 &&
    typeof mac === 'string' && (mac === '' || MAC_HEX.test(mac))
}

/** The checkpoint a line holds if its MAC checks under one of the signer's keys, else null. */
export const parseCheckpointLine = (signer: AuditSigner, line: string): AuditCheckpoint | null => {
  let value: Record<string, unknown>
  try { value = JSON.parse(line) } catch { return null }
  if (value === null || typeof value !== 'object') return null
  const { v, at, daemon_id: daemonId, heads, key_id: keyId, mac } = value
  if (v !== CHECKPOINT_VERSION || typeof at !== 'string' || typeof daemonId !== 'string' || typeof keyId !== 'string' ||
    typeof mac !== 'string' || !Array.isArray(heads) || !heads.every(isHead)) return null
  const when = new Date(at)
  if (Number.isNaN(when.getTime())) return null
  // Re-serialize exactly what was signed: only the fields a head has, in the order given.
  const clean = heads.map(h => ({ chain: h.chain, seq: h.seq, mac: h.mac }))
  if (signer.check(keyId, signedText(at, daemonId, clean), mac) !== 'ok') return null
  return { at: when, daemonId, heads: clean, keyId, mac }
}

export interface LatestCheckpoint {
  checkpoint: AuditCheckpoint | null
  /** Lines after the newest valid one that do not parse or whose MAC fails (forged, torn or signed with an unknown key). */
  rejectedLines: number
}

/** Reads the log from its end back to the newest line that checks. */
export const latestCheckpoint = async (log: CheckpointLog, signer: AuditSigner): Promise<LatestCheckpoint> => {
  let rejectedLines = 0
  for await (const line of log.newestFirst()) {
    const checkpoint = parseCheckpointLine(signer, line)
    if (checkpoint) return { checkpoint, rejectedLines }
    rejectedLines++
  }
  return { checkpoint: null, rejectedLines }
}
