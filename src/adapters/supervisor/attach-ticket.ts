// Attach tickets: how the API proves to a node's supervisor that it may open a runner's
// terminal. A ticket names the runner, the role (writer or viewer) and an expiry, MACed with
// the node's attach key; the supervisor checks the MAC in constant time, the expiry, and that
// the ticket was not used before (one use each).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

export type AttachRole = 'writer' | 'viewer'
export interface AttachClaims { runnerId: string, role: AttachRole, expiresAt: number, nonce: string }

export const TICKET_TTL_MS = 30_000

const mac = (key: string, payload: string) => createHmac('sha256', key).update(payload).digest('base64url')

export const mintAttachTicket = (key: string, runnerId: string, role: AttachRole, now = Date.now()): string => {
  const claims: AttachClaims = { runnerId, role, expiresAt: now + TICKET_TTL_MS, nonce: randomBytes(12).toString('base64url') }
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url')
  return `${payload}.${mac(key, payload)}`
}

export const createTicketVerifier = (key: string) => {
  const used = new Map<string, number>()
  return (ticket: string, runnerId: string, now = Date.now()): AttachClaims | null => {
    for (const [nonce, expiresAt] of used) if (expiresAt < now) used.delete(nonce)
    const [payload, signature, extra] = ticket.split('.')
    if (!payload || !signature || extra !== undefined) return null
    const expected = Buffer.from(mac(key, payload))
    const given = Buffer.from(signature)
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null
    let claims: AttachClaims
    try { claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as AttachClaims } catch { return null }
    if (claims.runnerId !== runnerId || claims.expiresAt < now || used.has(claims.nonce)) return null
    if (claims.role !== 'writer' && claims.role !== 'viewer') return null
    used.set(claims.nonce, claims.expiresAt)
    return claims
  }
}
