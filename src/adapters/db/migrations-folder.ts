// Our migrations folder, or a copy of its first migrations only: a restore stops at the schema its
// backup was made at, and a migration that carries data over is tested from the schema before it.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { migrationsFolder } from './postgres-client.js'

interface Journal { entries: Array<{ tag: string, when: number }> }

export const migrationsJournal = (): Journal => JSON.parse(readFileSync(join(migrationsFolder, 'meta/_journal.json'), 'utf8')) as Journal

/** A temporary migrations folder holding only the first `count` of ours (drizzle reads the journal); the caller removes it. */
export const migrationsFolderUpTo = (count: number): string => {
  const dir = mkdtempSync(join(tmpdir(), 'stratavore-migrations-'))
  const journal = migrationsJournal()
  const entries = journal.entries.slice(0, count)
  cpSync(join(migrationsFolder, 'meta'), join(dir, 'meta'), { recursive: true })
  writeFileSync(join(dir, 'meta/_journal.json'), JSON.stringify({ ...journal, entries }))
  for (const { tag } of entries) cpSync(join(migrationsFolder, `${tag}.sql`), join(dir, `${tag}.sql`))
  return dir
}
