// Period rollover with a fake clock: at the end of its period a budget's use goes to the history
// and starts again at 0 in the period containing the clock's time (in its timezone); a runner
// the budget had paused resumes; a total budget never rolls over. Events: budget.rolled_over,
// runner.paused, runner.resumed.
import t from 'tap'
import { eq } from 'drizzle-orm'
import { budgets } from '../../../src/adapters/db/schema.js'
import { createBudgetService } from '../../../src/core/budgets/budget-service.js'
import { createPauseService } from '../../../src/core/runners/pause-service.js'
import { buildContext } from '../../helpers/app.js'
import { backendName } from '../../helpers/database.js'
import { createProject } from '../../helpers/fixtures.js'
import { eventTypesOf } from '../../helpers/supervisor.js'

t.test(`budget periods roll over on a fake clock, on ${backendName()}`, async t => {
  const ctx = await buildContext(t)
  let now = new Date('2030-01-01T10:00:00Z')
  const clock = { now: () => now }
  const deps = { repos: ctx.repos, uow: ctx.uow, ids: ctx.ids, clock }
  const pauses = createPauseService(deps)
  const service = createBudgetService({ ...deps, agents: { has: () => true, names: () => [] }, pauses, timezone: 'Europe/Paris', defaultWarningPercent: 80 })
  const project = await createProject(t, ctx)

  const day = await service.create({ scope: 'project', scopeId: project.name, period: 'day', limitTokens: 100 }, 'test')
  t.match(day, { timezone: 'Europe/Paris', periodStart: new Date('2029-12-31T23:00:00Z'), periodEnd: new Date('2030-01-01T23:00:00Z') }, 'a Paris day')
  const total = await service.create({ scope: 'global', period: 'total', limitTokens: 1_000_000 }, 'test')
  const runner = await ctx.runners.launch({ project: project.name, agent: 'generic-test' }, 'test')
  await ctx.database.db.update(budgets).set({ usedTokens: 100 }).where(eq(budgets.id, day.id))
  await ctx.database.db.update(budgets).set({ usedTokens: 100 }).where(eq(budgets.id, total.id))

  const first = await service.pass('reconciler')
  t.match(first, { rolledOver: [], paused: 1, resumed: 0 }, 'nothing ended; the exhausted budget pauses its runner')
  t.match(await ctx.runners.get(runner.id), { status: 'paused', pauseReason: 'budget', pausedBudgetId: day.id })

  now = new Date('2030-01-01T22:59:59Z')
  t.same((await service.pass('reconciler')).rolledOver, [], 'a second before midnight in Paris, nothing ends')

  now = new Date('2030-01-01T23:00:00Z')
  const second = await service.pass('reconciler')
  t.same(second.rolledOver.map(b => b.id), [day.id], 'the day ended; total never does')
  t.equal(second.resumed, 1, 'the runner it paused resumes')
  t.match(await service.get(day.id), { usedTokens: 0, periodStart: new Date('2030-01-01T23:00:00Z'), periodEnd: new Date('2030-01-02T23:00:00Z') })
  t.match(await service.get(total.id), { usedTokens: 100 })
  t.match(await ctx.runners.get(runner.id), { status: 'pending', pauseReason: null })
  t.same(await service.history({ budgetId: day.id }), [{
    budgetId: day.id, periodStart: new Date('2029-12-31T23:00:00Z'), periodEnd: new Date('2030-01-01T23:00:00Z'), limitTokens: 100, usedTokens: 100, closedAt: now,
  }], 'the ended period is kept with its use')

  // Days without a pass: one rollover, to the period containing the clock's time.
  await ctx.database.db.update(budgets).set({ usedTokens: 7 }).where(eq(budgets.id, day.id))
  now = new Date('2030-01-05T12:00:00Z')
  t.same((await service.pass('reconciler')).rolledOver.map(b => b.id), [day.id])
  t.match(await service.get(day.id), { usedTokens: 0, periodStart: new Date('2030-01-04T23:00:00Z'), periodEnd: new Date('2030-01-05T23:00:00Z') })
  t.same((await service.history({ budgetId: day.id })).map(p => [p.periodStart.toISOString(), p.usedTokens]), [
    ['2030-01-01T23:00:00.000Z', 7], ['2029-12-31T23:00:00.000Z', 100],
  ], 'newest first')
  t.same((await service.pass('reconciler')).rolledOver, [], 'a pass in the same period changes nothing')

  t.same(await eventTypesOf(ctx, day.id), ['budget.set', 'budget.rolled_over', 'budget.rolled_over'])
  t.same((await eventTypesOf(ctx, runner.id)).slice(-2), ['runner.paused', 'runner.resumed'])
})
