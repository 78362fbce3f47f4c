// The backup file: newline-delimited JSON, read and written as a stream.
//
//   {"format":"stratavore-backup","version":1,...header}     what made it, and the schema it is at
//   ["table",{"name":"projects","columns":[...]}]            then that table's rows, one JSON object a line
//   {"name":"demo",...}
//   ["file",{"name":"audit-checkpoints.jsonl","text":"..."}] a file of the data dir
//   ["end",{"rows":{"projects":1,...},"sha256":"..."}]       the SHA-256 of every byte before this line
//
// Control lines are arrays and rows are objects, so the two never mix. A file without its end
// line is truncated; one whose first line is not this header is someone else's; a checksum
// that does not match is damage. Each of those is refused before anything is written.
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { createGunzip } from 'node:zlib'
import { open } from 'node:fs/promises'
import { errors } from '../../core/errors.js'
import type { AppliedMigration, SnapshotTable } from '../db/snapshot.js'

export const BACKUP_FORMAT = 'stratavore-backup'
export const BACKUP_VERSION = 1

export interface BackupHeader {
  format: typeof BACKUP_FORMAT
  version: number
  createdAt: string
  /** Where it was read from: 'pglite' or 'postgres', and the server's version() line. */
  database: string
  serverVersion: string
  stratavoreVersion: string
  migrations: AppliedMigration[]
  /** The key ids the audit rows were signed with: the restored daemon needs those keys. */
  auditKeyIds: string[]
}

export type BackupRecord =
  | { kind: 'table', table: SnapshotTable }
  | { kind: 'row', table: string, text: string }
  | { kind: 'file', name: string, text: string }

export interface BackupSummary { header: BackupHeader, rows: Record<string, number>, files: string[] }

/** Writes the format to `write`, keeping the checksum and the counts. */
export const createBackupWriter = (write: (chunk: string) => Promise<void>) => {
  const hash = createHash('sha256')
  const rows: Record<string, number> = {}
  let current = ''
  const line = async (text: string) => {
    const chunk = `${text}\n`
    hash.update(chunk)
    await write(chunk)
  }
  return {
    header: (header: Omit<BackupHeader, 'format' | 'version'>) => line(JSON.stringify({ format: BACKUP_FORMAT, version: BACKUP_VERSION, ...header })),
    table: (table: SnapshotTable) => { current = table.name; rows[current] = 0; return line(JSON.stringify(['table', table])) },
    async rows (texts: string[]) {
      rows[current] = (rows[current] ?? 0) + texts.length
      // One write per batch: the rows are JSON text from the database, written as they came.
      const chunk = texts.map(t => `${t}\n`).join('')
      hash.update(chunk)
      await write(chunk)
    },
    file: (name: string, text: string) => line(JSON.stringify(['file', { name, text }])),
    end: () => write(`${JSON.stringify(['end', { rows, sha256: hash.digest('hex') }])}\n`),
  }
}

const GZIP_MAGIC = [0x1f, 0x8b]

const isGzip = async (path: string) => {
  const handle = await open(path, 'r')
  try {
    const head = Buffer.alloc(2)
    const { bytesRead } = await handle.read(head, 0, 2, 0)
    return bytesRead === 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1]
  } finally { await handle.close() }
}

/** The file's lines, gunzipped when it is gzip; each with its trailing newline or not. */
async function * linesOf (path: string): AsyncGenerator<{ text: string, raw: string }> {
  const gzip = await isGzip(path)
  const input = createReadStream(path)
  const stream = gzip ? input.pipe(createGunzip()) : input
  const lines = createInterface({ input: stream, crlfDelay: Infinity })
  for await (const text of lines) yield { text, raw: `${text}\n` }
}

const parseHeader = (file: string, text: string | undefined): BackupHeader => {
  let value: unknown
  try { value = JSON.parse(text ?? '') } catch { value = null }
  const h = value as Partial<BackupHeader> | null
  if (!h || typeof h !== 'object' || h.format !== BACKUP_FORMAT) throw errors.backupInvalid(file, 'it does not start with a Stratavore backup header (another kind of file?)')
  if (h.version !== BACKUP_VERSION) throw errors.backupInvalid(file, `it is format version ${String(h.version)}; this stratavore reads version ${BACKUP_VERSION}`)
  if (!Array.isArray(h.migrations) || !Array.isArray(h.auditKeyIds)) throw errors.backupInvalid(file, 'its header is incomplete')
  return h as BackupHeader
}

/**
 * Reads the whole file and checks it: the header, the structure, every table's row count and
 * the checksum. `visit` gets each record in order (only after this resolves is the file known
 * whole; a restore runs it inside its transaction and rolls back on a throw).
 */
export const readBackup = async (file: string, visit: (record: BackupRecord) => Promise<void> = async () => {}): Promise<BackupSummary> => {
  const hash = createHash('sha256')
  const counted: Record<string, number> = {}
  const files: string[] = []
  let header: BackupHeader | undefined
  let table: string | null = null
  // A line that does not parse is damage, unless it is the last: then the file was cut short.
  let broken = false
  type EndLine = { rows: Record<string, number>, sha256: string }
  let end: EndLine | undefined
  try {
    for await (const { text, raw } of linesOf(file)) {
      if (end) throw errors.backupInvalid(file, 'it goes on after its end line')
      if (broken) throw errors.backupInvalid(file, 'a line is not JSON (the file is damaged)')
      if (!header) {
        header = parseHeader(file, text)
        hash.update(raw)
        continue
      }
      if (text.startsWith('{')) {
        if (table === null) throw errors.backupInvalid(file, 'a row comes before any table')
        counted[table] = (counted[table] ?? 0) + 1
        hash.update(raw)
        await visit({ kind: 'row', table, text })
        continue
      }
      let record: unknown
      try { record = JSON.parse(text) } catch {
        broken = true
        continue
      }
      const [kind, body] = Array.isArray(record) ? record as [unknown, Record<string, unknown>] : []
      if (kind === 'end' && body && typeof body.sha256 === 'string' && typeof body.rows === 'object') {
        end = body as unknown as EndLine
        continue
      }
      hash.update(raw)
      if (kind === 'table' && body && typeof body.name === 'string' && Array.isArray(body.columns)) {
        table = body.name
        counted[table] = 0
        await visit({ kind: 'table', table: body as unknown as SnapshotTable })
      } else if (kind === 'file' && body && typeof body.name === 'string' && typeof body.text === 'string') {
        files.push(body.name)
        await visit({ kind: 'file', name: body.name, text: body.text })
      } else {
        throw errors.backupInvalid(file, 'a line is neither a row nor a record of the format (the file is damaged)')
      }
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw errors.backupInvalid(file, 'no such file')
    if ((err as NodeJS.ErrnoException).code === 'Z_BUF_ERROR' || (err as NodeJS.ErrnoException).code === 'Z_DATA_ERROR') {
      throw errors.backupInvalid(file, 'its gzip stream is cut short or damaged')
    }
    throw err
  }
  if (!header) throw errors.backupInvalid(file, 'it is empty')
  if (!end) throw errors.backupInvalid(file, 'it has no end line: it was cut short (truncated)')
  if (end.sha256 !== hash.digest('hex')) throw errors.backupInvalid(file, 'its checksum does not match its contents (the file is damaged)')
  for (const name of new Set([...Object.keys(end.rows), ...Object.keys(counted)])) {
    if (end.rows[name] !== counted[name]) throw errors.backupInvalid(file, `table ${name} has ${counted[name] ?? 0} rows where the end line says ${end.rows[name] ?? 0}`)
  }
  return { header, rows: counted, files }
}
