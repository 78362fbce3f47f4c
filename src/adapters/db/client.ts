// Opens the database: PGlite (Postgres compiled to WASM, persisted in the data dir) when no
// URL is configured, postgres.js otherwise. Both give the same drizzle PgDatabase, so
// everything above this file runs one code path on either.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'
import { getTableColumns, sql, type Table } from 'drizzle-orm'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import { AppError, errors } from '../../core/errors.js'
import { ensureDataDir } from '../system/data-dir.js'
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
  close(): Promise<void>
}

export type DatabaseOptions =
  | { kind: 'postgres', url: string, poolSize: number, connectTimeoutSeconds?: number }
  | { kind: 'pglite', dataDir: string | null }

const migrationsFolder = fileURLToPath(new URL('../../../drizzle', import.meta.url))
// Any constant works; it only has to be the same in every Stratavore process.
const MIGRATION_LOCK_KEY = 0x5354_5241_5641n

export const openDatabase = async (options: DatabaseOptions): Promise<Database> =>
  options.kind === 'postgres' ? openPostgres(options) : openPglite(options.dataDir)

// How long a connection attempt may take before its query fails. A request that needs the
// database waits for one attempt (more when more requests than the pool has connections are
// waiting), so this bounds how long the API takes to answer 503 when the database host is
// gone or packets are dropped (a stopped server refuses at once). Generous for a server on
// the same network; `?connect_timeout=N` in the URL overrides it for a slower link.
const DEFAULT_CONNECT_TIMEOUT_SECONDS = 2

// Read from the query string alone: postgres.js accepts multi-host URLs that URL() refuses.
const connectTimeoutOf = (url: string, fallback: number): number => {
  const fromUrl = Number(new URLSearchParams(url.split('?')[1] ?? '').get('connect_timeout'))
  return Number.isFinite(fromUrl) && fromUrl > 0 ? fromUrl : fallback
}

const openPostgres = async ({ url, poolSize, connectTimeoutSeconds = DEFAULT_CONNECT_TIMEOUT_SECONDS }: { url: string, poolSize: number, connectTimeoutSeconds?: number }): Promise<Database> => {
  const connectTimeout = connectTimeoutOf(url, connectTimeoutSeconds)
  const client = postgres(url, {
    max: poolSize,
    connect_timeout: connectTimeout,
    idle_timeout: 60,
    onnotice: () => {},
    connection: {
      application_name: 'stratavored',
      idle_in_transaction_session_timeout: 60_000,
      // Launch admission depends on READ COMMITTED (the advisory lock must come before the
      // snapshot); pinning it per connection also saves a SET TRANSACTION per unit of work.
      default_transaction_isolation: 'read committed',
    },
  })
  const db = drizzlePostgres({ client: preparedByDefault(client), schema }) as unknown as Db
  return {
    kind: 'postgres',
    db,
    async migrate () {
      // A dedicated connection holds a session advisory lock for the whole run, so two
      // daemons starting together apply each migration once, one after the other.
      const lockClient = postgres(url, { max: 1, connect_timeout: connectTimeout, onnotice: () => {} })
      try {
        await lockClient`select pg_advisory_lock(${MIGRATION_LOCK_KEY.toString()}::bigint)`
        await migratePostgres(drizzlePostgres({ client: lockClient }), { migrationsFolder })
        await lockClient`select pg_advisory_unlock(${MIGRATION_LOCK_KEY.toString()}::bigint)`
      } finally {
        await lockClient.end({ timeout: 5 })
      }
    },
    async listen (channel, onNotify, onListen) {
      const { unlisten } = await client.listen(channel, onNotify, onListen)
      return unlisten
    },
    async close () { await client.end({ timeout: 5 }) },
  }
}

// drizzle sends unnamed queries unprepared, so postgres.js does a Parse/Describe round trip
// and Postgres re-plans every statement. Our statements are a fixed set of shapes, so letting
// postgres.js prepare and cache them per connection halves round trips and planning.
type SqlClient = postgres.Sql | postgres.TransactionSql
const preparedByDefault = <T extends SqlClient>(client: T): T => new Proxy(client, {
  get (target, property, receiver) {
    if (property === 'unsafe') {
      return (query: string, params?: postgres.ParameterOrJSON<never>[], options?: postgres.UnsafeQueryOptions) =>
        // eslint-disable-next-line no-restricted-syntax -- drizzle's own parameterized statements pass through here
        target.unsafe(query, params, { ...options, prepare: true })
    }
    if (property === 'begin') {
      return (...args: unknown[]) => {
        const work = args.pop() as (tx: postgres.TransactionSql) => unknown
        return (target as postgres.Sql).begin(...(args as [string]), tx => work(preparedByDefault(tx)))
      }
    }
    return Reflect.get(target, property, receiver)
  },
})

const openPglite = async (dataDir: string | null): Promise<Database> => {
  const releaseLock = dataDir ? lockDataDir(dataDir) : () => {}
  try {
    // PGlite would make its directory 0755 (and its files 0666): made 0700 first, it keeps it.
    if (dataDir) ensureDataDir(join(dataDir, 'pglite'))
    const client = new PGlite(dataDir ? join(dataDir, 'pglite') : undefined)
    await client.waitReady
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
