// Where the audit keys come from when the config names none: `<dataDir>/audit.key`, generated
// once (32 random bytes, mode 0600) and reused on every start, so a laptop daemon needs no
// setup and its history keeps verifying across restarts. Daemons that share a Postgres must
// share a key, which a per-machine file cannot give them: hence the warning.
import { randomBytes } from 'node:crypto'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Logger } from '../logger.js'
import { formatAuditKeys, parseAuditKeys, type AuditKey } from '../../core/audit/audit-keys.js'
import { errors } from '../../core/errors.js'
import { ensureDataDir } from '../system/data-dir.js'

export const GENERATED_KEY_FILE = 'audit.key'

const readKeyFile = (path: string): AuditKey[] => {
  try {
    return parseAuditKeys(readFileSync(path, 'utf8'))
  } catch (err) {
    throw errors.unavailable(`cannot use the audit key file ${path}: ${(err as Error).message}`, { path })
  }
}

/** The key in `<dataDir>/audit.key`, created on first use. */
export const dataDirAuditKeys = (dataDir: string, logger: Logger): AuditKey[] => {
  const path = join(dataDir, GENERATED_KEY_FILE)
  ensureDataDir(dataDir)
  // A distinct id per generated key: configuring a key later (default id k1) cannot be
  // mistaken for this one, so rows it signed report unknown_key rather than mac_mismatch.
  const generated: AuditKey = { id: `auto-${randomBytes(4).toString('hex')}`, secret: randomBytes(32).toString('hex') }
  try {
    // 'wx': when two processes start at once, one creates the file and the other reads it.
    writeFileSync(path, formatAuditKeys([generated]), { mode: 0o600, flag: 'wx' })
    logger.info({ path, keyId: generated.id }, 'audit: generated a signing key')
    return [generated]
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw errors.unavailable(`cannot write the audit key file ${path}`, { path }, err)
  }
  if ((statSync(path).mode & 0o077) !== 0) logger.warn({ path }, 'audit: the key file is readable by other users; chmod 600 it')
  return readKeyFile(path)
}

/**
 * The configured keys (security.audit_key_file or security.audit_key), else the data dir's.
 * `sharedDatabase`: other daemons may write the same audit log, and need the same key.
 */
export const resolveAuditKeys = ({ configured, dataDir, sharedDatabase }: { configured: AuditKey[] | null, dataDir: string, sharedDatabase: boolean }, logger: Logger): AuditKey[] => {
  if (configured) return configured
  const keys = dataDirAuditKeys(dataDir, logger)
  if (sharedDatabase) {
    logger.warn({ path: join(dataDir, GENERATED_KEY_FILE) },
      'audit: no security.audit_key_file or security.audit_key is set, so this daemon signs the audit log with a key of its own; ' +
      'every daemon sharing this database must use the same key, or its rows will not verify on the others')
  }
  return keys
}
