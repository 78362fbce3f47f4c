// A usage limit with the real Claude Code CLI under the supervisor: the mock model refuses the
// first request as a subscription's limit does (429, the unified rate-limit headers, a reset a
// few seconds away). The runner is paused with reason usage_limit and the reset the CLI reported;
// with resume_after_limit, the reconciler resumes it at the reset, the same session, and the
// model is sent Stratavore's message (never the first prompt again, never as if from the user).
import t from 'tap'
import { asc, eq } from 'drizzle-orm'
import { outbox } from '../../src/adapters/db/schema.js'
import { LIMIT_RESET_MESSAGE, PAST_RESET_WAIT_MS } from '../../src/core/runners/usage-limits.js'
import { startReconciler } from '../../workers/reconciler.js'
import { startMockAnthropic } from '../fixtures/mock-anthropic.js'
import { claudeBin, claudeEnv, claudeGatewayToken, cliAvailable } from '../helpers/agent-clis.js'
import { buildContext } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { createProject } from '../helpers/fixtures.js'
import { buildSupervisedContext, runnerEventsOf, waitForRunner } from '../helpers/supervisor.js'

const userTexts = (body: unknown): string[] => ((body as { messages?: Array<{ role: string, content: unknown }> }).messages ?? [])
  .filter(m => m.role === 'user')
  .map(m => typeof m.content === 'string' ? m.content : (m.content as Array<{ type: string, text?: string }>).map(b => b.text ?? '').join(' '))

t.test(`a usage limit pauses a real Claude Code run and it resumes at the reset, on ${backendName()}`, async t => {
  const bin = cliAvailable(t, claudeBin)
  if (!bin) return
  const mock = await startMockAnthropic(t, { blocks: 'Done after the limit.' })
  const scratch = await buildContext(t)
  const project = await createProject(t, scratch)
  const { env } = claudeEnv(t, { baseUrl: mock.url, cwd: project.path })
  delete env.ANTHROPIC_API_KEY
  env.ANTHROPIC_AUTH_TOKEN = claudeGatewayToken()
  const { ctx } = await buildSupervisedContext(t, config => {
    config.agents.claude = { name: 'claude', kind: 'claude', command: [bin], env, resumeAfterLimit: true }
    config.daemon.reconcile_interval_seconds = 1
    config.daemon.limit_resume_stagger_seconds = 1
  })
  const reconciler = await startReconciler(ctx)
  t.teardown(async () => { for (const part of reconciler) await part.stop() })
  await ctx.projects.create({ name: project.name, path: project.path }, 'test')

  // Whole seconds: the headers carry epoch seconds. Far enough for the pause to be seen first.
  const resetsAt = new Date((Math.floor(Date.now() / 1000) + 10) * 1000)
  mock.limitNext(1, resetsAt)
  const launched = await ctx.runners.launch({ project: project.name, agent: 'claude', prompt: 'Say hello', god: true }, 'test')
  // The pause is read from its event: on a busy machine the reset can pass before a poll sees it.
  const done = await waitForRunner(ctx, launched.id, r => r.status === 'terminated' || r.status === 'failed', 90_000)
  const sessionId = done.sessionId
  t.match(sessionId, /^[0-9a-f-]{36}$/)
  t.match(done.limitAccount, /^key:[0-9a-f]{12}$/, 'the account is the token\'s fingerprint')
  t.match(done, { status: 'terminated', exitCode: 0, sessionId, pauseReason: null, resetsAt: null })
  const requests = mock.messageRequests()
  const last = requests.at(-1)!
  t.equal(userTexts(last.body).at(-1)?.includes(LIMIT_RESET_MESSAGE), true, 'the model got Stratavore\'s message last')
  t.ok(userTexts(last.body).some(text => text.includes('Say hello')), 'in the same conversation: the first prompt is there before it')
  t.equal(userTexts(last.body).filter(text => text.includes('Say hello')).length, 1, 'and was not sent again')

  const events = await runnerEventsOf(t, ctx, launched.id)
  t.same(events.map(e => e.type).filter(type => ['runner.paused', 'runner.resumed', 'runner.stopped'].includes(type)), ['runner.paused', 'runner.resumed', 'runner.stopped'])
  // What the CLI reported, exactly; taken as it is unless the machine was so slow that it had passed.
  const pausedAt = events.findIndex(e => e.type === 'runner.paused')
  t.match(events[pausedAt - 1], { type: 'runner.activity', data: { state: 'rate_limited', detail: /hit your/, resetsAt: events[pausedAt]!.data.resets_at } }, 'rate_limited, with its reset, just before the pause')
  const pausedData = events.find(e => e.type === 'runner.paused')!.data
  t.match(pausedData, { reason: 'usage_limit', reported_resets_at: resetsAt.toISOString(), session_id: sessionId, resume_after_limit: true, message: /hit your 5-hour limit/ })
  if (pausedData.reset_adjusted === 'none') t.equal(pausedData.resets_at, resetsAt.toISOString())
  else t.equal(pausedData.reset_adjusted, 'past', 'the reset had passed when the pause was written')
  const resumed = (await ctx.database.db.select().from(outbox).where(eq(outbox.aggregateId, launched.id)).orderBy(asc(outbox.id))).find(r => r.eventType === 'runner.resumed')!
  t.match((resumed.payload as { data: unknown, occurred_at: string }).data, { reason: 'usage_limit', paused_reason: 'usage_limit', session_id: sessionId, conversation_mode: 'resume', message: LIMIT_RESET_MESSAGE })
  t.ok(Date.parse((resumed.payload as { occurred_at: string }).occurred_at) >= resetsAt.getTime(), 'resumed at the reset, not before')
})

t.test(`without resume_after_limit the runner stays paused, on ${backendName()}`, async t => {
  const bin = cliAvailable(t, claudeBin)
  if (!bin) return
  const mock = await startMockAnthropic(t)
  const scratch = await buildContext(t)
  const project = await createProject(t, scratch)
  const { env } = claudeEnv(t, { baseUrl: mock.url, cwd: project.path })
  delete env.ANTHROPIC_API_KEY
  env.ANTHROPIC_AUTH_TOKEN = claudeGatewayToken()
  const { ctx } = await buildSupervisedContext(t, config => {
    config.agents.claude = { name: 'claude', kind: 'claude', command: [bin], env }
  })
  await ctx.projects.create({ name: project.name, path: project.path }, 'test')
  const resetsAt = new Date((Math.floor(Date.now() / 1000) - 3600) * 1000)
  mock.limitNext(1, resetsAt)
  const launched = await ctx.runners.launch({ project: project.name, agent: 'claude', prompt: 'Say hello' }, 'test')
  const paused = await waitForRunner(ctx, launched.id, r => r.status === 'paused' && r.runtimeId === '', 60_000)
  t.match(paused, { pauseReason: 'usage_limit', resumeAfterLimit: false })
  t.equal(paused.resetsAt!.getTime() - paused.pausedAt!.getTime(), PAST_RESET_WAIT_MS, 'a reset reported in the past is taken as soon, never as now')
  const afterReset = new Date(paused.resetsAt!.getTime() + 1000)
  t.notOk((await ctx.repos.pauses.limitResumeCandidates(afterReset, 100)).some(r => r.id === launched.id), 'the reconciler leaves it paused, even after the reset')
})
