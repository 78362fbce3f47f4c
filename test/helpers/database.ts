// A fresh database per test file: in-memory PGlite by default, or a scratch database on the
// Postgres named by STRATAVORE_TEST_DATABASE_URL (created here, dropped at teardown, kept when
// a test failed so it can be inspected). The same suites run on both.
import { createHash, randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { openDatabase, type Database } from '../../src/adapters/db/client.js'

type TapTest = { teardown(fn: () => unknown): void, passing(): boolean, comment(...args: unknown[]): void }

export const testDatabaseUrl = (): string | null => process.env.STRATAVORE_TEST_DATABASE_URL || null
export const backendName = () => testDatabaseUrl() ? 'postgres' : 'pglite'

/** Creates an empty scratch database on the test Postgres and returns its URL. */
export const createScratchDatabase = async (t: TapTest): Promise<string> => {
  const adminUrl = testDatabaseUrl()
  if (!adminUrl) throw new Error('STRATAVORE_TEST_DATABASE_URL is not set')
  const name = `stv_test_${randomBytes(6).toString('hex')}`
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
  try {
    await admin.unsafe(`create database ${name}`) // name is generated above, never user input
  } finally {
    await admin.end()
  }
  t.teardown(async () => {
    if (!t.passing() && !process.env.CI) {
      t.comment(`kept database ${name} for inspection`)
      return
    }
    const dropper = postgres(adminUrl, { max: 1, onnotice: () => {} })
    try {
      await dropper.unsafe(`drop database if exists ${name} with (force)`)
    } finally {
      await dropper.end()
    }
  })
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return url.toString()
}

// Creating an empty PGlite cluster (initdb in WASM) costs seconds of CPU per test file; loading
// a dump of one already migrated costs about a third. The dump is cached in the temp dir, named
// by a hash of the migrations and the PGlite version, so it is rebuilt whenever either changes.
let template: Promise<Blob> | null = null
const migratedTemplate = (): Promise<Blob> => template ??= (async () => {
  const migrations = join(import.meta.dirname, '../../drizzle')
  const hash = createHash('sha256').update(readFileSync(join(import.meta.dirname, '../../node_modules/@electric-sql/pglite/package.json')))
  for (const file of readdirSync(migrations, { recursive: true }).map(String).sort()) {
    if (file.endsWith('.sql') || file.endsWith('.json')) hash.update(file).update(readFileSync(join(migrations, file)))
  }
  const path = join(tmpdir(), `stratavore-test-pglite-${hash.digest('hex').slice(0, 16)}.tar`)
  try {
    return new Blob([readFileSync(path)])
  } catch {}
  const fresh = await openDatabase({ kind: 'pglite', dataDir: null })
  try {
    await fresh.migrate()
    const dump = await fresh.dumpDataDir!()
    // Written aside and renamed: test files in parallel may race to make it; any of them wins.
    const partial = `${path}.${process.pid}`
    writeFileSync(partial, Buffer.from(await dump.arrayBuffer()))
    renameSync(partial, path)
    return dump
  } finally {
    await fresh.close()
  }
})()

/** Opens (and migrates) a fresh database; closes it at teardown. */
export const openTestDatabase = async (t: TapTest, { poolSize = 20 }: { poolSize?: number } = {}): Promise<Database> => {
  const database = testDatabaseUrl()
    ? await openDatabase({ kind: 'postgres', url: await createScratchDatabase(t), poolSize })
    : await openDatabase({ kind: 'pglite', dataDir: null, from: await migratedTemplate() })
  // Registered before the drop above runs (teardowns run in reverse): close, then drop.
  t.teardown(() => database.close())
  await database.migrate()
  return database
}

/**
 * Two handles on one fresh database, as two daemons sharing it have: on Postgres two pools of
 * their own; PGlite is single-process, so there the daemons share its one instance.
 */
export const openSharedTestDatabase = async (t: TapTest): Promise<[Database, Database]> => {
  if (!testDatabaseUrl()) {
    const database = await openTestDatabase(t)
    return [database, database]
  }
  const url = await createScratchDatabase(t)
  const first = await openDatabase({ kind: 'postgres', url, poolSize: 5 })
  const second = await openDatabase({ kind: 'postgres', url, poolSize: 5 })
  t.teardown(async () => { await first.close(); await second.close() })
  await first.migrate()
  return [first, second]
}
