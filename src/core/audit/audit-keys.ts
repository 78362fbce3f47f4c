// The audit key format, shared by security.audit_key_file and the key a daemon generates in its
// data dir: one `key_id=secret` per line. The first key signs new rows; the others are older
// keys kept so that rows signed before a rotation still verify. Messages name lines and key
// ids, never a secret.

export interface AuditKey { id: string, secret: string }

export const AUDIT_KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/
// Short secrets make the MAC guessable; 16 characters is the least we accept.
export const MIN_AUDIT_SECRET_LENGTH = 16

/** A problem with the key, or null when it is usable. */
export const auditKeyProblem = ({ id, secret }: AuditKey): string | null => {
  if (!AUDIT_KEY_ID_PATTERN.test(id)) return `key id ${JSON.stringify(id.slice(0, 70))} must match ${AUDIT_KEY_ID_PATTERN}`
  if (secret.length < MIN_AUDIT_SECRET_LENGTH) return `the secret of key ${id} must be at least ${MIN_AUDIT_SECRET_LENGTH} characters`
  return null
}

/** Parses key lines; blank lines and `#` comments are skipped. Throws an Error naming the line. */
export const parseAuditKeys = (text: string): AuditKey[] => {
  const keys: AuditKey[] = []
  const seen = new Set<string>()
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const eq = line.indexOf('=')
    if (eq <= 0) throw new Error(`line ${index + 1} is not key_id=secret`)
    const key = { id: line.slice(0, eq).trim(), secret: line.slice(eq + 1).trim() }
    const problem = auditKeyProblem(key)
    if (problem) throw new Error(`line ${index + 1}: ${problem}`)
    if (seen.has(key.id)) throw new Error(`line ${index + 1}: key id ${key.id} appears twice`)
    seen.add(key.id)
    keys.push(key)
  })
  if (keys.length === 0) throw new Error('has no key_id=secret line')
  return keys
}

export const formatAuditKeys = (keys: AuditKey[]): string => keys.map(k => `${k.id}=${k.secret}\n`).join('')
