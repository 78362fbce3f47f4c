// The Codex adapter against the REAL Codex CLI (devDependency) and the local mock Responses API:
// thread id from `thread.started`, exact usage from the rollout file, and a resume whose stdout
// usage is thread-cumulative but whose counted usage is only its own. A run takes about 1.5 s.
import t from 'tap'
import { startMockOpenAI } from '../../fixtures/mock-openai.js'
import { HOOK_TOKEN_VARIABLE, HOOK_URL_VARIABLE } from '../../../src/adapters/agents/hook-variables.js'
import { adapterFor } from '../../../src/adapters/agents/index.js'
import { startHookServer } from '../../../src/adapters/supervisor/hook-server.js'
import type { ActivitySignal } from '../../../src/core/runners/activity.js'
import { agentSpec, cliAvailable, codexBin, codexEnv, runHeadless, tempDir } from '../../helpers/agent-clis.js'

const bin = cliAvailable(t, codexBin)

if (bin) {
  t.test('headless exec, then exec resume, of the real CLI', async t => {
    const mock = await startMockOpenAI(t)
    const cwd = tempDir(t, 'stv-codex-cwd-')
    const { env, codexHome } = codexEnv(t, { baseUrl: mock.url })
    const base = { kind: 'codex' as const, command: [bin], cwd, env }

    const first = await runHeadless(t, agentSpec({ ...base, prompt: 'say hello' }))
    t.equal(first.code, 0, `exec exits 0; stderr: ${first.stderr}`)
    const started = first.stdout.map(l => JSON.parse(l) as Record<string, unknown>).find(e => e.type === 'thread.started')
    t.match(started?.thread_id, /^[0-9a-f-]{36}$/)
    t.equal(first.observer.sessionId(), started?.thread_id, 'thread id from thread.started')
    t.match(first.observer.transcriptPath(), new RegExp(`^${codexHome}/sessions/\\d{4}/\\d{2}/\\d{2}/rollout-.*-${String(started?.thread_id)}\\.jsonl$`))
    // Mock: 2000 input of which 1500 cached, 30 output (10 of them reasoning).
    t.same(first.observer.usage(), { inputTokens: 500, outputTokens: 30, cacheReadTokens: 1500, cacheCreationTokens: 0 })
    t.same(first.signals.map(s => [s.state, s.source]), [['working', 'stream'], ['idle', 'stream']], 'activity from exec --json: the turn ran, then was over')

    mock.reply('Again.', { input_tokens: 3000, cached_tokens: 1000, output_tokens: 40 })
    const threadId = first.observer.sessionId()
    const resumed = await runHeadless(t, agentSpec({ ...base, conversationMode: 'resume', sessionId: threadId, god: true, prompt: '-dash prompt' }))
    t.equal(resumed.code, 0, `exec resume exits 0; stderr: ${resumed.stderr}`)
    t.equal(resumed.observer.sessionId(), threadId, 'resume keeps the thread id')
    const completed = resumed.stdout.map(l => JSON.parse(l) as Record<string, unknown>).find(e => e.type === 'turn.completed')
    t.match(completed?.usage, { input_tokens: 5000 }, 'stdout usage is thread-cumulative (the trap)')
    t.same(resumed.observer.usage(), { inputTokens: 2000, outputTokens: 40, cacheReadTokens: 1000, cacheCreationTokens: 0 },
      'the observer counts only this run')
    const lastInput = JSON.stringify((mock.responseRequests().at(-1)?.body as { input?: unknown }).input)
    t.match(lastInput, /-dash prompt/, 'the prompt after -- reached the model as text')
    t.equal(mock.responseRequests().length, 2)
  })

  t.test('the notify program the adapter injects reports a finished turn to the hook channel', async t => {
    const mock = await startMockOpenAI(t)
    const cwd = tempDir(t, 'stv-codex-cwd-')
    const { env } = codexEnv(t, { baseUrl: mock.url })
    const hooks = await startHookServer({ log: { debug () {}, info () {}, warn () {}, error () {} } })
    t.teardown(() => hooks.close())
    const signals: ActivitySignal[] = []
    const runnerId = '01900000-0000-7000-8000-0000000000cc'
    const channel = hooks.open(runnerId, 'codex', signal => signals.push(signal))
    const hookEnv = { ...env, [HOOK_URL_VARIABLE]: channel.url, [HOOK_TOKEN_VARIABLE]: channel.token }
    // The interactive argv carries it; `codex exec` runs notify too (client codex_exec), so a
    // headless run with the same -c proves the program without driving the TUI.
    const interactive = adapterFor('codex').invocation(agentSpec({ kind: 'codex', command: [bin], cwd, env: hookEnv, activityHook: { url: channel.url } }))
    const notify = interactive.argv.slice(interactive.argv.indexOf('-c'), interactive.argv.indexOf('-c') + 2)
    const run = await runHeadless(t, agentSpec({ kind: 'codex', command: [bin], cwd, env: hookEnv, prompt: 'say hello', flags: notify }))
    t.equal(run.code, 0, `exec exits 0; stderr: ${run.stderr}`)
    const deadline = Date.now() + 10_000
    while (signals.length === 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
    t.same(signals, [{ state: 'idle', source: 'hook', detail: null }], 'agent-turn-complete arrived with the runner\'s secret')
  })
}
