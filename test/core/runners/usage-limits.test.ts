// Usage limits in the database: a limit one runner reports pauses its account's runners with the
// reset, a later report moves the reset on, and at the reset one runner of the account resumes
// first (the probe) and the rest a stagger later, with Stratavore's message; bounds on the
// reported time. On PGlite and Postgres.
import t from 'tap'
import { asc, eq } from 'drizzle-orm'
import { outbox } from '../../../src/adapters/db/schema.js'
import { createPauseService } from '../../../src/core/runners/pause-service.js'
import {
  boundedReset, LIMIT_MANUAL_RESUME_MESSAGE, LIMIT_RESET_MESSAGE, MAX_LIMIT_WAIT_MS, PAST_RESET_WAIT_MS, pauseForUsageLimit, REPEATED_LIMIT_WAIT_MS, UNKNOWN_RESET_WAIT_MS,
} from '../../../src/core/runners/usage-limits.js'
import { build } from '../../helpers/app.js'
import { backendName } from '../../helpers/database.js'
import { createProject } from '../../helpers/fixtures.js'

const MIN = 60_000
const HOUR = 60 * MIN

t.test('boundedReset: the reported time, unless absent, past or too far', async t => {
  const now = new Date('2026-12-07T12:00:00Z')
  const at = (ms: number) => new Date(now.getTime() + ms)
  t.same(boundedReset(at(HOUR), now, null), { resetsAt: at(HOUR), adjusted: 'none' })
  t.same(boundedReset(null, now, null), { resetsAt: at(UNKNOWN_RESET_WAIT_MS), adjusted: 'unknown' })
  t.same(boundedReset(new Date(NaN), now, null), { resetsAt: at(UNKNOWN_RESET_WAIT_MS), adjusted: 'unknown' })
  t.same(boundedReset(at(-HOUR), now, null), { resetsAt: at(PAST_RESET_WAIT_MS), adjusted: 'past' }, 'past: soon')
  t.same(boundedReset(at(-HOUR), now, at(-5 * MIN)), { resetsAt: at(REPEATED_LIMIT_WAIT_MS), adjusted: 'past' }, 'past again right after a resume: later, no loop')
  t.same(boundedReset(at(30 * 24 * HOUR), now, null), { resetsAt: at(MAX_LIMIT_WAIT_MS), adjusted: 'capped' })
})

t.test(`an account's runners pause together and resume one first, on ${backendName()}`, async t => {
  const { app, ctx, token } = await build(t, config => {
    for (const [name, account] of [['limited', 'acct-a'], ['elsewhere', 'acct-b']] as const) {
      config.agents[name] = { name, kind: 'generic', command: ['/bin/sleep', '3600'], env: {}, account, resumeAfterLimit: true }
    }
  })
  const project = await createProject(t, ctx)
  let now = new Date()
  const clock = { now: () => now }
  const deps = { repos: ctx.repos, uow: ctx.uow, clock, ids: ctx.ids }
  const pauses = createPauseService(deps)
  const launch = (agent: string, extra: { resumeAfterLimit?: boolean } = {}) => ctx.runners.launch({ project: project.name, agent, ...extra }, 'test')
  const r1 = await launch('limited')
  const r2 = await launch('limited')
  const r3 = await launch('limited', { resumeAfterLimit: false })
  const r4 = await launch('elsewhere')
  t.match(r1, { limitAccount: 'acct-a', resumeAfterLimit: true, resetsAt: null })
  t.match(r3, { resumeAfterLimit: false }, 'the launch field wins over the agent\'s setting')

  const reset1 = new Date(now.getTime() + HOUR)
  const first = await pauseForUsageLimit(deps, { runner: r1, generation: r1.generation, limit: { resetsAt: reset1, message: "You've hit your 5-hour limit", source: 'stream' } }, 'supervisor')
  t.same(first.paused.map(r => r.id).sort(), [r1.id, r2.id, r3.id].sort(), 'the reporter and its account\'s runners, not another account\'s')
  for (const id of [r1.id, r2.id, r3.id]) t.match(await ctx.runners.get(id), { status: 'paused', pauseReason: 'usage_limit', resetsAt: reset1 })
  t.match(await ctx.runners.get(r4.id), { status: 'pending', resetsAt: null })
  const res = await app.inject({ method: 'GET', url: `/api/v1/runners/${r2.id}`, headers: { authorization: `Bearer ${token}` } })
  t.match(res.json(), { status: 'paused', pauseReason: 'usage_limit', resetsAt: reset1.toISOString(), resumeAfterLimit: true, limitAccount: 'acct-a' }, 'REST shows the reset')
  const paused = (await ctx.database.db.select().from(outbox).where(eq(outbox.aggregateId, r2.id)).orderBy(asc(outbox.id))).find(r => r.eventType === 'runner.paused')!
  t.match((paused.payload as { data: unknown }).data, { reason: 'usage_limit', resets_at: reset1.toISOString(), account: 'acct-a', reported_by: r1.id, reset_adjusted: 'none', message: "You've hit your 5-hour limit" })
  t.match(await ctx.runners.get(r1.id), { activity: { state: 'rate_limited', source: 'stream', detail: "You've hit your 5-hour limit", resetsAt: reset1 } }, 'the reporter is rate_limited, in its own words')
  t.match(await ctx.runners.get(r2.id), { activity: { state: 'rate_limited', detail: `You've hit your 5-hour limit (reported by runner ${r1.id}, of the same account)` } }, 'and so is the rest of its account')
  const r2Events = await ctx.database.db.select().from(outbox).where(eq(outbox.aggregateId, r2.id)).orderBy(asc(outbox.id))
  const activity = r2Events.find(r => r.eventType === 'runner.activity')!
  t.match((activity.payload as { data: unknown }).data, { runnerId: r2.id, state: 'rate_limited', previousState: 'unknown', resetsAt: reset1.toISOString() }, 'a runner.activity event')
  t.same(r2Events.map(r => r.eventType).slice(-2), ['runner.activity', 'runner.paused'], 'before the pause')
  t.equal(paused.seq, activity.seq + 1, 'in seq order, with no gap')

  // The same account reports a later reset: every runner waiting on it waits for that one.
  const reset2 = new Date(now.getTime() + 2 * HOUR)
  const again = await pauseForUsageLimit(deps, { runner: r1, generation: r1.generation, limit: { resetsAt: reset2, message: null, source: 'transcript' } }, 'supervisor')
  t.same(again.paused, [], 'nobody new to pause')
  for (const id of [r1.id, r2.id, r3.id]) t.match(await ctx.runners.get(id), { resetsAt: reset2 })

  now = new Date(reset2.getTime() - 1000)
  t.same(await pauses.resumeAfterLimits('reconciler', 30_000), [], 'not before the reset')
  now = reset2
  const probe = await pauses.resumeAfterLimits('reconciler', 30_000)
  t.same(probe.map(r => r.id), [r1.id], 'one of the account first: the oldest pause')
  t.match(probe[0], { status: 'pending', pauseReason: null, resetsAt: null, resumeMessage: LIMIT_RESET_MESSAGE, limitResumedAt: reset2, activity: { state: 'unknown', resetsAt: null } })
  const resumed = (await ctx.database.db.select().from(outbox).where(eq(outbox.aggregateId, r1.id)).orderBy(asc(outbox.id))).find(r => r.eventType === 'runner.resumed')!
  t.match((resumed.payload as { data: unknown }).data, { reason: 'usage_limit', paused_reason: 'usage_limit', account: 'acct-a', message: LIMIT_RESET_MESSAGE })
  t.same(await pauses.resumeAfterLimits('reconciler', 30_000), [], 'the rest wait while the probe runs')

  // The probe hits the limit again at once, and with a time already past: the account waits on.
  now = new Date(reset2.getTime() + 10_000)
  const relimited = await pauseForUsageLimit(deps, { runner: (await ctx.runners.get(r1.id)), generation: r1.generation, limit: { resetsAt: new Date(now.getTime() - 5000), message: null, source: 'transcript' } }, 'supervisor')
  t.equal(relimited.adjusted, 'past')
  t.same(relimited.resetsAt, new Date(now.getTime() + REPEATED_LIMIT_WAIT_MS), 'limited again right after its resume: the longer wait')
  t.match(await ctx.runners.get(r2.id), { status: 'paused', resetsAt: relimited.resetsAt })
  now = new Date(reset2.getTime() + 60_000)
  t.same(await pauses.resumeAfterLimits('reconciler', 30_000), [], 'the stagger passed, but the account\'s reset moved')

  now = relimited.resetsAt
  const probe2 = await pauses.resumeAfterLimits('reconciler', 30_000)
  t.same(probe2.map(r => r.id), [r2.id], 'a new probe for the new reset (the oldest pause now)')
  now = new Date(relimited.resetsAt.getTime() + 30_000)
  const rest = await pauses.resumeAfterLimits('reconciler', 30_000)
  t.same(rest.map(r => r.id), [r1.id], 'the rest once the stagger has passed; r3 does not resume by itself')
  t.match(await ctx.runners.get(r3.id), { status: 'paused', pauseReason: 'usage_limit' })

  const byHand = await ctx.pauses.resume(r3.id, 'alice')
  t.match(byHand, { status: 'pending', resumeMessage: LIMIT_MANUAL_RESUME_MESSAGE }, 'by hand, with a message that says so')
})

t.test(`a reset absurdly far away is capped, on ${backendName()}`, async t => {
  const { ctx } = await build(t)
  const project = await createProject(t, ctx)
  const runner = await ctx.runners.launch({ project: project.name, agent: 'generic-test' }, 'test')
  const now = new Date()
  const deps = { uow: ctx.uow, clock: { now: () => now }, ids: ctx.ids }
  const out = await pauseForUsageLimit(deps, { runner, generation: runner.generation, limit: { resetsAt: new Date(now.getTime() + 365 * 24 * HOUR), message: null, source: 'transcript' } }, 'supervisor')
  t.equal(out.adjusted, 'capped')
  t.match(await ctx.runners.get(runner.id), { status: 'paused', resetsAt: new Date(now.getTime() + MAX_LIMIT_WAIT_MS), limitAccount: 'default' })
  const stale = await pauseForUsageLimit(deps, { runner, generation: runner.generation + 1, limit: { resetsAt: null, message: null, source: 'transcript' } }, 'supervisor')
  t.same(stale.paused, [], 'a report from another generation of a runner pauses nothing it does not share an account with')
})
