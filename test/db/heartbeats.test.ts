// The batched heartbeat statement and node reconciliation against a real database: fencing by
// generation and state, idempotent token totals feeding sessions and budgets, and a silent node
// going lost until its next heartbeat.
import t from 'tap'
import { and, eq, sql } from 'drizzle-orm'
import { events as auditLog, budgets, nodes, outbox, runners, sessions } from '../../src/adapters/db/schema.js'
import { createTransitions } from '../../src/core/supervisor/transitions.js'
import { buildContext } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { createProject } from '../helpers/fixtures.js'

const NODE = '01900000-0000-7000-8000-00000000beef'

t.test(`heartbeats and node reconciliation on ${backendName()}`, async t => {
  const ctx = await buildContext(t)
  const db = ctx.database.db
  const project = await createProject(t, ctx, { maxConcurrentRunners: 10 })
  const transitions = createTransitions({ uow: ctx.uow, clock: ctx.clock, ids: ctx.ids, node: { id: NODE } })
  t.equal(await transitions.register({
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
  await ctx.budgets.create({ scope: 'project', scopeId: project.name, period: 'day', limitTokens: 1_000_000 }, 'test')
  const beat = (runnerId: string, generation: number, tokens: number) => ({
    runnerId, generation, cpuPercent: 12.5, memoryMb: 64, inputTokens: tokens, outputTokens: 1, cacheReadTokens: 0, cacheCreationTokens: 0,
  })

  const first = await ctx.repos.supervision.heartbeat(NODE, [beat(a, 1, 100), beat(b, 2, 100), beat(done, 1, 100)])
  t.same(first, { nodeRecovered: null, budgets: [], accepted: [a], lost: [], fenced: [b, done] }, 'a wrong generation and a finished runner are fenced')
  // The same totals again (a retried heartbeat) add nothing; higher totals add the difference.
  await ctx.repos.supervision.heartbeat(NODE, [beat(a, 1, 100)])
  await ctx.repos.supervision.heartbeat(NODE, [beat(a, 1, 150)])
  const row = await ctx.runners.get(a)
  t.match(row, { tokensUsed: 151, inputTokens: 150, outputTokens: 1, cpuPercent: 12.5, memoryMb: 64 })
  t.ok(row.lastHeartbeat, 'stamped by the database clock')
  const [session] = await db.select().from(sessions).where(eq(sessions.id, `s-${a}`))
  t.equal(session!.tokensUsed, 151, 'the session gets the increase once')
  const [budget] = await db.select().from(budgets).where(eq(budgets.scopeId, project.name))
  t.equal(budget!.usedTokens, 151, 'the project budget gets it too')

  await db.update(runners).set({ status: 'lost' }).where(eq(runners.id, a))
  t.same(await ctx.repos.supervision.heartbeat(NODE, [beat(a, 1, 150)]), { nodeRecovered: null, budgets: [], accepted: [], lost: [a], fenced: [] }, 'a lost runner that beats is reported for recovery')

  await db.update(nodes).set({ lastHeartbeat: sql`now() - interval '1 hour'` }).where(eq(nodes.id, NODE))
  const result = await ctx.reconciler.reconcile('test')
  t.same(result.lostNodeIds, [NODE], 'a silent node is lost')
  const [again] = await db.select().from(outbox).where(and(eq(outbox.aggregateId, NODE), eq(outbox.eventType, 'node.lost')))
  t.match(again, { eventType: 'node.lost', routingKey: `node.lost.${NODE}` })
  t.same((await ctx.reconciler.reconcile('test')).lostNodeIds, [], 'and only once')
  await transitions.heartbeat([])
  const [node] = await db.select().from(nodes).where(eq(nodes.id, NODE))
  t.equal(node!.status, 'ready', 'its next heartbeat brings it back')
  await transitions.heartbeat([])
  t.equal(await transitions.register({
    id: NODE, name: 'node-a', hostname: 'host-a', version: 'test-2', capacity: 10, credentialHash: 'h1', attachUrl: 'ws://127.0.0.1:1', attachKey: 'k',
  }), 'ok', 'a restarted supervisor registers its node again')
  const nodeEvents = (await db.select().from(outbox).where(eq(outbox.aggregateId, NODE)).orderBy(outbox.id))
    .map(r => [r.eventType, r.routingKey, (r.payload as { seq: number }).seq])
  t.same(nodeEvents, [
    ['node.registered', `node.registered.${NODE}`, 1],
    ['node.lost', `node.lost.${NODE}`, 2],
    ['node.recovered', `node.recovered.${NODE}`, 3],
    ['node.registered', `node.registered.${NODE}`, 4],
  ], 'each node change has its event, seq 1, 2, 3… (a refused registration and a plain heartbeat write none)')
})

t.test(`a heartbeat that takes a budget past its warning share or past its limit writes budget.warning, budget.exceeded, on ${backendName()}`, async t => {
  const ctx = await buildContext(t)
  const db = ctx.database.db
  const project = await createProject(t, ctx)
  t.match(await ctx.repos.supervision.registerNode({
    id: NODE, name: 'node-b', hostname: 'host-b', version: 'test', capacity: 10, credentialHash: 'h', attachUrl: 'ws://127.0.0.1:1', attachKey: 'k',
  }), { seq: 1 })
  const runner = (await ctx.runners.launch({ project: project.name, agent: 'generic-test' }, 'test')).id
  await db.update(runners).set({ nodeId: NODE, status: 'running', generation: 1 }).where(eq(runners.id, runner))
  // Each budget's budget.set is its seq 1.
  const global = await ctx.budgets.create({ scope: 'global', period: 'month', limitTokens: 10_000 }, 'test')
  const perProject = await ctx.budgets.create({ scope: 'project', scopeId: project.name, period: 'day', limitTokens: 1_000 }, 'test')
  const perAgent = await ctx.budgets.create({ scope: 'agent', scopeId: 'generic-test', period: 'total', limitTokens: 500, warningPercent: 50 }, 'test')
  // Another agent's: its use never moves.
  const other = await ctx.budgets.create({ scope: 'agent', scopeId: 'claude', period: 'day', limitTokens: 1 }, 'test')
  const transitions = createTransitions({ uow: ctx.uow, clock: ctx.clock, ids: ctx.ids, node: { id: NODE } })
  const beat = (tokens: number) => transitions.heartbeat([{
    runnerId: runner, generation: 1, cpuPercent: 0, memoryMb: 0, inputTokens: tokens - 1, outputTokens: 1, cacheReadTokens: 0, cacheCreationTokens: 0,
  }])
  const budgetEvents = async () => (await db.select().from(outbox).where(and(eq(outbox.aggregateType, 'budget'), sql`${outbox.eventType} <> 'budget.set'`)).orderBy(outbox.id))
    .map(r => ({ type: r.eventType, key: r.routingKey, budget: r.aggregateId, seq: (r.payload as { seq: number }).seq, data: (r.payload as { data: Record<string, unknown> }).data }))

  await beat(700)
  t.same((await budgetEvents()).map(e => [e.type, e.budget, e.seq, e.key]), [
    ['budget.warning', perAgent.id, 2, 'budget.warning._agent_generic-test'],
    ['budget.exceeded', perAgent.id, 3, 'budget.exceeded._agent_generic-test'],
  ], 'the agent budget (500) crossed both at once; the project budget (1,000) is at 70%')
  await beat(900)
  await beat(900)
  t.same((await budgetEvents()).slice(2).map(e => [e.type, e.budget, e.seq]), [['budget.warning', perProject.id, 2]],
    'the project budget passed 80% once; a repeated heartbeat and a budget already over write nothing')
  await beat(20_000)
  const last = (await budgetEvents()).slice(3)
  t.same(last.map(e => [e.type, e.budget, e.seq, e.key]), [
    ['budget.warning', global.id, 2, 'budget.warning._global'],
    ['budget.exceeded', global.id, 3, 'budget.exceeded._global'],
    ['budget.exceeded', perProject.id, 3, `budget.exceeded.${project.name}`],
  ], 'the global budget gets its own routing word')
  t.match(last[2]!.data, { scope: 'project', scope_id: project.name, period: 'day', limit_tokens: 1_000, used_tokens: 20_000, warning_percent: 80 })
  t.notOk((await budgetEvents()).some(e => e.budget === other.id), 'another agent\'s budget is untouched')
  const [row] = await db.select().from(budgets).where(eq(budgets.id, other.id))
  t.equal(row!.usedTokens, 0)
  const audited = await db.select({ eventId: auditLog.eventId }).from(auditLog).where(and(eq(auditLog.entityType, 'budget'), sql`${auditLog.eventType} <> 'budget.set'`))
  t.equal(audited.length, 6, 'each in the audit log too')
  t.same((await db.select({ seq: budgets.eventSeq }).from(budgets).where(eq(budgets.id, perProject.id)))[0], { seq: 3 }, 'the budget row holds its latest seq')
})

t.test(`a new life starting is judged from its start, not the last life's heartbeat, on ${backendName()}`, async t => {
  const ctx = await buildContext(t)
  const db = ctx.database.db
  const project = await createProject(t, ctx, { maxConcurrentRunners: 10 })
  const transitions = createTransitions({ uow: ctx.uow, clock: ctx.clock, ids: ctx.ids, node: { id: NODE } })
  await transitions.register({ id: NODE, name: 'node-a', hostname: 'host-a', version: 'test', capacity: 10, credentialHash: 'h1', attachUrl: 'ws://127.0.0.1:1', attachKey: 'k' })
  const r = await ctx.runners.launch({ project: project.name, agent: 'generic-test' }, 'test')
  // Its last life beat a minute ago, then ended (a pause since, or a restart's backoff): pending again on this node.
  await db.update(runners).set({ nodeId: NODE, status: 'pending', generation: 3, heartbeatTtlSeconds: 30,
    lastHeartbeat: sql`now() - interval '60 seconds'`, startedAt: sql`now() - interval '120 seconds'` }).where(eq(runners.id, r.id))
  const starting = await ctx.repos.supervision.beginStart(r.id, NODE, { generation: 3, restartAttempts: 1 })
  t.match(starting, { status: 'starting', generation: 4, lastHeartbeat: null, startedAt: null })
  await ctx.reconciler.reconcile('test')
  t.equal((await ctx.runners.get(r.id)).status, 'starting', 'not taken for silent while its process starts')
})
