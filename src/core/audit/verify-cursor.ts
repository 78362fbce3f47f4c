// The `next` cursor of a paged audit verification: where the walk stopped, and the MAC of the
// last row it verified, so the next request checks the following row against that MAC rather
// than against whatever the table holds by then. It is signed with the audit key: a client
// cannot hand in a position or a MAC of its own and have a chain "verify" from there.
import { errors } from '../errors.js'
import type { AuditSigner } from '../ports.js'
import { canonicalJson } from './canonical-json.js'

export interface VerifyCursor { chain: string, chainSeq: number, id: number, mac: string }

const signedText = (c: VerifyCursor) => `stratavore-audit-cursor\n${canonicalJson({ chain: c.chain, chain_seq: c.chainSeq, id: c.id, mac: c.mac })}`

export const encodeVerifyCursor = (signer: AuditSigner, cursor: VerifyCursor): string => {
  const { keyId, mac } = signer.sign(signedText(cursor))
  return Buffer.from(JSON.stringify({ c: cursor.chain, s: cursor.chainSeq, i: cursor.id, m: cursor.mac, k: keyId, t: mac }), 'utf8').toString('base64url')
}

/** Throws INVALID_CURSOR unless this daemon's key signed it. */
export const decodeVerifyCursor = (signer: AuditSigner, text: string): VerifyCursor => {
  let value: Record<string, unknown>
  try { value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) } catch { throw errors.invalidCursor() }
  const { c, s, i, m, k, t } = value ?? {}
  if (typeof c !== 'string' || !Number.isSafeInteger(s) || !Number.isSafeInteger(i) || typeof m !== 'string' || typeof k !== 'string' || typeof t !== 'string') {
    throw errors.invalidCursor()
  }
  const cursor: VerifyCursor = { chain: c, chainSeq: s as number, id: i as number, mac: m }
  if (signer.check(k, signedText(cursor), t) !== 'ok') throw errors.invalidCursor()
  return cursor
}
