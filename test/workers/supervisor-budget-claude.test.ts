// A budget crossed mid-run, with the real Claude Code CLI under the supervisor and a mock model
// that keeps working (every reply is a tool call, so the CLI asks again and again): the heartbeat
// that counts the crossing pauses the runner, the supervisor ends the agent and keeps its
// session; raising the budget resumes the same session, and the tokens counted across the pause
// and the resume are exactly what the mock billed. The mock holds its answers once the budget is
// reached, so what it billed is known exactly: a request cut by the pause is never answered.
import t from 'tap'
import { asc, eq } from 'drizzle-orm'
import { outbox } from '../../src/adapters/db/schema.js'
import { DEFAULT_USAGE, startMockAnthropic } from '../fixtures/mock-anthropic.js'
import { claudeBin, claudeEnv, cliAvailable } from '../helpers/agent-clis.js'
import { buildContext } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { createProject } from '../helpers/fixtures.js'
import { buildSupervisedContext, runnerEventsOf, waitForRunner } from '../helpers/supervisor.js'

const PER_REPLY = DEFAULT_USAGE.input_tokens + DEFAULT_USAGE.output_tokens + DEFAULT_USAGE.cache_read_input_tokens + DEFAULT_USAGE.cache_creation_input_tokens
const REPLIES_IN_BUDGET = 3

t.test(`a budget pauses and resumes a real Claude Code run on ${backendName()}`, async t => {
  const bin = cliAvailable(t, claudeBin)
  if (!bin) return
  const mock = await startMockAnthropic(t, { blocks: [{ type: 'tool_use', name: 'Bash', input: { command: 'echo step', description: 'one more step' } }] })
  const scratch = await buildContext(t)
  const project = await createProject(t, scratch)
  const { env } = claudeEnv(t, { baseUrl: mock.url, cwd: project.path })
  const { ctx } = await buildSupervisedContext(t, config => {
    config.agents.claude = { name: 'claude', kind: 'claude', command: [bin], env }
  })
  await ctx.projects.create({ name: project.name, path: project.path }, 'test')
  const budget = await ctx.budgets.create({ scope: 'project', scopeId: project.name, period: 'day', limitTokens: REPLIES_IN_BUDGET * PER_REPLY }, 'test')
  mock.holdAfter(REPLIES_IN_BUDGET)

  const launched = await ctx.runners.launch({ project: project.name, agent: 'claude', prompt: 'Keep working', god: true }, 'test')
  const paused = await waitForRunner(ctx, launched.id, r => r.status === 'paused' || r.status === 'terminated' || r.status === 'failed', 60_000)
  t.match(paused, { status: 'paused', pauseReason: 'budget', pausedBudgetId: budget.id })
  const stopped = await waitForRunner(ctx, launched.id, r => r.runtimeId === '', 30_000)
  t.equal(mock.billed().length, REPLIES_IN_BUDGET, 'the mock answered exactly the requests within the budget')
  t.equal(stopped.tokensUsed, REPLIES_IN_BUDGET * PER_REPLY, 'every billed token counted, and no more')
  const sessionId = paused.sessionId
  t.match(sessionId, /^[0-9a-f-]{36}$/)
  t.equal(stopped.sessionId, sessionId, 'the session is kept')
  t.match(await ctx.budgets.get(budget.id), { usedTokens: REPLIES_IN_BUDGET * PER_REPLY })

  // How soon after the reply that reached the limit the runner was paused (the heartbeat is 1 s).
  const pausedEvent = (await ctx.database.db.select().from(outbox).where(eq(outbox.aggregateId, launched.id)).orderBy(asc(outbox.id)))
    .find(r => r.eventType === 'runner.paused')!
  const crossedAt = mock.billed().at(-1)!.at
  t.comment(`paused ${new Date(String((pausedEvent.payload as { occurred_at: string }).occurred_at)).getTime() - crossedAt} ms after the reply that reached the limit; overshoot ${stopped.tokensUsed - budget.limitTokens} tokens`)

  mock.reply('All done.')
  mock.release()
  await ctx.budgets.update(budget.id, { limitTokens: 10 * PER_REPLY }, 'test')
  const done = await waitForRunner(ctx, launched.id, r => r.status === 'terminated' || r.status === 'failed', 60_000)
  t.match(done, { status: 'terminated', exitCode: 0, sessionId, pauseReason: null })
  const billed = mock.billed().reduce((sum, b) => sum + b.usage.input_tokens + b.usage.output_tokens + b.usage.cache_read_input_tokens + b.usage.cache_creation_input_tokens, 0)
  t.equal(done.tokensUsed, billed, 'the tokens counted across pause and resume are what the mock billed')
  t.equal(mock.billed().length, REPLIES_IN_BUDGET + 1)
  const last = mock.messageRequests().at(-1)!.body as { messages: unknown[] }
  t.ok(last.messages.length > 2 * REPLIES_IN_BUDGET, `the resumed run sent the earlier conversation (${last.messages.length} messages)`)
  const types = (await runnerEventsOf(t, ctx, launched.id)).map(e => e.type)
  t.same(types.filter(type => ['runner.paused', 'runner.resumed', 'runner.stopped'].includes(type)), ['runner.paused', 'runner.resumed', 'runner.stopped'])
  const resumed = (await ctx.database.db.select().from(outbox).where(eq(outbox.aggregateId, launched.id))).find(r => r.eventType === 'runner.resumed')!
  t.match((resumed.payload as { data: unknown }).data, { reason: 'budget', paused_reason: 'budget', budget_id: budget.id, session_id: sessionId, conversation_mode: 'resume' })
})
