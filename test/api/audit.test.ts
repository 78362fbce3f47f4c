import t from 'tap'
import { and, eq, sql } from 'drizzle-orm'
import { events } from '../../src/adapters/db/schema.js'
import { build } from '../helpers/app.js'
import { disableAuditGuard } from '../helpers/audit.js'
import { backendName } from '../helpers/database.js'
import { createProject } from '../helpers/fixtures.js'

t.test(`GET /api/v1/audit/verify on ${backendName()}`, async t => {
  const { app, ctx } = await build(t)
  const verify = (query = '') => app.inject({ method: 'GET', url: `/api/v1/audit/verify${query}` })
  const first = await createProject(t, ctx)
  const second = await createProject(t, ctx, { maxConcurrentRunners: 3 })
  await ctx.runners.launch({ project: second.name, agent: 'generic-test' }, 'test')

  t.test('a clean history verifies, whole or one chain at a time', async t => {
    const all = await verify()
    t.equal(all.statusCode, 200)
    t.same(all.json(), { ok: true, checkedRows: 4, chains: 2, findings: [], complete: true })
    t.same((await verify(`?chain=${second.name}`)).json(), { ok: true, checkedRows: 3, chains: 1, findings: [], complete: true })
    t.same((await verify('?chain=_system')).json(), { ok: true, checkedRows: 0, chains: 0, findings: [], complete: true }, 'an empty chain is intact')
  })

  t.test('bad queries are problems', async t => {
    for (const query of ['?chain=', '?colour=blue', `?chain=${'x'.repeat(64)}`]) {
      const res = await verify(query)
      t.equal(res.statusCode, 400, query)
      t.match(res.headers['content-type'], /application\/problem\+json/)
    }
  })

  t.test('the first broken row is named', async t => {
    await disableAuditGuard(ctx.database.db)
    const [row] = await ctx.database.db.select().from(events).where(and(eq(events.chain, first.name), eq(events.chainSeq, 1)))
    await ctx.database.db.update(events).set({ data: sql`${events.data} || '{"path":"/elsewhere"}'::jsonb` }).where(eq(events.id, row!.id))
    const res = await verify()
    t.equal(res.statusCode, 200)
    t.match(res.json(), { ok: false, firstBroken: { chain: first.name, chainSeq: 1, eventId: row!.eventId, reason: 'mac_mismatch' } })
    t.same((await verify(`?chain=${second.name}`)).json(), { ok: true, checkedRows: 3, chains: 1, findings: [], complete: true }, 'other chains are unaffected')
  })
})
