// `stratavore backup`: the whole database from one snapshot, and the audit checkpoints file of
// the daemon that serves it, streamed in the format of backup-file.ts. It runs in the daemon
// (GET /api/v1/backup), because PGlite is single-process: while the daemon runs, nothing else
// may open its data dir. No key leaves: a backup holds no audit key and no token secret (only
// their hashes), so it cannot be used to forge the audit log; keep the key apart (README, Backup).
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Database } from '../db/client.js'
import { appliedMigrations, auditKeyIds, inSnapshot, listTables, serverVersion, tableRows } from '../db/snapshot.js'
import { CHECKPOINT_FILE } from '../audit/checkpoint-file.js'
import { VERSION } from '../../version.js'
import { createBackupWriter } from './backup-file.js'

/**
 * The checkpoint lines as they stand, complete lines only (one being appended right now is
 * left out). Read before the snapshot is taken: a line is written only after the rows it
 * names have committed (checkpointer.ts), so the snapshot holds every row each line names.
 */
const committedCheckpoints = async (dataDir: string): Promise<string | null> => {
  let text: string
  try { text = await readFile(join(dataDir, CHECKPOINT_FILE), 'utf8') } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
  return text.slice(0, text.lastIndexOf('\n') + 1)
}

export const writeBackup = async ({ database, dataDir, write }: {
  database: Database
  dataDir: string
  /** Takes one chunk of the file; resolves when it may take the next (backpressure). */
  write: (chunk: string) => Promise<void>
}): Promise<void> => {
  const checkpoints = await committedCheckpoints(dataDir)
  await database.dedicated(db => inSnapshot(db, async tx => {
    const out = createBackupWriter(write)
    const tables = await listTables(tx)
    await out.header({
      createdAt: new Date().toISOString(),
      database: database.kind,
      serverVersion: await serverVersion(tx),
      stratavoreVersion: VERSION,
      migrations: await appliedMigrations(tx),
      auditKeyIds: await auditKeyIds(tx),
    })
    for (const table of tables) {
      await out.table(table)
      for await (const rows of tableRows(tx, table)) await out.rows(rows)
    }
    if (checkpoints !== null) await out.file(CHECKPOINT_FILE, checkpoints)
    await out.end()
  }))
}
