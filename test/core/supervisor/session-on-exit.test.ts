// A headless agent that prints its session id and exits before any converge pass sees it (a
// Codex exec that ends while its `running` transition commits on a busy database) still leaves
// its session: the exit's last heartbeat records the id before it counts the tokens, so the
// session gets them too. The runtime is a stub: the real CLIs are in test/workers.
import t from 'tap'
import { eq } from 'drizzle-orm'
import { sessions } from '../../../src/adapters/db/schema.js'
import type { AgentRuntime, LiveAgent } from '../../../src/core/supervisor/agent-runtime.js'
import { createDatabaseSupervision } from '../../../src/core/supervisor/database-supervision.js'
import { createNodeSupervisor } from '../../../src/core/supervisor/node-supervisor.js'
import { buildContext } from '../../helpers/app.js'
import { backendName } from '../../helpers/database.js'
import { createProject } from '../../helpers/fixtures.js'
import { waitForRunner } from '../../helpers/supervisor.js'

t.test(`a session printed just before exit is recorded, on ${backendName()}`, async t => {
  const ctx = await buildContext(t)
  const project = await createProject(t, ctx)
  const usage = { inputTokens: 500, outputTokens: 30, cacheReadTokens: 1500, cacheCreationTokens: 0 }
  const runtime: AgentRuntime = {
    async start () {
      let printed = false
      const agent: LiveAgent = {
        pid: 424242,
        // Over at once: the supervisor hears of the exit in the same turn it records `running`.
        exited: Promise.resolve({ code: 0, signal: null }),
        stop: async () => ({ code: 0, signal: null }),
        poll: async () => { printed = true },
        sessionId: () => printed ? 'thread-printed-late' : null,
        transcriptPath: () => null,
        resumable: true,
        onActivity: () => {},
        output: () => new Uint8Array(),
        readTranscript: async () => null,
        usage: () => printed ? usage : { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 },
        usageLimit: () => null,
      }
      return agent
    },
    sample: () => new Map(),
    killLeftover: async () => false,
  }
  const node = { id: '00000000-0000-7000-8000-00000000a001', name: 'stub-node', hostname: 'stub', version: 'test', capacity: 5, credentialHash: 'x', attachUrl: 'ws://127.0.0.1:1', attachKey: 'k' }
  const supervisor = createNodeSupervisor({
    ...ctx,
    supervision: createDatabaseSupervision({ ...ctx, node }),
    runtime,
    log: { debug () {}, info () {}, warn () {}, error () {} },
    node,
    settings: {
      capacity: 5, heartbeatIntervalMs: 60_000, convergeIntervalMs: 60_000, stopTimeoutMs: 1000, archiveMaxBytes: 1024,
      restart: { baseMs: 10, capMs: 10, healthyAfterMs: 60_000, startWindowMs: 0 },
    },
  })
  await supervisor.start()
  t.teardown(() => supervisor.stop())
  const launched = await ctx.runners.launch({ project: project.name, agent: 'codex', prompt: 'hi' }, 'test')
  supervisor.wake()
  const done = await waitForRunner(ctx, launched.id, 'terminated')
  t.match(done, { sessionId: 'thread-printed-late', tokensUsed: 2030 })
  const [session] = await ctx.database.db.select().from(sessions).where(eq(sessions.id, 'thread-printed-late'))
  t.match(session, { runnerId: launched.id, agent: 'codex', tokensUsed: 2030, resumable: true })
  t.ok(session?.endedAt, 'and ended with its runner')
})
