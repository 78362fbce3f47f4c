// /api/v1/budgets and /api/v1/runners/{id}/pause|resume: budgets made, set, listed, deleted;
// bad input refused with a stable code and nothing changed; a lowered budget pauses the runners
// in its scope and a raised one resumes them, oldest pause first, within the quota; a paused
// runner holds no quota slot; pausing a finished runner is refused.
import t from 'tap'
import { eq } from 'drizzle-orm'
import { budgets, outbox, runners } from '../../src/adapters/db/schema.js'
import { createTransitions } from '../../src/core/supervisor/transitions.js'
import { build } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { createProject } from '../helpers/fixtures.js'
import { eventTypesOf } from '../helpers/supervisor.js'

t.test(`budgets and pause/resume over REST on ${backendName()}`, async t => {
  const { app, ctx } = await build(t)
  const post = (url: string, payload?: Record<string, unknown>) => app.inject({ method: 'POST', url, ...(payload === undefined ? {} : { payload }) })
  const rows = async () => ({
    budgets: (await ctx.database.db.select().from(budgets)).length,
    outbox: (await ctx.database.db.select().from(outbox)).length,
  })
  const project = await createProject(t, ctx, { maxConcurrentRunners: 2 })

  await t.test('bad input: a clear 4xx with a stable code, nothing changed', async t => {
    const made = await post('/api/v1/budgets', { scope: 'project', scopeId: project.name, period: 'day', limitTokens: 1000 })
    t.equal(made.statusCode, 201)
    const before = await rows()
    const cases: Array<[string, Record<string, unknown>, number, string]> = [
      ['a negative limit', { scope: 'global', period: 'day', limitTokens: -1 }, 400, 'VALIDATION_FAILED'],
      ['an absurd limit', { scope: 'global', period: 'day', limitTokens: 1e18 }, 400, 'VALIDATION_FAILED'],
      ['a fractional limit', { scope: 'global', period: 'day', limitTokens: 1.5 }, 400, 'VALIDATION_FAILED'],
      ['a limit as text', { scope: 'global', period: 'day', limitTokens: '2M' }, 400, 'VALIDATION_FAILED'],
      ['an unknown scope', { scope: 'runner', scopeId: 'x', period: 'day', limitTokens: 1 }, 400, 'VALIDATION_FAILED'],
      ['an unknown period', { scope: 'global', period: 'hourly', limitTokens: 1 }, 400, 'VALIDATION_FAILED'],
      ['a warning share of 0', { scope: 'global', period: 'day', limitTokens: 1, warningPercent: 0 }, 400, 'VALIDATION_FAILED'],
      ['a global budget with a scope id', { scope: 'global', scopeId: 'demo', period: 'day', limitTokens: 1 }, 400, 'INVALID_ARGUMENT'],
      ['a project budget without a project', { scope: 'project', period: 'day', limitTokens: 1 }, 400, 'INVALID_ARGUMENT'],
      ['an unknown project', { scope: 'project', scopeId: 'no-such-project', period: 'day', limitTokens: 1 }, 404, 'PROJECT_NOT_FOUND'],
      ['an unknown agent', { scope: 'agent', scopeId: 'no-such-agent', period: 'day', limitTokens: 1 }, 400, 'UNKNOWN_AGENT'],
      ['a second budget for the scope and period', { scope: 'project', scopeId: project.name, period: 'day', limitTokens: 5 }, 409, 'BUDGET_EXISTS'],
    ]
    for (const [label, payload, status, code] of cases) {
      const res = await post('/api/v1/budgets', payload)
      t.equal(res.statusCode, status, `${label}: ${status}`)
      t.equal(res.json().code, code, `${label}: ${code}`)
      t.match(res.headers['content-type'], /problem\+json/)
    }
    const id = made.json().id
    for (const [label, method, url, payload, status, code] of [
      ['set: a negative limit', 'PUT', `/api/v1/budgets/${id}`, { limitTokens: -5 }, 400, 'VALIDATION_FAILED'],
      ['set: an unknown budget', 'PUT', '/api/v1/budgets/01900000-0000-7000-8000-000000000000', { limitTokens: 5 }, 404, 'BUDGET_NOT_FOUND'],
      ['set: not an id', 'PUT', '/api/v1/budgets/nope', { limitTokens: 5 }, 400, 'VALIDATION_FAILED'],
      ['delete: an unknown budget', 'DELETE', '/api/v1/budgets/01900000-0000-7000-8000-000000000000', undefined, 404, 'BUDGET_NOT_FOUND'],
      ['history: an unknown budget', 'GET', '/api/v1/budgets/history?budgetId=01900000-0000-7000-8000-000000000000', undefined, 404, 'BUDGET_NOT_FOUND'],
    ] as const) {
      const res = await app.inject({ method, url, ...(payload ? { payload } : {}) })
      t.equal(res.statusCode, status, `${label}: ${status}`)
      t.equal(res.json().code, code, `${label}: ${code}`)
    }
    t.same(await rows(), before, 'no budget and no event was written')
    t.match((await app.inject({ method: 'GET', url: `/api/v1/budgets/${id}` })).json(), { limitTokens: 1000, usedTokens: 0, exhausted: false })
    t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/budgets/${id}` })).statusCode, 204)
  })

  await t.test('a budget run out pauses its scope; raised, it resumes them oldest first within the quota', async t => {
    const launch = async () => (await post('/api/v1/runners', { project: project.name, agent: 'generic-test' })).json()
    const first = await launch()
    const second = await launch()
    t.equal((await post('/api/v1/runners', { project: project.name, agent: 'generic-test' })).json().code, 'QUOTA_EXCEEDED', 'two of two slots taken')

    const made = await post('/api/v1/budgets', { scope: 'project', scopeId: project.name, period: 'week', limitTokens: 100, warningPercent: 50 })
    t.equal(made.statusCode, 201)
    const budget = made.json()
    t.match(budget, { scope: 'project', scopeId: project.name, period: 'week', timezone: 'UTC', limitTokens: 100, warningPercent: 50, usedTokens: 0 })
    // As if heartbeats had counted 150 tokens; a limit set below it pauses at once.
    await ctx.database.db.update(budgets).set({ usedTokens: 150 }).where(eq(budgets.id, budget.id))
    const lowered = await app.inject({ method: 'PUT', url: `/api/v1/budgets/${budget.id}`, payload: { limitTokens: 120 } })
    t.match(lowered.json(), { limitTokens: 120, usedTokens: 150, exhausted: true, warningPercent: 50 })
    for (const id of [first.id, second.id]) {
      t.match((await app.inject({ method: 'GET', url: `/api/v1/runners/${id}` })).json(), { status: 'paused', pauseReason: 'budget', pausedBudgetId: budget.id })
    }
    t.match((await post('/api/v1/runners', { project: project.name, agent: 'generic-test' })).json(), { code: 'BUDGET_EXHAUSTED', detail: new RegExp(`project ${project.name}: 150/120`) })
    t.match((await post(`/api/v1/runners/${first.id}/resume`)).json(), { code: 'BUDGET_EXHAUSTED' }, 'a resume passes admission like a launch')

    t.equal((await app.inject({ method: 'PUT', url: `/api/v1/budgets/${budget.id}`, payload: { limitTokens: 150 } })).statusCode, 200)
    const statuses = async () => Promise.all([first.id, second.id].map(async id => (await ctx.runners.get(id)).status))
    t.same(await statuses(), ['paused', 'paused'], 'use equal to the limit is still exhausted')
    // One slot: deleting the budget resumes the oldest pause (ties by id) and leaves the other.
    await ctx.projects.setQuota(project.name, 1, 'test')
    t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/budgets/${budget.id}` })).statusCode, 204)
    t.same(await statuses(), ['pending', 'paused'], 'resumed oldest first, within the quota')
    t.same((await ctx.budgets.pass('test')).resumed, 0, 'the budget pass resumes nothing while the quota is full')
    await ctx.runners.stop(first.id, {}, 'test')
    t.same((await ctx.budgets.pass('test')).resumed, 1, 'and the other once a slot is free')
    t.same(await statuses(), ['terminated', 'pending'])
    t.same((await eventTypesOf(ctx, second.id)).slice(-2), ['runner.paused', 'runner.resumed'])
    const [pausedEvent] = (await ctx.database.db.select().from(outbox).where(eq(outbox.aggregateId, second.id))).filter(r => r.eventType === 'runner.paused')
    t.match((pausedEvent!.payload as { data: unknown }).data, { reason: 'budget', budget_id: budget.id })
    t.same((await eventTypesOf(ctx, budget.id)), ['budget.set', 'budget.set', 'budget.set', 'budget.deleted'], 'one event per change')
  })

  await t.test('pause and resume by hand: idempotent pause, no slot while paused, finished runners refused', async t => {
    const other = await createProject(t, ctx, { maxConcurrentRunners: 1 })
    const runner = (await post('/api/v1/runners', { project: other.name, agent: 'generic-test' })).json()
    const paused = await post(`/api/v1/runners/${runner.id}/pause`)
    t.equal(paused.statusCode, 200)
    t.match(paused.json(), { status: 'paused', pauseReason: 'manual', pausedBudgetId: null })
    t.equal((await post(`/api/v1/runners/${runner.id}/pause`)).statusCode, 200, 'pausing a paused runner changes nothing')
    const taker = (await post('/api/v1/runners', { project: other.name, agent: 'generic-test' })).json()
    t.equal(taker.status, 'pending', 'the paused runner\'s slot went to a new launch')
    t.match((await post(`/api/v1/runners/${runner.id}/resume`)).json(), { code: 'QUOTA_EXCEEDED' })
    await ctx.runners.stop(taker.id, {}, 'test')
    const resumed = await post(`/api/v1/runners/${runner.id}/resume`)
    t.equal(resumed.statusCode, 200)
    t.match(resumed.json(), { status: 'pending', pauseReason: null })
    t.match((await post(`/api/v1/runners/${runner.id}/resume`)).json(), { code: 'RUNNER_NOT_PAUSED' })

    const before = await rows()
    const finished = await ctx.runners.stop(runner.id, {}, 'test')
    t.equal(finished.status, 'terminated')
    const outcomes = await Promise.all([
      post(`/api/v1/runners/${runner.id}/pause`), post(`/api/v1/runners/${runner.id}/resume`),
      post('/api/v1/runners/01900000-0000-7000-8000-000000000000/pause'), post('/api/v1/runners/not-a-uuid/pause'),
    ])
    t.same(outcomes.map(r => [r.statusCode, r.json().code]), [[409, 'RUNNER_NOT_PAUSABLE'], [409, 'RUNNER_NOT_PAUSED'], [404, 'RUNNER_NOT_FOUND'], [400, 'VALIDATION_FAILED']])
    t.equal((await rows()).outbox, before.outbox + 1, 'only the stop wrote an event')
    const list = (await app.inject({ method: 'GET', url: '/api/v1/budgets' })).json()
    t.same(list, { budgets: [] })
  })

  await t.test('memory: a runner whose heartbeat is above its project\'s max_memory_mb is paused (reason memory)', async t => {
    const heavy = await createProject(t, ctx)
    const quota = await app.inject({ method: 'PUT', url: `/api/v1/projects/${heavy.name}/quota`, payload: { maxConcurrentRunners: 3, maxMemoryMb: 100 } })
    t.equal(quota.statusCode, 200)
    t.equal((await app.inject({ method: 'PUT', url: `/api/v1/projects/${heavy.name}/quota`, payload: { maxConcurrentRunners: 3, maxMemoryMb: 0 } })).statusCode, 400, 'a cap of 0 MiB is refused')
    const node = '01900000-0000-7000-8000-0000000000aa'
    await ctx.repos.supervision.registerNode({ id: node, name: 'mem-node', hostname: 'h', version: 'test', capacity: 5, credentialHash: 'h', attachUrl: 'ws://127.0.0.1:1', attachKey: 'k' })
    const ids = await Promise.all([1, 2].map(async () => (await ctx.runners.launch({ project: heavy.name, agent: 'generic-test' }, 'test')).id))
    for (const id of ids) await ctx.database.db.update(runners).set({ nodeId: node, status: 'running', generation: 1 }).where(eq(runners.id, id))
    const transitions = createTransitions({ uow: ctx.uow, clock: ctx.clock, ids: ctx.ids, node: { id: node } })
    const beats = ids.map((runnerId, i) => ({ runnerId, generation: 1, cpuPercent: 1, memoryMb: i === 0 ? 150 : 90, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 }))
    const paused = await transitions.enforceLimits(await transitions.heartbeat(beats), beats)
    t.same(paused.map(r => [r.id, r.pauseReason]), [[ids[0], 'memory']], 'only the one above 100 MiB')
    t.equal((await ctx.runners.get(ids[1]!)).status, 'running')
    await app.inject({ method: 'PUT', url: `/api/v1/projects/${heavy.name}/quota`, payload: { maxConcurrentRunners: 3, maxMemoryMb: null } })
    t.same(await transitions.enforceLimits(await transitions.heartbeat(beats), beats), [], 'no cap, no pause')
  })
})
