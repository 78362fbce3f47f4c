import { rmSync } from 'node:fs'
import t from 'tap'
import { sql } from 'drizzle-orm'
import { openDatabase, type Database } from '../../src/adapters/db/client.js'
import { migrationsFolderUpTo, migrationsJournal } from '../../src/adapters/db/migrations-folder.js'
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

t.test(`migration 0014 on ${backendName()}: budgets made with SQL and max_tokens_per_day become budgets`, async t => {
  const url = testDatabaseUrl() ? await createScratchDatabase(t) : null
  const database = url ? await openDatabase({ kind: 'postgres', url, poolSize: 2 }) : await openDatabase({ kind: 'pglite', dataDir: null })
  t.teardown(() => database.close())
  const before = migrationsJournal().entries.findIndex(e => e.tag.startsWith('0014_'))
  t.ok(before > 0, 'migration 0014 is in the journal')
  const folder = migrationsFolderUpTo(before)
  t.teardown(() => rmSync(folder, { recursive: true, force: true }))
  await database.migrate(folder)
  await database.db.execute(sql`insert into projects (name, path) values ('demo', '/tmp/demo'), ('other', '/tmp/other')`)
  await database.db.execute(sql`insert into resource_quotas (project_name, max_tokens_per_day) values ('demo', 9000), ('other', 7000)`)
  await database.db.execute(sql`insert into token_budgets (scope, scope_id, limit_tokens, used_tokens, period_granularity, period_start, period_end) values
    ('global', '', 1000000, 1234, 'monthly', '2026-12-01T00:00:00Z', '2027-01-01T00:00:00Z'),
    ('project', 'other', 5000, 10, 'daily', '2026-12-07T00:00:00Z', '2026-12-08T00:00:00Z'),
    ('project', 'demo', 100, 0, 'hourly', '2026-12-07T10:00:00Z', '2026-12-07T11:00:00Z'),
    ('runner', 'r1', 100, 0, 'daily', '2026-12-07T00:00:00Z', '2026-12-08T00:00:00Z')`)
  await database.migrate()
  const rows = await database.db.execute<{ scope: string, scope_id: string, period: string, limit_tokens: string, used_tokens: string, created_by: string }>(
    sql`select scope, scope_id, period, limit_tokens::text, used_tokens::text, created_by from budgets order by scope, scope_id, period`)
  t.same(Array.isArray(rows) ? rows : (rows as unknown as { rows: unknown[] }).rows, [
    { scope: 'global', scope_id: '', period: 'month', limit_tokens: '1000000', used_tokens: '1234', created_by: 'migration' },
    { scope: 'project', scope_id: 'demo', period: 'day', limit_tokens: '9000', used_tokens: '0', created_by: 'migration' },
    // Its own daily budget wins over its max_tokens_per_day.
    { scope: 'project', scope_id: 'other', period: 'day', limit_tokens: '5000', used_tokens: '10', created_by: 'migration' },
  ], 'hourly and per-runner budgets have no equivalent; the rest are carried over')
})
