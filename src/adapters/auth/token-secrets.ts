// How API tokens look and are stored: `stv_` and 32 random bytes (base64url), so a secret
// scanner can spot one in a log or a commit; the database keeps only its SHA-256.
import { createHash, randomBytes } from 'node:crypto'
import type { TokenSecrets } from '../../core/ports.js'

export const TOKEN_PREFIX = 'stv_'

export const tokenSecrets: TokenSecrets = {
  generate: () => TOKEN_PREFIX + randomBytes(32).toString('base64url'),
  hash: secret => createHash('sha256').update(secret).digest('hex'),
}
