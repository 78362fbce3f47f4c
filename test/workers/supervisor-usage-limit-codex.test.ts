// A usage limit with the real Codex CLI under the supervisor: the mock refuses the first request
// as ChatGPT's limit does (429 `usage_limit_reached`, a used-up window resetting a few seconds
// away). `codex exec` fails with exit 1, and the runner is paused (not failed, not restarted)
// with the reset from the rollout; at the reset it resumes the same thread with Stratavore's
// message.
import t from 'tap'
import { LIMIT_RESET_MESSAGE } from '../../src/core/runners/usage-limits.js'
import { startReconciler } from '../../workers/reconciler.js'
import { startMockOpenAI } from '../fixtures/mock-openai.js'
import { cliAvailable, codexBin, codexEnv } from '../helpers/agent-clis.js'
import { buildContext } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { createProject } from '../helpers/fixtures.js'
import { buildSupervisedContext, runnerEventsOf, waitForRunner } from '../helpers/supervisor.js'

const inputTexts = (body: unknown): string[] => {
  const input = (body as { input?: Array<{ role?: string, content?: Array<{ text?: string }> }> }).input ?? []
  return input.filter(item => item.role === 'user').map(item => (item.content ?? []).map(c => c.text ?? '').join(' '))
}

t.test(`a usage limit pauses a real Codex run and it resumes at the reset, on ${backendName()}`, async t => {
  const bin = cliAvailable(t, codexBin)
  if (!bin) return
  const mock = await startMockOpenAI(t, { text: 'Done after the limit.' })
  const scratch = await buildContext(t)
  const project = await createProject(t, scratch)
  const { env } = codexEnv(t, { baseUrl: mock.url })
  const { ctx } = await buildSupervisedContext(t, config => {
    config.agents.codex = { name: 'codex', kind: 'codex', command: [bin], env, resumeAfterLimit: true }
    config.daemon.reconcile_interval_seconds = 1
    config.daemon.limit_resume_stagger_seconds = 1
  })
  const reconciler = await startReconciler(ctx)
  t.teardown(async () => { for (const part of reconciler) await part.stop() })
  await ctx.projects.create({ name: project.name, path: project.path }, 'test')

  const resetsAt = new Date((Math.floor(Date.now() / 1000) + 10) * 1000)
  mock.limitNext(1, resetsAt)
  const launched = await ctx.runners.launch({ project: project.name, agent: 'codex', prompt: 'Say hello' }, 'test')
  const done = await waitForRunner(ctx, launched.id, r => r.status === 'terminated' || r.status === 'failed', 90_000)
  t.match(done, { status: 'terminated', exitCode: 0, pauseReason: null, restartAttempts: 0 })
  t.match(done.limitAccount, /^home:/, 'no key Codex is known to use: the account is its home')
  const threadId = done.sessionId
  t.match(threadId, /^[0-9a-f-]{36}$/)

  const events = await runnerEventsOf(t, ctx, launched.id)
  t.same(events.map(e => e.type).filter(type => ['runner.paused', 'runner.resumed', 'runner.stopped', 'runner.failed', 'runner.restarting'].includes(type)),
    ['runner.paused', 'runner.resumed', 'runner.stopped'], 'paused, not failed nor restarted')
  // What the CLI reported: the rollout's exact time, or, when its printed line ("try again at 9:14 PM")
  // was read before the rollout had it, that line's minute; taken as it is unless it had passed.
  const pausedAt = events.findIndex(e => e.type === 'runner.paused')
  t.match(events[pausedAt - 1], { type: 'runner.activity', data: { state: 'rate_limited', detail: /hit your/, resetsAt: events[pausedAt]!.data.resets_at } }, 'rate_limited, with its reset, just before the pause')
  const pausedData = events.find(e => e.type === 'runner.paused')!.data
  const printed = new Date(Math.floor(resetsAt.getTime() / 60_000) * 60_000).toISOString()
  t.match(pausedData, { reason: 'usage_limit', message: /hit your usage limit/ })
  t.ok([resetsAt.toISOString(), printed].includes(pausedData.reported_resets_at as string), `reported ${String(pausedData.reported_resets_at)}: the rollout's ${resetsAt.toISOString()} or the printed ${printed}`)
  if (pausedData.reset_adjusted === 'none') t.equal(pausedData.resets_at, pausedData.reported_resets_at)
  else t.equal(pausedData.reset_adjusted, 'past', 'the reset had passed when the pause was written')
  t.match(events.find(e => e.type === 'runner.resumed')!.data, { reason: 'usage_limit', session_id: threadId, conversation_mode: 'resume' })

  const last = mock.responseRequests().at(-1)!
  const texts = inputTexts(last.body)
  t.equal(texts.at(-1), LIMIT_RESET_MESSAGE, 'the model got Stratavore\'s message last')
  t.equal(texts.filter(text => text === 'Say hello').length, 1, 'in the same thread, the first prompt once')
})
