// Backup and restore round trip on the test backend (PGlite, or Postgres with
// STRATAVORE_TEST_DATABASE_URL): GET /api/v1/backup from a daemon with history, restore into an
// empty database, start a daemon on it, and the audit log verifies (rows and checkpoints),
// every table has its rows, sessions resume and the live feed goes on without replaying.
// Then every way a restore must refuse, each leaving the target as it was.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { sql } from 'drizzle-orm'
import t from 'tap'
import { buildApp } from '../../src/api/app.js'
import { openDatabase, rowsOf, type Database } from '../../src/adapters/db/client.js'
import { restoreBackup } from '../../src/adapters/backup/restore.js'
import { CHECKPOINT_FILE } from '../../src/adapters/audit/checkpoint-file.js'
import type { Config } from '../../src/config.js'
import { asAdmin, bearer, build, buildContext, tempDir } from '../helpers/app.js'
import { backendName, createScratchDatabase, testDatabaseUrl } from '../helpers/database.js'
import { createProject, insertSession } from '../helpers/fixtures.js'

const KEYS = (config: Config) => { config.auditKeys = [{ id: 'k-backup', secret: 'b'.repeat(64) }] }

/** An empty database, not even migrated: what a restore starts from. */
const emptyDatabase = async (t: Parameters<typeof tempDir>[0]): Promise<Database> => {
  const database = testDatabaseUrl()
    ? await openDatabase({ kind: 'postgres', url: await createScratchDatabase(t), poolSize: 5 })
    : await openDatabase({ kind: 'pglite', dataDir: null })
  t.teardown(() => database.close())
  return database
}

const count = async (database: Database, table: string) =>
  Number(rowsOf<{ n: string }>(await database.db.execute(sql`select count(*)::text as n from ${sql.identifier(table)}`))[0]!.n)

const codeOf = async (promise: Promise<unknown>) => promise.then(() => '(no error)', (err: { code?: string, message: string }) => `${err.code}: ${err.message}`)

t.test(`backup and restore on ${backendName()}`, async t => {
  const { app, ctx } = await build(t, KEYS)
  const project = await createProject(t, ctx, { maxConcurrentRunners: 10 })
  const runner = await ctx.runners.launch({ project: project.name, agent: 'generic-test' }, 'test')
  const sessionId = '6f1c1f7e-3b1a-4c55-9a51-0c2d6c1f0a01'
  await insertSession(ctx, { id: sessionId, projectName: project.name, runnerId: runner.id, tokensUsed: 9_007_199_254_740_000 })
  await app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name: 'reader', role: 'viewer' } })
  t.match(await ctx.auditCheckpoints.checkpoint(), { written: true })

  const viewer = (await app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name: 'peeker', role: 'viewer' } })).json().secret as string
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/backup', headers: bearer(viewer) })).statusCode, 403, 'a viewer may not take a backup')

  const res = await app.inject({ method: 'GET', url: '/api/v1/backup' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /application\/x-ndjson/)
  t.match(res.headers['content-disposition'], /attachment; filename="stratavore-\d{8}T\d{6}Z\.backup"/)
  const dir = tempDir(t)
  const file = join(dir, 'good.backup')
  writeFileSync(file, res.rawPayload)
  const header = JSON.parse(res.body.split('\n')[0]!)
  t.match(header, { format: 'stratavore-backup', version: 1, database: backendName(), auditKeyIds: ['k-backup'] })
  t.ok(header.migrations.length > 0, 'the header names the schema')

  const target = await emptyDatabase(t)
  const dataDir = join(tempDir(t), 'data')

  t.test('refused: a truncated, a damaged, a foreign file, and a data dir with checkpoints; the database stays empty', async t => {
    const bytes = readFileSync(file)
    const cases: Array<[string, Buffer | string, RegExp]> = [
      ['truncated', bytes.subarray(0, bytes.length - 40), /^BACKUP_INVALID: .*cut short \(truncated\)/],
      ['cut inside a row', bytes.subarray(0, Math.floor(bytes.length / 2)), /^BACKUP_INVALID: /],
      ['damaged', Buffer.from(bytes.toString('utf8').replace(project.name, project.name.toUpperCase())), /^BACKUP_INVALID: .*checksum does not match/],
      ['foreign', readFileSync(new URL('../fixtures/seed-stratavore.yaml', import.meta.url)), /^BACKUP_INVALID: .*does not start with a Stratavore backup header/],
      ['empty', '', /^BACKUP_INVALID: .*empty/],
      ['gzip cut short', gzipSync(bytes).subarray(0, 200), /^BACKUP_INVALID: /],
    ]
    for (const [name, content, expected] of cases) {
      const bad = join(dir, `${name}.backup`)
      writeFileSync(bad, content)
      t.match(await codeOf(restoreBackup({ database: target, file: bad, dataDir })), expected, name)
    }
    t.match(await codeOf(restoreBackup({ database: target, file: join(dir, 'missing.backup'), dataDir })), /^BACKUP_INVALID: .*no such file/)

    const withCheckpoints = join(tempDir(t), 'data')
    const { mkdirSync } = await import('node:fs')
    mkdirSync(withCheckpoints)
    writeFileSync(join(withCheckpoints, CHECKPOINT_FILE), '{"v":1}\n')
    t.match(await codeOf(restoreBackup({ database: target, file, dataDir: withCheckpoints })), /^RESTORE_TARGET_NOT_EMPTY: the data dir already has .*audit-checkpoints\.jsonl/)

    t.match(await codeOf(restoreBackup({ database: ctx.database, file, dataDir: join(tempDir(t), 'd') })),
      /^RESTORE_TARGET_NOT_EMPTY: the database is not empty \(rows in .*projects/, 'a database with rows is refused')
    t.equal(await count(ctx.database, 'projects'), 1, 'and left as it was')
  })

  t.test('into an empty database: every row, a verifying audit log, resumable sessions, a feed that goes on', async t => {
    const gz = join(dir, 'good.backup.gz')
    writeFileSync(gz, gzipSync(readFileSync(file)))
    const result = await restoreBackup({ database: target, file: gz, dataDir })
    t.equal(result.checkpointsFile, join(dataDir, CHECKPOINT_FILE))
    for (const [table, n] of Object.entries(result.rows)) t.equal(await count(target, table), n, `${table}: ${n} rows`)
    t.ok(result.rows.events! > 0 && result.rows.api_tokens! >= 2 && result.rows.sessions === 1)

    const restored = await buildContext(t, config => { KEYS(config); config.dataDir = dataDir }, { database: target })
    const app2 = asAdmin(await buildApp(restored), restored)
    t.teardown(() => app2.close())
    const verify = (await app2.inject({ method: 'GET', url: '/api/v1/audit/verify' })).json()
    t.match(verify, { ok: true, findings: [], checkpoint: { chains: Number } }, 'the audit log and its checkpoints verify')

    const sessions = (await app2.inject({ method: 'GET', url: `/api/v1/sessions?project=${project.name}&resumable=true` })).json().sessions
    t.match(sessions, [{ id: sessionId, tokensUsed: 9_007_199_254_740_000 }], 'the session is there, resumable, its bigint exact')
    await app2.inject({ method: 'POST', url: `/api/v1/runners/${runner.id}/stop`, payload: { force: true } })
    const resumed = await app2.inject({ method: 'POST', url: '/api/v1/runners', payload: { project: project.name, agent: 'claude', conversationMode: 'resume', sessionId } })
    t.equal(resumed.statusCode, 201, resumed.body)

    // The feed places the rows written since the restore, and only those.
    const [{ head }] = rowsOf<{ head: string }>(await target.db.execute(sql`select event_feed_advance()::text as head`)) as [{ head: string }]
    t.equal(Number(head), await count(target, 'events'), 'every audit row has one place in the feed, none twice')
    t.equal((await app2.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name: 'after-restore', role: 'viewer' } })).statusCode, 201,
      'sequences moved past the restored ids')
    t.match((await app2.inject({ method: 'GET', url: '/api/v1/audit/verify' })).json(), { ok: true }, 'and new rows chain on')
  })
})

// Run in the Postgres pass: a backup of the embedded database goes into Postgres (another major
// version) as it is.
if (testDatabaseUrl()) {
  t.test('a PGlite backup restores into Postgres', async t => {
    const source = await openDatabase({ kind: 'pglite', dataDir: null })
    t.teardown(() => source.close())
    const ctx = await buildContext(t, KEYS, { database: source })
    await createProject(t, ctx)
    const file = join(tempDir(t), 'pglite.backup')
    const chunks: string[] = []
    await ctx.backup(async chunk => { chunks.push(chunk) })
    writeFileSync(file, chunks.join(''))
    const target = await emptyDatabase(t)
    const result = await restoreBackup({ database: target, file, dataDir: join(tempDir(t), 'data') })
    t.equal(result.header.database, 'pglite')
    t.equal(await count(target, 'projects'), 1)
    t.equal(await count(target, 'events'), await count(source, 'events'))
  })
}
