// The batched heartbeat statement and node reconciliation against a real database: fencing by
// generation and state, idempotent token totals feeding sessions and budgets, and a silent node
// going lost until its next heartbeat.
import t from 'tap'
import { eq, sql } from 'drizzle-orm'
import { nodes, outbox, runners, sessions, tokenBudgets } from '../../src/adapters/db/schema.js'
import { buildContext } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { createProject } from '../helpers/fixtures.js'

const NODE = '01900000-0000-7000-8000-00000000beef'

t.test(`heartbeats and node reconciliation on ${backendName()}`, async t => {
  const ctx = await buildContext(t)
  const db = ctx.database.db
  const project = await createProject(t, ctx, { maxConcurrentRunners: 10 })
  t.equal(await ctx.repos.supervision.registerNode({
    id: NODE, name: 'node-a', hostname: 'host-a', version: 'test', capacity: 10, credentialHash: 'h1', attachUrl: 'ws://127.0.0.1:1', attachKey: 'k',
  }), 'ok')
  t.equal(await ctx.repos.supervision.registerNode({
    id: NODE, name: 'node-a', hostname: 'host-a', version: 'test', capacity: 10, credentialHash: 'other', attachUrl: 'ws://x', attachKey: 'k',
  }), 'credential_mismatch', 'only the credential holder re-registers a node id')
  t.equal(await ctx.repos.supervision.registerNode({
    id: '01900000-0000-7000-8000-00000000cafe', name: 'node-a', hostname: 'h', version: 't', capacity: 1, credentialHash: 'h2', attachUrl: 'ws://y', attachKey: 'k',
  }), 'name_taken')

  const launch = async () => {
    const r = await ctx.runners.launch({ project: project.name, agent: 'generic-test' }, 'test')
    await db.update(runners).set({ nodeId: NODE, status: 'running', generation: 1, sessionId: `s-${r.id}` }).where(eq(runners.id, r.id))
    await db.insert(sessions).values({ id: `s-${r.id}`, runnerId: r.id, projectName: project.name, agent: 'generic-test' })
    return r.id
  }
  const a = await launch()
  const b = await launch()
  const done = await launch()
  await db.update(runners).set({ status: 'failed' }).where(eq(runners.id, done))
  await db.insert(tokenBudgets).values({
    scope: 'project', scopeId: project.name, limitTokens: 1_000_000, periodGranularity: 'daily',
    periodStart: sql`now() - interval '1 hour'`, periodEnd: sql`now() + interval '1 hour'`,
  })
  const beat = (runnerId: string, generation: number, tokens: number) => ({
    runnerId, generation, cpuPercent: 12.5, memoryMb: 64, inputTokens: tokens, outputTokens: 1, cacheReadTokens: 0, cacheCreationTokens: 0,
  })

  const first = await ctx.repos.supervision.heartbeat(NODE, [beat(a, 1, 100), beat(b, 2, 100), beat(done, 1, 100)])
  t.same(first, { accepted: [a], lost: [], fenced: [b, done] }, 'a wrong generation and a finished runner are fenced')
  // The same totals again (a retried heartbeat) add nothing; higher totals add the difference.
  await ctx.repos.supervision.heartbeat(NODE, [beat(a, 1, 100)])
  await ctx.repos.supervision.heartbeat(NODE, [beat(a, 1, 150)])
  const row = await ctx.runners.get(a)
  t.match(row, { tokensUsed: 151, inputTokens: 150, outputTokens: 1, cpuPercent: 12.5, memoryMb: 64 })
  t.ok(row.lastHeartbeat, 'stamped by the database clock')
  const [session] = await db.select().from(sessions).where(eq(sessions.id, `s-${a}`))
  t.equal(session!.tokensUsed, 151, 'the session gets the increase once')
  const [budget] = await db.select().from(tokenBudgets).where(eq(tokenBudgets.scopeId, project.name))
  t.equal(budget!.usedTokens, 151, 'the project budget in force gets it too')

  await db.update(runners).set({ status: 'lost' }).where(eq(runners.id, a))
  t.same(await ctx.repos.supervision.heartbeat(NODE, [beat(a, 1, 150)]), { accepted: [], lost: [a], fenced: [] }, 'a lost runner that beats is reported for recovery')

  await db.update(nodes).set({ lastHeartbeat: sql`now() - interval '1 hour'` }).where(eq(nodes.id, NODE))
  const result = await ctx.reconciler.reconcile('test')
  t.same(result.lostNodeIds, [NODE], 'a silent node is lost')
  const [again] = await db.select().from(outbox).where(eq(outbox.aggregateId, NODE))
  t.match(again, { eventType: 'node.lost', routingKey: `node.lost.${NODE}` })
  t.same((await ctx.reconciler.reconcile('test')).lostNodeIds, [], 'and only once')
  await ctx.repos.supervision.heartbeat(NODE, [])
  const [node] = await db.select().from(nodes).where(eq(nodes.id, NODE))
  t.equal(node!.status, 'ready', 'its next heartbeat brings it back')
})
