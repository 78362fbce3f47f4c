// HMAC-SHA256 over the text the core builds (src/core/audit/audit-record.ts). The first key
// signs; every key verifies, so rows signed before a rotation still check out.
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { AuditKey } from '../../core/audit/audit-keys.js'
import type { AuditSigner } from '../../core/ports.js'

export const hmacHex = (secret: string | Buffer, text: string): string => createHmac('sha256', secret).update(text, 'utf8').digest('hex')

export const createHmacSigner = (keys: AuditKey[]): AuditSigner => {
  const [current] = keys
  if (!current) throw new Error('createHmacSigner: no audit key')
  const secrets = new Map(keys.map(k => [k.id, Buffer.from(k.secret, 'utf8')]))
  const currentSecret = secrets.get(current.id)!
  return {
    sign: text => ({ keyId: current.id, mac: hmacHex(currentSecret, text) }),
    check (keyId, text, mac) {
      const secret = secrets.get(keyId)
      if (!secret) return 'unknown_key'
      // Constant time, so that timing the verifier cannot be used to forge a MAC byte by byte.
      const expected = Buffer.from(hmacHex(secret, text), 'utf8')
      const given = Buffer.from(mac, 'utf8')
      return given.length === expected.length && timingSafeEqual(given, expected) ? 'ok' : 'mismatch'
    },
  }
}
