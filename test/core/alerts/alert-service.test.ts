// Alert conditions as events: each condition writes one system.alert.<severity> event when it
// begins and one when it ends, however often it is evaluated, with the alert's own seq. The
// facts are made in the database as the system would leave them (failed runners, a lost node,
// a used-up budget, a silent daemon, an overdue outbox row).
import { randomUUID } from 'node:crypto'
import { and, asc, eq, inArray, sql } from 'drizzle-orm'
import t from 'tap'
import { budgets, daemonInstances, nodes, outbox, runners } from '../../../src/adapters/db/schema.js'
import { buildContext } from '../../helpers/app.js'
import { createProject } from '../../helpers/fixtures.js'

t.test('conditions raise one event when they begin and one when they end', async t => {
  const ctx = await buildContext(t, config => {
    config.alerts.runner_failures = 2
    config.alerts.outbox_lag_seconds = 60
  })
  const alertEvents = async () => (await ctx.database.db.select({ key: outbox.routingKey, payload: outbox.payload }).from(outbox)
    .where(eq(outbox.eventType, 'system.alert')).orderBy(asc(outbox.id))).map(r => ({ routingKey: r.key, ...(r.payload as { seq: number, aggregate_type: string, aggregate_id: string, data: Record<string, unknown> }) }))

  t.same(await ctx.alerts.evaluate(), [], 'a quiet system raises nothing')

  const project = await createProject(t, ctx)
  const launched = await Promise.all([1, 2].map(() => ctx.runners.launch({ project: project.name, agent: 'generic-test' }, 'test')))
  const ids = launched.map(r => r.id)
  await ctx.database.db.update(runners).set({ status: 'failed', terminatedAt: sql`now()` }).where(inArray(runners.id, ids))
  const nodeId = randomUUID()
  await ctx.database.db.insert(nodes).values({ id: nodeId, name: 'far-away', hostname: 'far-away', version: 'test', status: 'lost', lastHeartbeat: sql`now() - interval '5 minutes'` })
  const [budget] = await ctx.database.db.insert(budgets).values({
    id: randomUUID(), scope: 'global', limitTokens: 100, usedTokens: 250, period: 'day', createdBy: 'test',
    periodStart: sql`now() - interval '1 hour'`, periodEnd: sql`now() + interval '1 hour'`,
  }).returning({ id: budgets.id })
  const daemonId = randomUUID()
  await ctx.database.db.insert(daemonInstances).values({ id: daemonId, hostname: 'gone-host', pid: 1, version: 'test', roles: ['api'], lastHeartbeat: sql`now() - interval '10 minutes'` })
  // The launches' events wait in the outbox (no relay runs): one of them overdue.
  const [overdue] = await ctx.database.db.select({ id: outbox.id }).from(outbox).orderBy(asc(outbox.id)).limit(1)
  await ctx.database.db.update(outbox).set({ nextAttemptAt: sql`now() - interval '10 minutes'` }).where(eq(outbox.id, overdue!.id))

  const fired = await ctx.alerts.evaluate()
  const expected = ['budget_exceeded:' + budget!.id, `daemon_down:${daemonId}`, `node_lost:${nodeId}`, 'outbox_lag', 'runner_failures']
  t.same(fired.map(c => c.key).sort(), expected, 'each condition fires')
  t.ok(fired.every(c => c.state === 'firing' && c.seq === 1))
  let events = await alertEvents()
  t.same(events.map(e => e.data.key).sort(), expected, 'one event each')
  const byKey = (key: string) => events.find(e => e.data.key === key)!
  t.equal(byKey(`daemon_down:${daemonId}`).routingKey, 'system.alert.critical')
  t.equal(byKey(`node_lost:${nodeId}`).routingKey, 'system.alert.error')
  t.equal(byKey('runner_failures').routingKey, 'system.alert.warning')
  t.match(byKey(`budget_exceeded:${budget!.id}`), {
    routingKey: 'system.alert.warning', seq: 1, aggregate_type: 'alert', aggregate_id: `budget_exceeded:${budget!.id}`,
    data: { severity: 'warning', alert: 'budget_exceeded', state: 'firing', reason: /global day token budget is used up \(250 of 100\)/, details: { scope: 'global', used_tokens: 250 } },
  })
  t.match(byKey('runner_failures').data, { details: { failed: 2, threshold: 2 } })

  t.same(await ctx.alerts.evaluate(), [], 'a condition that still holds raises nothing more')
  t.equal((await alertEvents()).length, 5)
  t.same((await ctx.alerts.firing()).map(a => a.key).sort(), expected)

  // Everything recovers.
  await ctx.database.db.update(runners).set({ terminatedAt: sql`now() - interval '1 day'` }).where(inArray(runners.id, ids))
  await ctx.database.db.update(nodes).set({ status: 'ready', lastHeartbeat: sql`now()` }).where(eq(nodes.id, nodeId))
  await ctx.database.db.update(budgets).set({ limitTokens: 1000 }).where(eq(budgets.id, budget!.id))
  await ctx.database.db.update(daemonInstances).set({ stoppedAt: sql`now()` }).where(eq(daemonInstances.id, daemonId))
  await ctx.database.db.update(outbox).set({ deliveredAt: sql`now()` }).where(eq(outbox.id, overdue!.id))
  const resolved = await ctx.alerts.evaluate()
  t.same(resolved.map(c => c.key).sort(), expected, 'each condition resolves')
  events = await alertEvents()
  const resolutions = events.slice(5)
  t.equal(resolutions.length, 5, 'one event each')
  t.ok(resolutions.every(e => e.data.state === 'resolved' && e.seq === 2 && /^resolved: /.test(String(e.data.reason))), 'state resolved, seq 2')
  t.equal(resolutions.find(e => e.data.key === `daemon_down:${daemonId}`)!.routingKey, 'system.alert.critical', 'routed by the severity it had')
  t.same(await ctx.alerts.evaluate(), [])

  // The same condition again is a new episode of the same alert: seq 3.
  await ctx.database.db.update(nodes).set({ status: 'lost' }).where(and(eq(nodes.id, nodeId)))
  const again = await ctx.alerts.evaluate()
  t.same(again.map(c => [c.key, c.state, c.seq]), [[`node_lost:${nodeId}`, 'firing', 3]])

  // The database gate's episode is written once it is over: fired and resolved together.
  const openedAt = new Date(Date.now() - 30_000)
  const gate = await ctx.alerts.databaseGateClosed({ daemonId: ctx.daemonId, reason: 'unreachable', openedAt, refused: 12, failed: 3 })
  t.same(gate.map(c => [c.state, c.seq]), [['firing', 1], ['resolved', 2]])
  const gateEvents = (await alertEvents()).filter(e => e.data.alert === 'database_gate')
  t.same(gateEvents.map(e => [e.routingKey, e.data.state]), [['system.alert.error', 'firing'], ['system.alert.error', 'resolved']])
  t.match(gateEvents[0]!.data, { fired_at: openedAt.toISOString(), details: { daemon_id: ctx.daemonId, refused: 12, failed: 3 } })
})
