// argv and env mapping of every adapter for every conversation mode, god and headless runs.
// The claude and codex forms are also exercised against the real CLIs (claude.test.ts,
// codex.test.ts); the others follow each CLI's documented help (agent-clis.md §3-§5).
import t from 'tap'
import { adapterFor, processEnv } from '../../../src/adapters/agents/index.js'
import { analyticsLogOf } from '../../../src/adapters/agents/aider.js'
import { agentSpec } from '../../helpers/agent-clis.js'
import type { AgentKind } from '../../../src/config-spec.js'

const HOSTILE = ['--dangerously-skip-permissions', '-rf /', 'a b; rm -rf ~', '$(reboot)', '']
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

t.test('claude', async t => {
  const a = adapterFor('claude')
  const fresh = a.invocation(agentSpec({ kind: 'claude', command: ['claude', '--model=opus'] }))
  t.equal(fresh.argv[0], 'claude')
  t.equal(fresh.argv[1], '--model=opus', 'configured leading args stay first')
  t.match(fresh.sessionId, UUID)
  t.same(fresh.argv.slice(2), [`--session-id=${fresh.sessionId}`])
  t.equal(fresh.terminal, true)
  t.not(a.invocation(agentSpec({ kind: 'claude' })).sessionId, fresh.sessionId, 'a fresh id per run')

  const headless = a.invocation(agentSpec({ kind: 'claude', prompt: '-p --evil', flags: ['--add-dir=/x'] }))
  t.same(headless.argv.slice(0, 4), ['claude', '-p', '--output-format=stream-json', '--verbose'])
  t.same(headless.argv.slice(-3), ['--add-dir=/x', '--', '-p --evil'], 'runner flags, then the prompt after --')
  t.equal(headless.terminal, false)

  const resume = a.invocation(agentSpec({ kind: 'claude', conversationMode: 'resume', sessionId: '-x-id' }))
  t.same(resume.argv, ['claude', '--resume=-x-id'], 'an id starting with - stays the value')
  t.equal(resume.sessionId, '-x-id')
  const cont = a.invocation(agentSpec({ kind: 'claude', conversationMode: 'continue' }))
  t.same(cont.argv, ['claude', '--continue'])
  t.equal(cont.sessionId, null)
  t.same(a.invocation(agentSpec({ kind: 'claude', conversationMode: 'resume', sessionId: null })).argv, ['claude', '--continue'], 'resume without an id continues')

  const godRoot = a.invocation(agentSpec({ kind: 'claude', god: true, runningAsRoot: true }))
  t.ok(godRoot.argv.includes('--dangerously-skip-permissions'))
  t.same(godRoot.env, { IS_SANDBOX: '1' })
  t.same(a.invocation(agentSpec({ kind: 'claude', god: true })).env, {}, 'no IS_SANDBOX when not root')

  const spec = agentSpec({ kind: 'claude', env: { CLAUDECODE: '1', KEEP: 'yes' }, god: true, runningAsRoot: true })
  t.same(processEnv(spec, a.invocation(spec)), { KEEP: 'yes', IS_SANDBOX: '1' }, 'CLAUDECODE stripped, IS_SANDBOX added')
})

t.test('codex', async t => {
  const a = adapterFor('codex')
  t.same(a.invocation(agentSpec({ kind: 'codex', prompt: 'hi' })).argv, ['codex', 'exec', '--json', '--skip-git-repo-check', '--', 'hi'])
  const resume = a.invocation(agentSpec({ kind: 'codex', prompt: '-hi', god: true, conversationMode: 'resume', sessionId: 'T1', flags: ['-m', 'o3'] }))
  t.same(resume.argv, ['codex', 'exec', 'resume', '--json', '--skip-git-repo-check', '--dangerously-bypass-approvals-and-sandbox', '-m', 'o3', '--', 'T1', '-hi'])
  t.equal(resume.sessionId, 'T1')
  t.same(a.invocation(agentSpec({ kind: 'codex', prompt: 'hi', conversationMode: 'continue' })).argv,
    ['codex', 'exec', 'resume', '--json', '--skip-git-repo-check', '--last', '--', 'hi'])
  const tui = a.invocation(agentSpec({ kind: 'codex', god: true }))
  t.same(tui.argv, ['codex', '--dangerously-bypass-approvals-and-sandbox'])
  t.equal(tui.terminal, true)
  t.same(a.invocation(agentSpec({ kind: 'codex', conversationMode: 'resume', sessionId: 'T1' })).argv, ['codex', 'resume', '--', 'T1'])
  t.same(a.invocation(agentSpec({ kind: 'codex', conversationMode: 'continue' })).argv, ['codex', 'resume', '--last'])
})

t.test('a first message from Stratavore into a resumed interactive run (a usage limit reset)', async t => {
  const message = '[Stratavore] The usage limit has reset; continue where you left off.'
  // Verified with Claude Code 2.1.332 in a terminal: the words after `--` are submitted as the first prompt.
  const claude = adapterFor('claude').invocation(agentSpec({ kind: 'claude', conversationMode: 'resume', sessionId: 'abc', message }))
  t.same(claude.argv, ['claude', '--resume=abc', '--', message])
  t.equal(claude.terminal, true)
  const codex = adapterFor('codex').invocation(agentSpec({ kind: 'codex', conversationMode: 'resume', sessionId: 'thread-1', message }))
  t.same(codex.argv, ['codex', 'resume', '--', 'thread-1', message], '`codex resume [ID] [PROMPT]`')
  t.same(adapterFor('claude').invocation(agentSpec({ kind: 'claude', conversationMode: 'resume', sessionId: 'abc', message: null })).argv, ['claude', '--resume=abc'], 'none: as before')
})

t.test('gemini', async t => {
  const a = adapterFor('gemini')
  const fresh = a.invocation(agentSpec({ kind: 'gemini', prompt: '-y', god: true }))
  t.match(fresh.sessionId, UUID)
  t.same(fresh.argv, ['gemini', `--session-id=${fresh.sessionId}`, '--yolo', '--skip-trust', '--output-format=stream-json', '--prompt=-y'])
  t.equal(fresh.terminal, false)
  t.same(a.invocation(agentSpec({ kind: 'gemini', conversationMode: 'resume', sessionId: 'S' })).argv, ['gemini', '--resume=S'])
  t.same(a.invocation(agentSpec({ kind: 'gemini', conversationMode: 'continue' })).argv, ['gemini', '--resume=latest'])
})

t.test('aider', async t => {
  const a = adapterFor('aider')
  const run = a.invocation(agentSpec({ kind: 'aider', prompt: '--yes-always', god: true, conversationMode: 'continue', env: { TMPDIR: '/var/tmp' }, runnerId: 'r/1 x' }))
  const log = analyticsLogOf(run.argv)
  t.match(log, /^\/var\/tmp\/stratavore-aider-r_1_x-[0-9a-f]{12}\.jsonl$/, 'a per-process log in the child\'s TMPDIR')
  t.same(run.argv, ['aider', `--analytics-log=${log}`, '--no-analytics', '--restore-chat-history', '--yes-always', '--message=--yes-always'])
  t.equal(run.sessionId, null, 'aider has no session ids')
  t.equal(a.invocation(agentSpec({ kind: 'aider' })).terminal, true)
})

t.test('opencode', async t => {
  const a = adapterFor('opencode')
  t.same(a.invocation(agentSpec({ kind: 'opencode', prompt: '-hi' })).argv, ['opencode', 'run', '--format=json', '--', '-hi'])
  t.same(a.invocation(agentSpec({ kind: 'opencode', prompt: 'hi', conversationMode: 'continue', god: true })).argv,
    ['opencode', 'run', '--format=json', '--continue', '--auto', '--', 'hi'])
  const resume = a.invocation(agentSpec({ kind: 'opencode', conversationMode: 'resume', sessionId: 'ses_1' }))
  t.same(resume.argv, ['opencode', '--session=ses_1'])
  t.equal(resume.sessionId, 'ses_1')
})

t.test('generic', async t => {
  const a = adapterFor('generic')
  t.same(a.invocation(agentSpec({ kind: 'generic', command: ['/bin/echo'], flags: ['a'], prompt: '-n x' })).argv, ['/bin/echo', 'a', '-n x'])
  // As the README says: without flags, the prompt is the first argument after the command's own.
  const headless = a.invocation(agentSpec({ kind: 'generic', command: ['/usr/local/bin/my-agent', '--quiet'], prompt: 'fix the tests' }))
  t.same(headless.argv, ['/usr/local/bin/my-agent', '--quiet', 'fix the tests'])
  t.equal(headless.terminal, false, 'headless: no terminal')
  const inv = a.invocation(agentSpec({ kind: 'generic', command: ['/bin/sleep', '1'], sessionId: 'given' }))
  t.same(inv.argv, ['/bin/sleep', '1'])
  const obs = a.observe(agentSpec({ kind: 'generic', sessionId: 'given' }), inv)
  obs.onStdoutLine('{"session_id":"nope"}')
  await obs.poll()
  t.equal(obs.sessionId(), 'given')
  t.same(obs.usage(), { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 })
})

t.test('hostile runner flags stay single argv entries for every kind', async t => {
  for (const kind of ['claude', 'codex', 'gemini', 'aider', 'opencode', 'generic'] as AgentKind[]) {
    for (const prompt of [null, 'p']) {
      const { argv } = adapterFor(kind).invocation(agentSpec({ kind, flags: HOSTILE, prompt }))
      const at = argv.indexOf(HOSTILE[0]!)
      t.same(argv.slice(at, at + HOSTILE.length), HOSTILE, `${kind} ${prompt ? 'headless' : 'interactive'}`)
    }
  }
})
