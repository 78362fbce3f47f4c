// The audit log is append-only (drizzle/0006 and src/adapters/db/audit-guard.ts): UPDATE,
// DELETE and TRUNCATE of events are refused, the application's appends go on. On Postgres, a
// daemon role that owns the table but is no superuser also loses those privileges, so that
// disabling the trigger is not enough; what such an owner can still do on purpose is shown too.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { sql, type SQL } from 'drizzle-orm'
import postgres from 'postgres'
import { guardAuditLog } from '../../src/adapters/db/audit-guard.js'
import { openDatabase, rowsOf, type Db } from '../../src/adapters/db/client.js'
import { uuidV7Ids } from '../../src/adapters/system/clock-and-ids.js'
import { buildContext } from '../helpers/app.js'
import { backendName, createScratchDatabase, testDatabaseUrl } from '../helpers/database.js'
import { createProject } from '../helpers/fixtures.js'

/** The SQLSTATE a statement fails with, or null when it succeeds (drizzle may wrap the driver's error). */
const sqlState = async (db: Db, statement: SQL): Promise<string | null> => {
  try {
    await db.execute(statement)
    return null
  } catch (err) {
    const e = err as { code?: string, cause?: { code?: string } }
    return e.code ?? e.cause?.code ?? 'unknown'
  }
}

const INSUFFICIENT_PRIVILEGE = '42501'

t.test(`the audit log is append-only on ${backendName()}`, async t => {
  const ctx = await buildContext(t)
  const db = ctx.database.db
  const project = await createProject(t, ctx)
  await ctx.runners.launch({ project: project.name, agent: 'generic-test' }, 'test')

  t.test('UPDATE, DELETE and TRUNCATE are refused, whoever asks (here a superuser)', async t => {
    t.equal(await sqlState(db, sql`update events set actor = 'mallory'`), INSUFFICIENT_PRIVILEGE, 'UPDATE')
    t.equal(await sqlState(db, sql`delete from events where chain = ${project.name}`), INSUFFICIENT_PRIVILEGE, 'DELETE')
    t.equal(await sqlState(db, sql`delete from events where false`), INSUFFICIENT_PRIVILEGE, 'even a DELETE of no row')
    t.equal(await sqlState(db, sql`truncate events cascade`), INSUFFICIENT_PRIVILEGE, 'TRUNCATE')
    const [count] = rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from events`))
    t.equal(count?.n, 2, 'every row is still there')
  })

  t.test('appends go on, and the log verifies', async t => {
    await ctx.runners.launch({ project: project.name, agent: 'generic-test' }, 'test')
    t.match(await ctx.audit.verify(), { ok: true, checkedRows: 3 })
  })

  t.test('a superuser keeps its privileges, and the guard says so', async t => {
    t.match(await guardAuditLog(db), { superuser: true, trigger: true, canRewrite: true })
  })
})

t.test('a daemon role that owns events but is no superuser loses UPDATE, DELETE and TRUNCATE', async t => {
  const adminUrl = testDatabaseUrl()
  if (!adminUrl) {
    t.comment('PGlite has one role, a superuser: this case runs on Postgres (STRATAVORE_TEST_DATABASE_URL)')
    return
  }
  const url = await createScratchDatabase(t)
  const admin = await openDatabase({ kind: 'postgres', url, poolSize: 1 })
  await admin.migrate()
  const role = `stv_audit_${randomBytes(5).toString('hex')}`
  const cluster = postgres(adminUrl, { max: 1, onnotice: () => {} })
  await cluster.unsafe(`create role ${role} login`) // generated name, never user input
  t.teardown(async () => {
    await admin.db.execute(sql.raw(`reassign owned by ${role} to current_user; drop owned by ${role}`))
    await admin.close()
    await cluster.unsafe(`drop role if exists ${role}`)
    await cluster.end()
  })
  await admin.db.execute(sql.raw(`alter table events owner to ${role}`))

  const asRole = new URL(url)
  asRole.username = role
  const daemon = await openDatabase({ kind: 'postgres', url: asRole.toString(), poolSize: 1 })
  t.teardown(() => daemon.close())
  const db = daemon.db

  t.match(await guardAuditLog(db), { role, superuser: false, owner: true, trigger: true, canRewrite: false }, 'revoked at start')
  const id = uuidV7Ids.next()
  t.equal(await sqlState(db, sql`insert into events (chain, chain_seq, event_id, event_type, entity_type, entity_id, project, actor, occurred_at, data)
    values ('p', 1, ${id}, 'project.created', 'project', 'p', 'p', 'test', now(), '{}'::jsonb)`), null, 'inserting still works')

  // The owner may disable the trigger; the privilege check still refuses.
  await db.execute(sql`alter table events disable trigger events_append_only`)
  t.equal(await sqlState(db, sql`delete from events`), INSUFFICIENT_PRIVILEGE, 'DELETE with the trigger off')
  t.equal(await sqlState(db, sql`update events set actor = 'x'`), INSUFFICIENT_PRIVILEGE, 'UPDATE with the trigger off')
  t.equal(await sqlState(db, sql`truncate events cascade`), INSUFFICIENT_PRIVILEGE, 'TRUNCATE with the trigger off')

  // What an owner can still do on purpose (the README says so): grant itself back. The next
  // start revokes again, and checkpoints show what went missing in between.
  await db.execute(sql`grant delete on events to current_user`)
  t.equal(await sqlState(db, sql`delete from events`), null, 'an owner that re-grants itself can delete')
  t.match(await guardAuditLog(db), { canRewrite: false }, 'the next start revokes again')
})
