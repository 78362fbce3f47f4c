// The real Claude Code CLI under the supervisor, against the mock Anthropic API: headless and
// interactive launches, the session id and exact token counts arriving in the database, a
// resume that keeps the session, typing into the real TUI through the attach WebSocket, and stop.
import t from 'tap'
import { eq } from 'drizzle-orm'
import { buildApp } from '../../src/api/app.js'
import { sessions } from '../../src/adapters/db/schema.js'
import { startMockAnthropic } from '../fixtures/mock-anthropic.js'
import { claudeBin, claudeEnv, cliAvailable } from '../helpers/agent-clis.js'
import { openAttach } from '../helpers/attach-client.js'
import { backendName } from '../helpers/database.js'
import { createProject } from '../helpers/fixtures.js'
import { buildSupervisedContext, eventTypesOf, runnerEventsOf, waitForRunner } from '../helpers/supervisor.js'
import { adminTokenOf, bearer, buildContext } from '../helpers/app.js'

const ONE_REPLY = { inputTokens: 12, outputTokens: 7, cacheReadTokens: 1500, cacheCreationTokens: 3000 }
const ONE_REPLY_TOTAL = 12 + 7 + 1500 + 3000

t.test(`Claude Code under the supervisor on ${backendName()}`, async t => {
  const bin = cliAvailable(t, claudeBin)
  if (!bin) return
  const mock = await startMockAnthropic(t)
  // The project directory must exist before Claude's config can trust it.
  const scratch = await buildContext(t)
  const project = await createProject(t, scratch)
  const { env } = claudeEnv(t, { baseUrl: mock.url, cwd: project.path })
  const { ctx } = await buildSupervisedContext(t, config => {
    config.agents.claude = { name: 'claude', kind: 'claude', command: [bin], env }
  })
  await ctx.projects.create({ name: project.name, path: project.path }, 'test')
  const sessionOf = async (id: string) => (await ctx.database.db.select().from(sessions).where(eq(sessions.id, id)))[0]

  let sessionId = ''
  await t.test('headless: session id and exact tokens, then terminated', async t => {
    const launched = await ctx.runners.launch({ project: project.name, agent: 'claude', prompt: 'Say hello', god: true }, 'test')
    const done = await waitForRunner(ctx, launched.id, r => r.status === 'terminated' || r.status === 'failed', 60_000)
    t.equal(done.status, 'terminated')
    t.equal(done.exitCode, 0)
    t.match(done.sessionId, /^[0-9a-f-]{36}$/, 'the pre-assigned session id is on the runner')
    t.match(done, { ...ONE_REPLY, tokensUsed: ONE_REPLY_TOTAL }, 'tokens counted once, by kind')
    sessionId = done.sessionId!
    const session = await sessionOf(sessionId)
    t.match(session, { runnerId: launched.id, projectName: project.name, tokensUsed: ONE_REPLY_TOTAL, resumable: true })
    t.ok(session!.endedAt, 'the session ended with its runner')
    const events = await runnerEventsOf(t, ctx, launched.id)
    t.same(events.filter(e => e.type !== 'runner.activity').map(e => e.type), ['runner.launched', 'runner.starting', 'runner.started', 'runner.stopped'])
    // The stream's state events: the turn ran, then was over (before the process ended).
    t.same(events.filter(e => e.type === 'runner.activity').map(e => [e.data.state, e.data.source]), [['working', 'stream'], ['idle', 'stream']], 'activity from stream-json')
    t.same(await eventTypesOf(ctx, sessionId), ['session.created'])
    t.equal((await ctx.projects.get(project.name)).totalTokens, ONE_REPLY_TOTAL, 'the project total follows')
  })

  await t.test('resume keeps the session and counts only the new run on the runner', async t => {
    const launched = await ctx.runners.launch({ project: project.name, agent: 'claude', prompt: 'Again', conversationMode: 'resume', sessionId }, 'test')
    const done = await waitForRunner(ctx, launched.id, r => r.status === 'terminated' || r.status === 'failed', 60_000)
    t.equal(done.status, 'terminated')
    t.equal(done.sessionId, sessionId)
    t.equal(done.tokensUsed, ONE_REPLY_TOTAL)
    t.match(await sessionOf(sessionId), { runnerId: launched.id, tokensUsed: 2 * ONE_REPLY_TOTAL })
    const resumed = mock.messageRequests().at(-1)!.body as { messages: unknown[] }
    t.ok(resumed.messages.length >= 3, 'the model saw the earlier conversation')
  })

  await t.test('interactive: type into the real TUI through attach, tokens arrive, stop', async t => {
    const app = await buildApp(ctx)
    t.teardown(() => app.close())
    await app.listen({ host: '127.0.0.1', port: 0 })
    const before = mock.messageRequests().length
    const launched = await ctx.runners.launch({ project: project.name, agent: 'claude' }, 'test')
    const running = await waitForRunner(ctx, launched.id, 'running', 30_000)
    t.match(running.sessionId, /^[0-9a-f-]{36}$/)
    const port = (app.server.address() as { port: number }).port
    const term = await openAttach(`ws://127.0.0.1:${port}/api/v1/runners/${launched.id}/attach?cols=120&rows=40`, bearer(adminTokenOf(ctx)))
    // The TUI moves the cursor rather than printing spaces: compare text without escapes or spaces.
    // eslint-disable-next-line no-control-regex -- matching the ESC of terminal control sequences is the point
    const screen = () => term.output().replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\s/g, '')
    await term.waitFor(() => screen().includes('❯') && /for(shortcuts|agents)/.test(screen()), 'the input prompt', 30_000)
    term.socket.send(Buffer.from('say hi'))
    await term.waitFor(() => screen().includes('sayhi'), 'the typed prompt to echo')
    term.socket.send(Buffer.from('\r'))
    const counted = await waitForRunner(ctx, launched.id, r => r.tokensUsed > 0, 30_000)
    t.match(counted, { ...ONE_REPLY, tokensUsed: ONE_REPLY_TOTAL, status: 'running' })
    t.equal(mock.messageRequests().length, before + 1)
    await ctx.runners.stop(launched.id, {}, 'test')
    t.equal((await term.closed).code, 1000, 'the terminal closes cleanly when the runner stops')
    await waitForRunner(ctx, launched.id, 'terminated')
    t.match(await sessionOf(running.sessionId!), { tokensUsed: ONE_REPLY_TOTAL })
  })
})
