import t from 'tap'
import { eq, sql } from 'drizzle-orm'
import { START_ALLOWANCE_SECONDS } from '../../src/adapters/db/repositories/reconcile.js'
import { outbox, runners } from '../../src/adapters/db/schema.js'
import { build } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { createProject } from '../helpers/fixtures.js'

t.test(`POST /api/v1/reconcile on ${backendName()}`, async t => {
  const { app, ctx } = await build(t, config => { config.daemon.lost_grace_seconds = 60 })
  const db = ctx.database.db
  const project = await createProject(t, ctx, { maxConcurrentRunners: 10 })
  const launch = async () => (await ctx.runners.launch({ project: project.name, agent: 'generic-test' }, 'test')).id
  // Runner heartbeats are written by supervisors; here they are planted relative to the DB clock.
  const plant = (id: string, status: string, secondsAgo: number | null, startedSecondsAgo = 600) => db.update(runners).set({
    status,
    startedAt: sql`now() - make_interval(secs => ${startedSecondsAgo})`,
    lastHeartbeat: secondsAgo === null ? null : sql`now() - make_interval(secs => ${secondsAgo})`,
  }).where(eq(runners.id, id))

  const fresh = await launch()
  await plant(fresh, 'running', 5)
  const silent = await launch()
  await plant(silent, 'running', 45)
  const neverBeat = await launch()
  await plant(neverBeat, 'starting', null, 30 + START_ALLOWANCE_SECONDS + 10)
  const slowStart = await launch()
  await plant(slowStart, 'starting', null, 45)
  const longLost = await launch()
  await plant(longLost, 'lost', 200)
  const pending = await launch()

  const res = await app.inject({ method: 'POST', url: '/api/v1/reconcile' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { reconciledCount: 3, failedRunnerIds: [longLost] })

  const status = async (id: string) => (await ctx.runners.get(id)).status
  t.equal(await status(fresh), 'running', 'a runner inside its TTL is left alone')
  t.equal(await status(silent), 'lost', 'a runner silent past its TTL is lost')
  t.equal(await status(neverBeat), 'lost', 'a runner that never heartbeated is judged by its start')
  t.equal(await status(slowStart), 'starting', 'with an allowance for a start that takes longer than its TTL')
  t.equal(await status(longLost), 'failed', 'a lost runner past the grace has failed')
  t.ok((await ctx.runners.get(longLost)).terminatedAt)
  t.equal(await status(pending), 'pending', 'a runner no supervisor started is not judged by heartbeats')

  const types = await db.select({ id: outbox.aggregateId, type: outbox.eventType }).from(outbox).where(sql`${outbox.eventType} in ('runner.lost', 'runner.failed')`)
  t.same(types.map(e => `${e.type}:${e.id}`).sort(), [`runner.failed:${longLost}`, `runner.lost:${neverBeat}`, `runner.lost:${silent}`].sort(), 'one event per transition')

  t.test('a second pass, and two passes at once, change nothing more', async t => {
    const [a, b] = await Promise.all([app.inject({ method: 'POST', url: '/api/v1/reconcile' }), ctx.reconciler.reconcile('test')])
    t.same(a.json(), { reconciledCount: 0, failedRunnerIds: [] })
    t.equal(b.reconciledCount, 0)
  })

  t.test('concurrent reconcilers never move the same runner twice', async t => {
    const ids = await Promise.all(Array.from({ length: 5 }, launch))
    for (const id of ids) await plant(id, 'running', 100)
    const results = await Promise.all(Array.from({ length: 4 }, () => ctx.reconciler.reconcile('test')))
    t.equal(results.reduce((n, r) => n + r.lostRunnerIds.length, 0), 5, 'each runner marked lost exactly once')
    const events = await db.select({ id: outbox.aggregateId }).from(outbox).where(sql`${outbox.eventType} = 'runner.lost' and ${outbox.aggregateId} in ${ids}`)
    t.equal(events.length, 5)
  })
})
