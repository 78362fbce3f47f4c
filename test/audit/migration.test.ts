// Upgrading a database that has history from before the chain (migration 0001): old rows get a
// chain and a chain_seq in the order they were written, stay unsigned, and the verifier says
// so; new rows continue each chain after them.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { asc, sql } from 'drizzle-orm'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import { createHmacSigner } from '../../src/adapters/audit/hmac-signer.js'
import { openDatabase } from '../../src/adapters/db/client.js'
import { createAuditReader } from '../../src/adapters/db/repositories/audit-reader.js'
import { events } from '../../src/adapters/db/schema.js'
import { createUnitOfWork } from '../../src/adapters/db/unit-of-work.js'
import { uuidV7Ids } from '../../src/adapters/system/clock-and-ids.js'
import { createAuditService } from '../../src/core/audit/audit-service.js'
import { tempDir } from '../helpers/temp-dir.js'
import { backendName, createScratchDatabase, testDatabaseUrl } from '../helpers/database.js'

const DRIZZLE = fileURLToPath(new URL('../../drizzle', import.meta.url))

t.test(`migrating a history written before the chain, on ${backendName()}`, async t => {
  // A migrations folder holding only 0000, as an old release shipped it.
  const old = tempDir(t)
  mkdirSync(join(old, 'meta'))
  copyFileSync(join(DRIZZLE, '0000_initial.sql'), join(old, '0000_initial.sql'))
  const journal = JSON.parse(readFileSync(join(DRIZZLE, 'meta/_journal.json'), 'utf8'))
  writeFileSync(join(old, 'meta/_journal.json'), JSON.stringify({ ...journal, entries: journal.entries.slice(0, 1) }))

  const url = testDatabaseUrl() ? await createScratchDatabase(t) : null
  const database = url ? await openDatabase({ kind: 'postgres', url, poolSize: 2 }) : await openDatabase({ kind: 'pglite', dataDir: null })
  t.teardown(() => database.close())
  const db = database.db
  if (url) await migratePostgres(db as never, { migrationsFolder: old })
  else await migratePglite(db as never, { migrationsFolder: old })

  // Rows as the old code wrote them: no chain, no MAC. The order of ids is the order written.
  for (const [project, type] of [['alpha', 'project.created'], [null, 'system.alert'], ['alpha', 'project.archived'], ['', 'system.alert']] as const) {
    const id = uuidV7Ids.next()
    await db.execute(sql`insert into events (event_id, event_type, entity_type, entity_id, project, actor, occurred_at, data)
      values (${id}, ${type}, 'project', 'x', ${project}, 'old', now(), '{}'::jsonb)`)
  }
  await database.migrate()

  const rows = await db.select().from(events).orderBy(asc(events.id))
  t.same(rows.map(r => [r.chain, r.chainSeq, r.mac]), [['alpha', 1, null], ['_system', 1, null], ['alpha', 2, null], ['_system', 2, null]])

  const signer = createHmacSigner([{ id: 'k1', secret: 'migration-secret-0123456789' }])
  await createUnitOfWork(db, signer).run(tx => tx.events.append({
    eventId: uuidV7Ids.next(), type: 'project.quota_changed', occurredAt: new Date(), project: 'alpha',
    aggregateType: 'project', aggregateId: 'alpha', seq: 3, actor: 'new', data: { maxConcurrentRunners: 2 },
  }))
  const [appended] = await db.select().from(events).where(sql`${events.actor} = 'new'`)
  t.match(appended, { chain: 'alpha', chainSeq: 3, keyId: 'k1', prevMac: '' }, 'the chain goes on after the old rows')

  const verify = createAuditService({ reader: createAuditReader(db), signer }).verify
  t.match(await verify({ chain: 'alpha' }), { ok: false, checkedRows: 1, firstBroken: { chain: 'alpha', chainSeq: 1, reason: 'unsigned' } },
    'old rows are reported, not vouched for')
})
