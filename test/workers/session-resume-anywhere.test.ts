// Sessions resumed on another node, with the REAL Claude Code and Codex CLIs against the mock
// model APIs: a conversation started under supervisor A (its own HOME) is archived into the
// shared database as it grows, and resumed under supervisor B (another HOME, where no transcript
// exists) after A is gone: B writes the transcript back and the model sees the earlier messages.
// Also: a headless Codex run that ends within seconds keeps its session (the thread.started id).
import t from 'tap'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { eq } from 'drizzle-orm'
import { nodes, sessions } from '../../src/adapters/db/schema.js'
import type { Config } from '../../src/config.js'
import type { Context } from '../../src/context.js'
import { startMockAnthropic } from '../fixtures/mock-anthropic.js'
import { startMockOpenAI } from '../fixtures/mock-openai.js'
import { claudeBin, claudeEnv, cliAvailable, codexBin, codexEnv, tempDir } from '../helpers/agent-clis.js'
import { buildContext } from '../helpers/app.js'
import { backendName, openSharedTestDatabase } from '../helpers/database.js'
import { startTestSupervisor, supervisorTestConfig, waitForRunner } from '../helpers/supervisor.js'

const ended = (r: { status: string }) => r.status === 'terminated' || r.status === 'failed'

t.test(`sessions resume on another node on ${backendName()}`, async t => {
  const claude = cliAvailable(t, claudeBin)
  const codex = cliAvailable(t, codexBin)
  if (!claude || !codex) return
  const anthropic = await startMockAnthropic(t)
  const openai = await startMockOpenAI(t)
  const [databaseA, databaseB] = await openSharedTestDatabase(t)
  const cwd = join(tempDir(t, 'stv-resume-'), 'work')
  mkdirSync(cwd)
  const homes = { a: { claude: claudeEnv(t, { baseUrl: anthropic.url, cwd }), codex: codexEnv(t, { baseUrl: openai.url }) }, b: { claude: claudeEnv(t, { baseUrl: anthropic.url, cwd }), codex: codexEnv(t, { baseUrl: openai.url }) } }
  const nodeConfig = (name: 'a' | 'b') => (config: Config) => {
    supervisorTestConfig(config)
    config.supervisor.node_name = `node-${name}`
    config.agents.claude = { name: 'claude', kind: 'claude', command: [claude], env: homes[name].claude.env }
    config.agents.codex = { name: 'codex', kind: 'codex', command: [codex], env: homes[name].codex.env }
  }
  const ctxA = await buildContext(t, nodeConfig('a'), { database: databaseA })
  const supervisorA = await startTestSupervisor(t, ctxA)
  const project = await ctxA.projects.create({ name: `resume-${process.pid}`, path: cwd }, 'test')
  const sessionOf = async (ctx: Context, id: string) => (await ctx.database.db.select().from(sessions).where(eq(sessions.id, id)))[0]!
  const run = async (ctx: Context, input: Parameters<Context['runners']['launch']>[0]) => {
    const launched = await ctx.runners.launch(input, 'test')
    const done = await waitForRunner(ctx, launched.id, ended, 90_000)
    t.equal(done.status, 'terminated', `${input.agent} ${input.conversationMode ?? 'new'} run ended well`)
    return done
  }

  // Node A: one conversation with each CLI.
  const claudeRun = await run(ctxA, { project: project.name, agent: 'claude', prompt: 'Remember the word mango', god: true })
  const claudeSession = claudeRun.sessionId!
  const claudeFileA = join(homes.a.claude.configDir, 'projects', cwd.replace(/[^a-zA-Z0-9]/g, '-'), `${claudeSession}.jsonl`)
  const codexRun = await run(ctxA, { project: project.name, agent: 'codex', prompt: 'Remember the word papaya' })

  await t.test('A: sessions recorded, transcripts archived, messages and summary kept', async t => {
    t.match(await sessionOf(ctxA, claudeSession), {
      agent: 'claude', messageCount: 2, summary: 'Remember the word mango', transcriptArchive: 'archived', transcriptBytes: readFileSync(claudeFileA).length,
    }, 'one prompt and one reply (its two content blocks are one message)')
    t.match(codexRun.sessionId, /^[0-9a-f-]{36}$/, 'the headless Codex run kept the thread id it printed')
    t.match(codexRun, { inputTokens: 500, outputTokens: 30, cacheReadTokens: 1500 }, 'with its exact tokens')
    t.match(await sessionOf(ctxA, codexRun.sessionId!), {
      agent: 'codex', runnerId: codexRun.id, tokensUsed: 2030, messageCount: 2, summary: 'Remember the word papaya', transcriptArchive: 'archived',
    })
    const exported = []
    for await (const chunk of (await ctxA.sessions.transcript(claudeSession)).chunks) exported.push(chunk)
    t.same(Buffer.concat(exported), readFileSync(claudeFileA), 'the export is the file A wrote, byte for byte')
  })

  // A goes away; B, with other homes, is the only node left.
  await supervisorA.stop()
  await ctxA.database.db.update(nodes).set({ status: 'lost' }).where(eq(nodes.name, 'node-a'))
  const ctxB = await buildContext(t, nodeConfig('b'), { database: databaseB })
  await startTestSupervisor(t, ctxB)
  const [nodeB] = await ctxB.database.db.select().from(nodes).where(eq(nodes.name, 'node-b'))

  await t.test('B: Claude resumes the conversation from the archive', async t => {
    const before = anthropic.messageRequests().length
    const done = await run(ctxB, { project: project.name, conversationMode: 'resume', sessionId: claudeSession, prompt: 'Which word?', god: true })
    t.match(done, { agent: 'claude', nodeId: nodeB!.id, sessionId: claudeSession, exitCode: 0 })
    t.equal(anthropic.messageRequests().length, before + 1)
    const request = JSON.stringify(anthropic.messageRequests().at(-1)!.body)
    t.match(request, /Remember the word mango/, 'the model saw the earlier prompt')
    t.match(request, /Hello from the mock server/, 'and the earlier reply')
    const fileB = join(homes.b.claude.configDir, 'projects', cwd.replace(/[^a-zA-Z0-9]/g, '-'), `${claudeSession}.jsonl`)
    t.match(await sessionOf(ctxB, claudeSession), { runnerId: done.id, messageCount: 4, summary: 'Remember the word mango', transcriptBytes: readFileSync(fileB).length })
    t.equal(done.tokensUsed, 4519, 'the runner counts only its own run, not the restored history')
  })

  await t.test('B: Codex resumes the thread from the archive', async t => {
    const done = await run(ctxB, { project: project.name, conversationMode: 'resume', sessionId: codexRun.sessionId!, prompt: 'Which word?' })
    t.match(done, { agent: 'codex', nodeId: nodeB!.id, sessionId: codexRun.sessionId, inputTokens: 500, outputTokens: 30, cacheReadTokens: 1500 })
    t.match(JSON.stringify(openai.responseRequests().at(-1)!.body), /Remember the word papaya/, 'the model saw the earlier prompt')
    t.match(await sessionOf(ctxB, codexRun.sessionId!), { runnerId: done.id, tokensUsed: 4060, messageCount: 4 })
  })
})
