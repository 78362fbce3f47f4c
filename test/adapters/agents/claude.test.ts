// The Claude adapter against the REAL Claude Code binary (devDependency) and the local mock
// Messages API: the pre-assigned session id, the transcript path the observer computes, the
// deduplicated usage, resume, and god mode as root. Each run takes one to two seconds.
import t from 'tap'
import { spawn as spawnPty } from '@lydell/node-pty'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { startMockAnthropic } from '../../fixtures/mock-anthropic.js'
import { agentSpec, claudeBin, claudeEnv, cliAvailable, runHeadless, tempDir } from '../../helpers/agent-clis.js'
import { encodeProjectDir } from '../../../src/adapters/agents/claude-transcript.js'
import { adapterFor, processEnv } from '../../../src/adapters/agents/index.js'

/** Polls `cond` every 100 ms; fails naming `what` when it stays false. */
const waitFor = async (what: string, cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> => {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

const bin = cliAvailable(t, claudeBin)

if (bin) {
  t.test('headless new, resume and god runs of the real CLI', async t => {
    const mock = await startMockAnthropic(t)
    // An awkward cwd: `_` and `.` become `-` in the project directory name too.
    const cwd = join(tempDir(t, 'stv-claude-cwd-'), 'my_app.v2')
    mkdirSync(cwd)
    const { env, configDir } = claudeEnv(t, { baseUrl: mock.url, cwd })
    const base = { kind: 'claude' as const, command: [bin], cwd, env: { ...env, CLAUDECODE: '1' } }

    const first = await runHeadless(t, agentSpec({ ...base, prompt: 'say hello' }))
    t.equal(first.code, 0, `first run exits 0; stderr: ${first.stderr}`)
    const sessionId = first.invocation.sessionId
    t.match(sessionId, /^[0-9a-f-]{36}$/, 'the adapter pre-assigned a uuid')
    const init = first.stdout.map(l => JSON.parse(l) as Record<string, unknown>).find(e => e.type === 'system' && e.subtype === 'init')
    t.equal(init?.session_id, sessionId, 'system/init reports the pre-assigned id')
    t.equal(first.observer.sessionId(), sessionId)
    const transcript = join(configDir, 'projects', encodeProjectDir(cwd), `${sessionId}.jsonl`)
    t.equal(first.observer.transcriptPath(), transcript, 'observer computes the real transcript path')
    t.ok(existsSync(transcript), 'the transcript is where the observer looks')
    const assistantRecords = readFileSync(transcript, 'utf8').split('\n').filter(l => l.includes('"type":"assistant"'))
    t.equal(assistantRecords.length, 2, 'two content blocks were written as two assistant records')
    t.same(first.observer.usage(), { inputTokens: 12, outputTokens: 7, cacheReadTokens: 1500, cacheCreationTokens: 3000 },
      'the mock usage counted once despite two records')
    t.equal(mock.messageRequests().length, 1, 'one Messages API call')

    mock.reply('Resumed.', { input_tokens: 20, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 4500 })
    const resumed = await runHeadless(t, agentSpec({ ...base, conversationMode: 'resume', sessionId, prompt: '-looks like a flag' }))
    t.equal(resumed.code, 0, `resume exits 0; stderr: ${resumed.stderr}`)
    t.equal(resumed.observer.sessionId(), sessionId, 'resume keeps the session id (2.1.332)')
    t.same(resumed.observer.usage(), { inputTokens: 20, outputTokens: 5, cacheReadTokens: 4500, cacheCreationTokens: 0 },
      'only the resumed run\'s usage, not the earlier run\'s records in the same file')
    const lastRequest = mock.messageRequests().at(-1)?.body as { messages?: Array<{ content: unknown }> }
    t.match(JSON.stringify(lastRequest.messages), /-looks like a flag/, 'the prompt after -- reached the model as text')
    t.match(JSON.stringify(lastRequest.messages), /say hello/, 'the resumed request carries the earlier turn')

    mock.reply('God mode.')
    const god = await runHeadless(t, agentSpec({ ...base, god: true, runningAsRoot: process.getuid?.() === 0, prompt: 'go' }))
    t.equal(god.code, 0, `god run exits 0 (IS_SANDBOX=1 as root); stderr: ${god.stderr}`)
    t.ok(god.invocation.argv.includes('--dangerously-skip-permissions'))
    const godInit = god.stdout.map(l => JSON.parse(l) as Record<string, unknown>).find(e => e.subtype === 'init')
    t.equal(godInit?.permissionMode, 'bypassPermissions', 'the CLI runs with permissions bypassed')
    t.same(god.observer.usage(), { inputTokens: 12, outputTokens: 7, cacheReadTokens: 1500, cacheCreationTokens: 3000 })
    t.equal(mock.messageRequests().length, 3, 'one API call per run')
  })

  t.test('continue discovers the session id from stdout', async t => {
    const mock = await startMockAnthropic(t)
    const cwd = tempDir(t, 'stv-claude-cwd-')
    const { env } = claudeEnv(t, { baseUrl: mock.url, cwd })
    const base = { kind: 'claude' as const, command: [bin], cwd, env }
    const first = await runHeadless(t, agentSpec({ ...base, prompt: 'one' }))
    t.equal(first.code, 0, first.stderr)
    const next = await runHeadless(t, agentSpec({ ...base, conversationMode: 'continue', prompt: 'two' }))
    t.equal(next.code, 0, next.stderr)
    t.equal(next.invocation.sessionId, null, 'unknown before the spawn')
    t.equal(next.observer.sessionId(), first.invocation.sessionId, 'continue picked the newest session in the cwd')
    t.same(next.observer.usage(), { inputTokens: 12, outputTokens: 7, cacheReadTokens: 1500, cacheCreationTokens: 3000 })
  })

  t.test('interactive run in a PTY: seeded config goes straight to the prompt; usage from the transcript', async t => {
    const mock = await startMockAnthropic(t)
    const cwd = tempDir(t, 'stv-claude-cwd-')
    const { env } = claudeEnv(t, { baseUrl: mock.url, cwd })
    const spec = agentSpec({ kind: 'claude', command: [bin], cwd, env })
    const adapter = adapterFor('claude')
    const invocation = adapter.invocation(spec)
    t.equal(invocation.terminal, true)
    const observer = adapter.observe(spec, invocation)
    const [program, ...args] = invocation.argv
    const child = spawnPty(program!, args, { cwd, env: processEnv(spec, invocation), cols: 120, rows: 40, name: 'xterm-256color' })
    const exited = new Promise<void>(resolve => child.onExit(() => resolve()))
    t.teardown(async () => { child.kill('SIGKILL'); await exited })
    // The TUI moves the cursor instead of printing spaces: compare text without escapes or spaces.
    let screen = ''
    // eslint-disable-next-line no-control-regex -- matching the ESC of terminal control sequences is the point
    child.onData(data => { screen += data.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\s/g, '') })
    await waitFor('the input prompt', () => screen.includes('❯') && /for(shortcuts|agents)/.test(screen))
    t.notMatch(screen, /trustthefiles|Choosethetextstyle|DoyouwanttousethisAPIkey/, 'no onboarding, trust or API-key screen')
    child.write('say hi')
    await waitFor('the typed prompt to echo', () => screen.includes('sayhi'))
    child.write('\r')
    await waitFor('usage in the transcript', async () => { await observer.poll(); return observer.usage().outputTokens > 0 })
    t.same(observer.usage(), { inputTokens: 12, outputTokens: 7, cacheReadTokens: 1500, cacheCreationTokens: 3000 })
    t.equal(observer.sessionId(), invocation.sessionId)
    t.equal(mock.messageRequests().length, 1)
    observer.close()
  })
}
