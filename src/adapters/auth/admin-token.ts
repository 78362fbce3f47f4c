// The admin token: the file config.adminTokenFile names (security.admin_token_file, else
// `<data_dir>/admin.token`, made on first start with mode 0600). The CLI on the same host reads
// the same file, so `stratavore <project>` needs no setup. Rotate it by replacing the file's
// contents and restarting the daemons that read it.
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { errors } from '../../core/errors.js'
import type { Logger } from '../logger.js'
import { tokenSecrets } from './token-secrets.js'

/** The token in `path`, or null when the file does not exist. */
export const readAdminToken = (path: string): string | null => {
  let text: string
  try { text = readFileSync(path, 'utf8') } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw errors.unavailable(`cannot read the admin token file ${path}: ${(err as Error).message}`, { path })
  }
  const token = text.trim()
  if (token.length < 16 || /\s/.test(token)) throw errors.unavailable(`${path} does not hold a token (one line of 16+ characters without spaces)`, { path })
  return token
}

/**
 * The admin token's secret. A configured file must exist; the data dir's default is created
 * when missing.
 */
export const resolveAdminToken = ({ path, configured }: { path: string, configured: boolean }, logger: Logger): string => {
  const existing = readAdminToken(path)
  if (existing) {
    if ((statSync(path).mode & 0o077) !== 0) logger.warn({ path }, 'the admin token file is readable by other users; chmod 600 it')
    return existing
  }
  if (configured) throw errors.unavailable(`security.admin_token_file ${path} does not exist`, { path })
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  try {
    // 'wx': two processes starting at once on one data dir agree on one token.
    writeFileSync(path, tokenSecrets.generate() + '\n', { mode: 0o600, flag: 'wx' })
    logger.info({ path }, 'created the admin token; the CLI on this host finds it, elsewhere pass it with --token or STRATAVORE_TOKEN')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw errors.unavailable(`cannot write the admin token file ${path}`, { path }, err)
  }
  return readAdminToken(path)!
}
