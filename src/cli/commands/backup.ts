// `stratavore backup [--output FILE]` and `stratavore restore FILE`.
//
// backup asks the daemon (GET /api/v1/backup, admin): with the embedded PGlite only the daemon
// may open the database, and through the API it works the same on Postgres. The file is
// written aside (FILE.partial, mode 0600: it holds token hashes and transcripts), checked
// whole, then renamed: a cut stream or a full disk never leaves a FILE that looks complete.
//
// restore works on the database directly, with the daemon stopped (a running daemon writes
// rows, and holds PGlite's data dir): the config is read as the daemon reads it, secrets
// included, and the backup goes into that database if it is empty (src/adapters/backup/restore.ts).
import { once } from 'node:events'
import { constants, existsSync, readFileSync } from 'node:fs'
import { open, rename, rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { Command, CommandContext } from '../context.js'
import { stringValue } from '../context.js'
import { CliError, UsageError } from '../io.js'

const stamp = () => new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, 'Z')

const refusal = async (res: Response, c: CommandContext): Promise<CliError> => {
  let detail = ''
  try { detail = ((await res.json()) as { detail?: string }).detail ?? '' } catch { /* not a problem document */ }
  const { credential } = c.api
  const from = credential.token === null ? 'no token' : `the token from ${credential.from}`
  if (res.status === 401) return new CliError(`the daemon at ${c.api.baseUrl} refused ${from}${detail ? ` (${detail})` : ''}`)
  if (res.status === 403) return new CliError(`permission denied: a backup needs the admin role, and ${from} lacks it`)
  return new CliError(`the daemon at ${c.api.baseUrl} answered ${res.status}${detail ? `: ${detail}` : ''}`)
}

const fetchBackup = async (c: CommandContext): Promise<Response> => {
  const headers: Record<string, string> = c.api.credential.token === null ? {} : { authorization: `Bearer ${c.api.credential.token}` }
  const res = await fetch(`${c.api.baseUrl}/api/v1/backup`, { headers })
  if (!res.ok || !res.body) throw await refusal(res, c)
  return res
}

const toStdout = async (c: CommandContext) => {
  const res = await fetchBackup(c)
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    if (!c.io.stdout.write(chunk)) await once(c.io.stdout, 'drain')
  }
  return 0
}

export const backup: Command = async c => {
  const output = stringValue(c, 'output') ?? join(c.io.cwd, `stratavore-${stamp()}.backup`)
  if (output === '-') return toStdout(c)
  const path = resolve(c.io.cwd, output)
  if (existsSync(path)) throw new CliError(`${path} exists; give another --output or move it away`)
  const partial = `${path}.partial`
  // Opened before the daemon is asked: an unwritable place is said at once.
  const handle = await open(partial, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600).catch((err: NodeJS.ErrnoException) => {
    throw new CliError(`cannot write ${partial}: ${err.code === 'EEXIST' ? 'it exists (a backup in progress, or one that failed: remove it)' : err.code ?? err.message}`)
  })
  let kept = false
  try {
    const res = await fetchBackup(c)
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) await handle.write(chunk)
    await handle.sync()
    await handle.close()
    const { readBackup } = await import('../../adapters/backup/backup-file.js')
    const summary = await readBackup(partial).catch((err: Error) => { throw new CliError(`the backup came incomplete: ${err.message}`) })
    await rename(partial, path)
    kept = true
    const rows = Object.values(summary.rows).reduce((a, b) => a + b, 0)
    c.out.print(path)
    c.out.note(`${rows} rows in ${Object.keys(summary.rows).length} tables${summary.files.length ? `, and ${summary.files.join(', ')}` : ''}; ` +
      `it holds no audit key: keep the daemon's (audit.key in its data dir, or security.audit_key_file) with it`)
    return 0
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOSPC' || code === 'EIO' || code === 'EDQUOT') throw new CliError(`cannot write ${partial}: ${code}`)
    throw err
  } finally {
    await handle.close().catch(() => {})
    if (!kept) await rm(partial, { force: true })
  }
}

/** The key ids this host can verify with: the configured ones, else the data dir's audit.key. */
const localKeyIds = (config: import('../../config.js').Config): string[] => {
  if (config.auditKeys) return config.auditKeys.map(k => k.id)
  const file = join(config.dataDir, 'audit.key')
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8').split('\n').map(l => l.split('=')[0]!.trim()).filter(Boolean)
}

export const restore: Command = async c => {
  const file = resolve(c.io.cwd, c.args[0]!)
  const [{ loadConfig }, { openConfiguredDatabase }, { restoreBackup }, { readBackup }] = await Promise.all([
    import('../../config.js'), import('../../context.js'), import('../../adapters/backup/restore.js'), import('../../adapters/backup/backup-file.js'),
  ])
  // A truncated, damaged or foreign file is refused before any database is opened (or created).
  await readBackup(file)
  let config
  try {
    config = loadConfig({ env: c.io.env, ...(stringValue(c, 'config') !== undefined ? { configPath: stringValue(c, 'config') } : {}) })
  } catch (err) { throw new UsageError((err as Error).message) }
  const database = await openConfiguredDatabase(config)
  try {
    const result = await restoreBackup({ database, file, dataDir: config.dataDir })
    const rows = Object.values(result.rows).reduce((a, b) => a + b, 0)
    c.out.print(`restored ${rows} rows in ${Object.keys(result.rows).length} tables into ${database.kind === 'pglite' ? `the embedded database in ${config.dataDir}` : 'Postgres'}`)
    c.out.note(`from a backup made ${result.header.createdAt} by stratavore ${result.header.stratavoreVersion} on ${result.header.database}` +
      `${result.migratedAfter ? `; then applied ${result.migratedAfter} newer migrations` : ''}`)
    const lacking = result.header.auditKeyIds.filter(id => !localKeyIds(config).includes(id))
    if (lacking.length > 0) {
      c.out.note(`the audit log is signed with key ${lacking.join(', ')}, which this host lacks: put the source's audit.key in ${config.dataDir} ` +
        '(or set security.audit_key_file) before starting the daemon, or the audit check will report unknown_key')
    }
    return 0
  } finally {
    await database.close()
  }
}
