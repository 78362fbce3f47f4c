// `stratavore restore FILE`: a backup into an empty database, all or nothing. It runs on the
// database directly (the daemon stopped: a daemon writes rows as soon as it starts, and PGlite
// lets one process in), in this order:
//   1. read the whole file: header, structure, row counts, checksum (nothing opened yet);
//   2. bring the database to the schema the backup was made at (a database with no schema
//      yet; a backup from an older release is restored at its own schema, then migrated);
//   3. refuse a database with rows, or a data dir with an audit checkpoints file;
//   4. one transaction: every row, the sequences moved past them, the file read again and its
//      checksum checked again before the commit (so a file changed meanwhile rolls back);
//   5. the checkpoints file put in place (written aside, then renamed into place);
//   6. the remaining migrations, if the backup is older than this release.
import { existsSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { readMigrationFiles } from 'drizzle-orm/migrator'
import type { Database, Db } from '../db/client.js'
import { migrationsFolderUpTo, migrationsJournal } from '../db/migrations-folder.js'
import { migrationsFolder } from '../db/postgres-client.js'
import {
  appliedMigrations, clearSeededTable, insertRows, listTables, nonEmptyTables, resetSequences, type AppliedMigration, type SnapshotTable,
} from '../db/snapshot.js'
import { CHECKPOINT_FILE } from '../audit/checkpoint-file.js'
import { ensureDataDir } from '../system/data-dir.js'
import { errors } from '../../core/errors.js'
import { readBackup, type BackupHeader } from './backup-file.js'

export interface RestoreResult { header: BackupHeader, rows: Record<string, number>, checkpointsFile: string | null, migratedAfter: number }

const BATCH_ROWS = 500
const BATCH_BYTES = 4 * 1024 * 1024

const tagOf = (m: AppliedMigration | undefined) => m ? migrationsJournal().entries.find(e => String(e.when) === m.createdAt)?.tag ?? `migration of ${m.createdAt}` : 'none'

const same = (a: AppliedMigration, b: AppliedMigration) => a.hash === b.hash && a.createdAt === b.createdAt

/** Brings the database to the backup's schema; returns how many of ours remain to apply after. */
const migrateToBackup = async (database: Database, header: BackupHeader): Promise<number> => {
  const ours = readMigrationFiles({ migrationsFolder }).map(m => ({ hash: m.hash, createdAt: String(m.folderMillis) }))
  const theirs = header.migrations
  if (theirs.length > ours.length || !theirs.every((m, i) => same(m, ours[i]!))) {
    throw errors.backupSchemaMismatch(`the backup's schema (${tagOf(theirs.at(-1))}) is not one this stratavore knows: ` +
      `it was made by stratavore ${header.stratavoreVersion}; restore it with that release or a newer one`)
  }
  const applied = await database.dedicated(appliedMigrations)
  if (applied.length === 0) {
    if (theirs.length === ours.length) await database.migrate()
    else {
      const folder = migrationsFolderUpTo(theirs.length)
      try { await database.migrate(folder) } finally { rmSync(folder, { recursive: true, force: true }) }
    }
  } else if (applied.length !== theirs.length || !applied.every((m, i) => same(m, theirs[i]!))) {
    throw errors.backupSchemaMismatch(`the database is at schema ${tagOf(applied.at(-1))} and the backup at ${tagOf(theirs.at(-1))}; ` +
      'restore into a new database, with no tables')
  }
  return ours.length - theirs.length
}

const sameColumns = (a: SnapshotTable, b: SnapshotTable) =>
  a.columns.length === b.columns.length && a.columns.every((c, i) => c.name === b.columns[i]!.name && c.type === b.columns[i]!.type)

/** Every row in one transaction; the file is read (and checked) again inside it. */
const restoreRows = (db: Db, file: string) => db.transaction(async tx => {
  const target = new Map((await listTables(tx as unknown as Db)).map(t => [t.name, t]))
  let table: SnapshotTable | null = null
  let batch: string[] = []
  let bytes = 0
  const flush = async () => {
    if (table && batch.length > 0) await insertRows(tx as unknown as Db, table, batch)
    batch = []
    bytes = 0
  }
  const seen: SnapshotTable[] = []
  let checkpoints: string | null = null
  const summary = await readBackup(file, async record => {
    if (record.kind === 'table') {
      await flush()
      const ours = target.get(record.table.name)
      if (!ours || !sameColumns(ours, record.table)) {
        throw errors.backupSchemaMismatch(`table ${record.table.name} of the backup does not match this database's (its columns differ or it does not exist)`)
      }
      table = ours
      seen.push(ours)
      await clearSeededTable(tx as unknown as Db, ours)
    } else if (record.kind === 'row') {
      batch.push(record.text)
      bytes += record.text.length
      if (batch.length >= BATCH_ROWS || bytes >= BATCH_BYTES) await flush()
    } else if (record.name === CHECKPOINT_FILE) {
      checkpoints = record.text
    }
  })
  await flush()
  const missing = [...target.keys()].filter(name => !seen.some(t => t.name === name))
  if (missing.length > 0) throw errors.backupSchemaMismatch(`the backup lacks tables this database has: ${missing.join(', ')}`)
  for (const t of seen) await resetSequences(tx as unknown as Db, t)
  return { summary, checkpoints: checkpoints as string | null }
})

export const restoreBackup = async ({ database, file, dataDir }: { database: Database, file: string, dataDir: string }): Promise<RestoreResult> => {
  const { header } = await readBackup(file)
  const checkpointPath = join(dataDir, CHECKPOINT_FILE)
  if (existsSync(checkpointPath) && statSync(checkpointPath).size > 0) {
    throw errors.restoreTargetNotEmpty(`the data dir already has ${checkpointPath} (checkpoints of another audit log); move it aside`)
  }
  const migratedAfter = await migrateToBackup(database, header)
  const tables = await database.dedicated(listTables)
  const full = await database.dedicated(db => nonEmptyTables(db, tables))
  if (full.length > 0) throw errors.restoreTargetNotEmpty(`the database is not empty (rows in ${full.join(', ')})`)

  const { summary, checkpoints } = await database.dedicated(db => restoreRows(db, file))
  let checkpointsFile: string | null = null
  if (checkpoints !== null) {
    ensureDataDir(dataDir)
    const aside = `${checkpointPath}.restoring`
    writeFileSync(aside, checkpoints, { mode: 0o600 })
    renameSync(aside, checkpointPath)
    checkpointsFile = checkpointPath
  }
  if (migratedAfter > 0) await database.migrate()
  return { header, rows: summary.rows, checkpointsFile, migratedAfter }
}
