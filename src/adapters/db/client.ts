// Opens the database: PGlite (Postgres compiled to WASM, persisted in the data dir) when no
// URL is configured, postgres.js otherwise. Both give the same drizzle PgDatabase, so
// everything above this file runs one code path on either.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { getTableColumns, sql, type Table } from 'drizzle-orm'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { AppError, errors } from '../../core/errors.js'
import { ensureDataDir } from '../system/data-dir.js'
import { migrationsFolder, openPostgres } from './postgres-client.js'
import type { PoolLoad } from './query-guard.js'
import { schema, type Schema } from './schema.js'

export type Db = PgDatabase<PgQueryResultHKT, Schema>

export interface Database {
  kind: 'pglite' | 'postgres'
  db: Db
  /** Applies pending migrations; safe to call twice and from several processes at once. */
  migrate(): Promise<void>
  /**
   * LISTENs on `channel`. `onListen` runs each time the listener is (re)established, since
   * notifications sent while it was down are lost. Resolves to an unlisten function.
   */
  listen(channel: string, onNotify: () => void, onListen: () => void): Promise<() => Promise<void>>
  /** The pool's load, read without a connection (PGlite has one connection and no queue). */
  load(): PoolLoad
  /** One round trip outside the pool (a fresh connection each time): does the server answer? */
  probe(): Promise<void>
  /** PGlite only: the whole data dir as one tar, to open again with `from`. */
  dumpDataDir?(): Promise<Blob>
  close(): Promise<void>
}

export type DatabaseOptions =
  | { kind: 'postgres', url: string, poolSize: number, connectTimeoutSeconds?: number, queryTimeoutMs?: number }
  /** `from`: a data dir dumped by PGlite's dumpDataDir, to start from instead of an empty cluster. */
  | { kind: 'pglite', dataDir: string | null, from?: Blob }

export const openDatabase = async (options: DatabaseOptions): Promise<Database> =>
  options.kind === 'postgres' ? openPostgres(options) : openPglite(options.dataDir, options.from)

const openPglite = async (dataDir: string | null, from?: Blob): Promise<Database> => {
  const releaseLock = dataDir ? lockDataDir(dataDir) : () => {}
  try {
    // PGlite would make its directory 0755 (and its files 0666): made 0700 first, it keeps it.
    if (dataDir) ensureDataDir(join(dataDir, 'pglite'))
    const client = await PGlite.create(dataDir ? join(dataDir, 'pglite') : undefined, from ? { loadDataDir: from } : {})
    const db = drizzlePglite({ client, schema }) as unknown as Db
    // Only this process can open the data dir (see lockDataDir), so serializing the calls made
    // here is all it takes to run migrations once.
    let migrating: Promise<void> = Promise.resolve()
    return {
      kind: 'pglite',
      db,
      migrate () {
        migrating = migrating.catch(() => {}).then(() => migratePglite(drizzlePglite({ client }), { migrationsFolder }))
        return migrating
      },
      async listen (channel, onNotify, onListen) {
        const unlisten = await client.listen(channel, onNotify)
        onListen()
        return unlisten
      },
      load: () => ({ size: 1, inFlight: 0, oldestMs: 0, saturated: false }),
      probe: () => ping(db),
      dumpDataDir: () => client.dumpDataDir('none'),
      async close () {
        try { await client.close() } finally { releaseLock() }
      },
    }
  } catch (err) {
    releaseLock()
    throw err instanceof AppError ? err : errors.unavailable(`cannot open the embedded database in ${dataDir ?? 'memory'}`, {}, err)
  }
}

// PGlite is a single-process database: a second daemon on the same data dir would corrupt it.
const lockDataDir = (dataDir: string): (() => void) => {
  ensureDataDir(dataDir)
  const lockPath = join(dataDir, 'stratavored.lock')
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx', 0o600)
      writeSync(fd, String(process.pid))
      closeSync(fd)
      return () => rmSync(lockPath, { force: true })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const holder = Number(readFileSync(lockPath, 'utf8').trim())
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
        throw errors.unavailable(`the data dir ${dataDir} is in use by another stratavored (pid ${holder}); ` +
          'stop it, or set DATABASE_URL to share a Postgres between daemons')
      }
      rmSync(lockPath, { force: true }) // left behind by a daemon that died
    }
  }
  throw errors.unavailable(`cannot lock the data dir ${dataDir}`)
}

const isAlive = (pid: number) => {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

export const ping = async (db: Db): Promise<void> => { await db.execute(sql`select 1`) }

/** Rows of a db.execute() result: postgres.js returns an array, PGlite an object with rows. */
export const rowsOf = <T>(result: unknown): T[] => (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[]

/** Maps a raw row (snake_case, driver types) of `table` to drizzle's typed row. */
export const fromDriverRow = <T extends Table>(table: T, raw: Record<string, unknown>): T['$inferSelect'] => {
  const row: Record<string, unknown> = {}
  for (const [key, column] of Object.entries(getTableColumns(table))) {
    const value = raw[column.name]
    row[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value)
  }
  return row as T['$inferSelect']
}
