// The real OpenCode (1.18) under the supervisor, against the mock Anthropic API as its provider: a
// new headless conversation in god mode whose shell command runs though the config says ask, the
// session id from its events and kept on resume, the runner's tokens exactly what the mock billed,
// and its activity from the --format json events: working (with the tool it ran), then idle.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { eq } from 'drizzle-orm'
import { sessions } from '../../src/adapters/db/schema.js'
import { startMockAnthropic, type MockUsage } from '../fixtures/mock-anthropic.js'
import { cliAvailable, opencodeBin, opencodeEnv } from '../helpers/agent-clis.js'
import { backendName } from '../helpers/database.js'
import { buildContext } from '../helpers/app.js'
import { createProject } from '../helpers/fixtures.js'
import { buildSupervisedContext, runnerEventsOf, waitForRunner } from '../helpers/supervisor.js'

/** What the API billed, in the runner's kinds (Anthropic's input_tokens exclude the cache). */
const runnerTokensOf = (billed: Array<{ usage: MockUsage }>) => {
  const sum = (pick: (u: MockUsage) => number) => billed.reduce((n, b) => n + pick(b.usage), 0)
  const tokens = {
    inputTokens: sum(u => u.input_tokens),
    outputTokens: sum(u => u.output_tokens),
    cacheReadTokens: sum(u => u.cache_read_input_tokens),
    cacheCreationTokens: sum(u => u.cache_creation_input_tokens),
  }
  return { ...tokens, tokensUsed: tokens.inputTokens + tokens.outputTokens + tokens.cacheReadTokens + tokens.cacheCreationTokens }
}

t.test(`OpenCode under the supervisor on ${backendName()}`, async t => {
  const bin = cliAvailable(t, opencodeBin)
  if (!bin) return
  const mock = await startMockAnthropic(t)
  const scratch = await buildContext(t)
  const project = await createProject(t, scratch)
  const { env } = opencodeEnv(t, { baseUrl: mock.url })
  const { ctx } = await buildSupervisedContext(t, config => {
    config.agents.opencode = { name: 'opencode', kind: 'opencode', command: [bin], env }
  })
  await ctx.projects.create({ name: project.name, path: project.path }, 'test')
  const sessionOf = async (id: string) => (await ctx.database.db.select().from(sessions).where(eq(sessions.id, id)))[0]

  let sessionId = ''
  await t.test('new, god mode: the command runs unasked, session id and exact tokens', async t => {
    mock.replyOnce([{ type: 'tool_use', name: 'bash', input: { command: 'echo unasked > god.txt', description: 'write god.txt' } }])
    const launched = await ctx.runners.launch({ project: project.name, agent: 'opencode', prompt: 'Write god.txt', god: true }, 'test')
    const done = await waitForRunner(ctx, launched.id, r => r.status === 'terminated' || r.status === 'failed', 90_000)
    t.equal(done.status, 'terminated')
    t.equal(done.exitCode, 0)
    t.equal(readFileSync(join(project.path, 'god.txt'), 'utf8'), 'unasked\n', '--auto approved the command')
    const billed = mock.billed()
    t.equal(billed.length, 2, 'the tool call, then the answer after its result (no title call)')
    t.match(done.sessionId, /^ses_\w+$/, 'the session id from the events is on the runner')
    t.match(done, runnerTokensOf(billed), 'tokens as billed, by kind')
    sessionId = done.sessionId!
    t.match(await sessionOf(sessionId), { runnerId: launched.id, tokensUsed: runnerTokensOf(billed).tokensUsed, resumable: true })
    const activity = (await runnerEventsOf(t, ctx, launched.id)).filter(e => e.type === 'runner.activity').map(e => e.data)
    t.same(activity.map(d => [d.state, d.source, d.detail]), [
      ['working', 'stream', null],
      ['working', 'stream', 'bash: echo unasked > god.txt'],
      ['idle', 'stream', null],
    ], 'working, the tool it ran, then idle when the turn ended (before the process did)')
    t.equal(done.activity.state, 'unknown', 'an ended process says nothing any more')
  })

  await t.test('resume keeps the session; the runner counts only its own run', async t => {
    mock.reply('Again.', { input_tokens: 30, output_tokens: 4, cache_read_input_tokens: 2000, cache_creation_input_tokens: 100 })
    const before = mock.billed().length
    const launched = await ctx.runners.launch({ project: project.name, agent: 'opencode', prompt: '-again', conversationMode: 'resume', sessionId }, 'test')
    const done = await waitForRunner(ctx, launched.id, r => r.status === 'terminated' || r.status === 'failed', 90_000)
    t.equal(done.status, 'terminated')
    t.equal(done.sessionId, sessionId)
    t.match(done, runnerTokensOf(mock.billed().slice(before)), 'this run only')
    t.match(await sessionOf(sessionId), { runnerId: launched.id, tokensUsed: runnerTokensOf(mock.billed()).tokensUsed })
    const history = JSON.stringify(mock.messageRequests().at(-1)!.body)
    t.match(history, /Write god\.txt/, 'the model saw the earlier conversation')
    t.match(history, /-again/, 'a prompt starting with - reached the model as text')
  })
})
