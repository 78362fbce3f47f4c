import t from 'tap'
import { sql } from 'drizzle-orm'
import { openDatabase, type Database } from '../../src/adapters/db/client.js'
import { backendName, createScratchDatabase, testDatabaseUrl } from '../helpers/database.js'

const appliedMigrations = async (database: Database) => {
  const rows = await database.db.execute<{ n: number }>(sql`select count(*)::int as n from drizzle.__drizzle_migrations`)
  return (Array.isArray(rows) ? rows : (rows as unknown as { rows: Array<{ n: number }> }).rows)[0]!.n
}

t.test(`migrations on ${backendName()}: twice in a row, and several at once, apply each migration once`, async t => {
  const url = testDatabaseUrl() ? await createScratchDatabase(t) : null
  const open = () => url ? openDatabase({ kind: 'postgres', url, poolSize: 2 }) : openDatabase({ kind: 'pglite', dataDir: null })
  const first = await open()
  t.teardown(() => first.close())
  // Postgres: three processes' worth of handles race; PGlite is single-process, so its
  // handles share one instance and the race is between calls on it.
  const racers = url ? [first, await open(), await open()] : [first, first, first]
  t.teardown(() => Promise.all(racers.slice(1).filter(r => r !== first).map(r => r.close())))
  await Promise.all(racers.map(r => r.migrate()))
  const applied = await appliedMigrations(first)
  t.ok(applied >= 1)
  await first.migrate()
  t.equal(await appliedMigrations(first), applied, 'a second run applies nothing')
  const tables = await first.db.execute<{ table_name: string }>(sql`select table_name from information_schema.tables where table_schema = 'public' order by 1`)
  const names = (Array.isArray(tables) ? tables : (tables as unknown as { rows: Array<{ table_name: string }> }).rows).map(r => r.table_name)
  t.same(names, ['alerts', 'api_tokens', 'budget_periods', 'budgets', 'daemon_instances', 'event_feed', 'event_feed_state', 'events', 'metric_counter_deltas', 'metric_counters', 'metrics_leader',
    'node_join_tokens', 'nodes', 'notification_cursor', 'notification_deliveries', 'notification_reminders', 'outbox', 'project_capabilities', 'projects', 'resource_quotas', 'runner_outputs', 'runners', 'session_transcript_chunks', 'sessions'])
})
