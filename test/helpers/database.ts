// A fresh database per test file: in-memory PGlite by default, or a scratch database on the
// Postgres named by STRATAVORE_TEST_DATABASE_URL (created here, dropped at teardown, kept when
// a test failed so it can be inspected). The same suites run on both.
import { randomBytes } from 'node:crypto'
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

/** Opens (and migrates) a fresh database; closes it at teardown. */
export const openTestDatabase = async (t: TapTest, { poolSize = 20 }: { poolSize?: number } = {}): Promise<Database> => {
  const database = testDatabaseUrl()
    ? await openDatabase({ kind: 'postgres', url: await createScratchDatabase(t), poolSize })
    : await openDatabase({ kind: 'pglite', dataDir: null })
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
