// OpenCode's activity from its structured output: headless runs' stdout events, and the bus events
// Stratavore's plugin forwards from interactive ones (the plugin module run here too). The .jsonl fixtures are `opencode run --format
// json` lines recorded from the real 1.18.33 against test/fixtures/mock-anthropic.ts: a bash call
// approved by --auto then an answer (run-auto-tool), the same call auto-rejected without --auto
// (run-rejected-tool, the CLI ends the run after it), and the API answering 404 (run-api-error).
import t from 'tap'
import { readFileSync } from 'node:fs'
import { opencodePluginSignal, opencodeStreamSignal } from '../../../src/adapters/agents/activity-signals.js'
import { configWithPlugin, OPENCODE_PLUGIN_URL } from '../../../src/adapters/agents/opencode.js'
import { startHookServer } from '../../../src/adapters/supervisor/hook-server.js'
import { adapterFor } from '../../../src/adapters/agents/index.js'
import { nextActivity, UNKNOWN_ACTIVITY, type ActivitySignal } from '../../../src/core/runners/activity.js'
import { agentSpec } from '../../helpers/agent-clis.js'

const recorded = (name: string): string[] =>
  readFileSync(new URL(`../../fixtures/opencode/${name}.jsonl`, import.meta.url), 'utf8').split('\n').filter(Boolean)

/** The lines through the adapter's observer, as the supervisor feeds them: the signals it reports. */
const signalsOf = (lines: string[]): ActivitySignal[] => {
  const adapter = adapterFor('opencode')
  const spec = agentSpec({ kind: 'opencode', prompt: 'do it' })
  const signals: ActivitySignal[] = []
  const observer = adapter.observe(spec, adapter.invocation(spec), signal => signals.push(signal))
  for (const line of lines) observer.onStdoutLine(line)
  return signals
}

t.test('a tool call approved, then the answer: working with the tool, then idle', async t => {
  const lines = recorded('run-auto-tool')
  t.same(lines.map(l => (JSON.parse(l) as { type: string }).type), ['step_start', 'tool_use', 'step_finish', 'step_start', 'text', 'text', 'step_finish'], 'the events 1.18.33 printed')
  t.same(signalsOf(lines), [
    { state: 'working', source: 'stream', detail: null, keepsDetail: true },
    { state: 'working', source: 'stream', detail: 'bash: echo hi > x.txt' },
    { state: 'working', source: 'stream', detail: null, keepsDetail: true },
    { state: 'idle', source: 'stream', detail: null },
  ], 'a step ending in tool-calls goes on; the one ending in stop ends the turn')
  const since = new Date()
  let activity = UNKNOWN_ACTIVITY
  const seen: Array<[string, string | null]> = []
  for (const signal of signalsOf(lines)) {
    const next = nextActivity(activity, signal, since)
    if (next) { activity = next; seen.push([next.state, next.detail]) }
  }
  t.same(seen, [['working', null], ['working', 'bash: echo hi > x.txt'], ['idle', null]], 'the next step keeps the tool the last one ran')
})

t.test('a tool call rejected in a headless run without --auto: still the agent\'s turn', async t => {
  const lines = recorded('run-rejected-tool')
  t.match(JSON.parse(lines[1]!), { type: 'tool_use', part: { state: { status: 'error', error: /rejected permission/ } } })
  t.same(signalsOf(lines).map(s => s.state), ['working', 'working'], 'no waiting_permission: run rejects on its own, nobody is asked')
})

t.test('an API error: error with its message', async t => {
  t.same(signalsOf(recorded('run-api-error')), [{ state: 'error', source: 'stream', detail: 'no mock for POST /nothing/v1/messages' }])
  t.match(opencodeStreamSignal({ type: 'error', error: { name: 'UnknownError' } }), { state: 'error', detail: 'UnknownError' }, 'the name when there is no message')
})

t.test('step reasons, and what means no change', async t => {
  const finish = (reason: unknown) => opencodeStreamSignal({ type: 'step_finish', part: { type: 'step-finish', reason } })
  t.match(finish('length'), { state: 'idle' }, 'OpenCode ends the turn on any reason but tool-calls and unknown')
  for (const reason of ['tool-calls', 'unknown', 'content-filter', undefined, 42]) t.equal(finish(reason), null, `no change for reason ${String(reason)}`)
  for (const event of [{ type: 'text', part: { text: 'x' } }, { type: 'reasoning' }, { type: 'tool_use' }, {}, { type: 42 }]) {
    const signal = opencodeStreamSignal(event)
    if (event.type === 'tool_use') t.same(signal, { state: 'working', source: 'stream', detail: null }, 'a tool_use without its part is still work')
    else t.equal(signal, null, `no change for ${JSON.stringify(event)}`)
  }
  t.same(signalsOf(['garbage', '{"type":"step_start"']), [], 'partial lines say nothing')
})

// Interactive runs: the bus events Stratavore's plugin forwards, as 1.18.33 published them in a
// recorded run (permission.asked, session.status) or as its event schemas declare them (the rest).
t.test('the plugin\'s events', async t => {
  const cases: Array<[string, Record<string, unknown>, unknown]> = [
    ['session.status', { sessionID: 's', status: { type: 'busy' } }, { state: 'working', source: 'hook', detail: null }],
    ['session.status', { sessionID: 's', status: { type: 'idle' } }, { state: 'idle', source: 'hook', detail: null }],
    ['session.status', { sessionID: 's', status: { type: 'retry', attempt: 2, message: 'Overloaded', next: 1 } }, { state: 'working', detail: 'retrying: Overloaded' }],
    ['permission.asked', { sessionID: 's', permission: 'bash', patterns: ['echo hi > x.txt'] }, { state: 'waiting_permission', detail: 'bash: echo hi > x.txt' }],
    ['permission.asked', { sessionID: 's', permission: 'external_directory' }, { state: 'waiting_permission', detail: 'external_directory' }],
    ['question.asked', { sessionID: 's', questions: [{ question: 'Which  branch?' }] }, { state: 'waiting_input', detail: 'Which branch?' }],
    ['permission.replied', { sessionID: 's', reply: 'once' }, { state: 'working' }],
    ['question.rejected', { sessionID: 's' }, { state: 'working' }],
    ['session.error', { sessionID: 's', error: { name: 'APIError', data: { message: 'no mock for POST /x' } } }, { state: 'error', detail: 'no mock for POST /x' }],
  ]
  for (const [type, properties, want] of cases) t.match(opencodePluginSignal({ type, properties }), want, `${type} ${JSON.stringify(properties)}`)
  for (const payload of [
    { type: 'session.error', properties: { error: { name: 'MessageAbortedError', data: { message: 'Aborted' } } } },
    { type: 'session.status', properties: { status: { type: 'compacting' } } },
    { type: 'permission.asked', properties: {} },
    { type: 'session.idle', properties: {} },
    { type: 'message.updated' },
    {},
  ]) t.equal(opencodePluginSignal(payload), null, `no change for ${JSON.stringify(payload)}`)
})

t.test('the plugin goes into the run\'s config, merged over the user\'s', async t => {
  const adapter = adapterFor('opencode')
  const hooked = (env: Record<string, string> = {}, prompt: string | null = null) =>
    adapter.invocation(agentSpec({ kind: 'opencode', prompt, env, activityHook: { url: 'http://127.0.0.1:1/v1/runners/r/hooks/opencode' } })).env
  t.match(OPENCODE_PLUGIN_URL, /^file:\/\/\/.*opencode-activity-plugin\.mjs$/)
  t.same(JSON.parse(hooked().OPENCODE_CONFIG_CONTENT!), { plugin: [OPENCODE_PLUGIN_URL] }, 'the only thing it adds')
  t.same(JSON.parse(hooked({ OPENCODE_CONFIG_CONTENT: '{"model":"x/y","plugin":["mine"]}' }).OPENCODE_CONFIG_CONTENT!), { model: 'x/y', plugin: ['mine', OPENCODE_PLUGIN_URL] }, 'a config of the agent\'s own keeps everything')
  t.same(hooked({ OPENCODE_CONFIG_CONTENT: '{ // jsonc\n}' }), {}, 'one it cannot read is left alone (no activity)')
  t.equal(configWithPlugin('{"plugin":"one"}'), null)
  t.same(hooked({}, 'hi'), {}, 'headless runs read the stream instead')
  t.equal(adapter.hookFlavour?.(agentSpec({ kind: 'opencode' })), 'opencode')
  t.equal(adapter.hookFlavour?.(agentSpec({ kind: 'opencode', prompt: 'x' })), null)
})

t.test('the plugin itself, against the hook channel', async t => {
  const server = await startHookServer({ log: { debug () {}, info () {}, warn () {}, error () {} } })
  t.teardown(() => server.close())
  const got: ActivitySignal[] = []
  const runnerId = '01900000-0000-7000-8000-00000000000a'
  const channel = server.open(runnerId, 'opencode', s => got.push(s))
  // It reads its channel from the environment when OpenCode imports it.
  const load = async (url: string, token: string) => {
    Object.assign(process.env, { STRATAVORE_HOOK_URL: url, STRATAVORE_HOOK_TOKEN: token })
    t.teardown(() => { delete process.env.STRATAVORE_HOOK_URL; delete process.env.STRATAVORE_HOOK_TOKEN })
    const module = await import(`${OPENCODE_PLUGIN_URL}?${url}`) as { StratavoreActivity: () => Promise<{ event(input: { event: unknown }): Promise<void> }> }
    return module.StratavoreActivity()
  }
  const plugin = await load(channel.url, channel.token)
  const events = [
    { type: 'session.status', properties: { sessionID: 'main', status: { type: 'busy' } } },
    { type: 'session.created', properties: { sessionID: 'sub', info: { id: 'sub', parentID: 'main' } } },
    { type: 'session.status', properties: { sessionID: 'sub', status: { type: 'idle' } } },
    { type: 'permission.asked', properties: { sessionID: 'sub', permission: 'edit', patterns: ['a.ts'], metadata: { diff: 'x'.repeat(2 * 1024 * 1024) } } },
    { type: 'message.part.updated', properties: { sessionID: 'main' } },
    null,
    { type: 'session.status', properties: { sessionID: 'main', status: { type: 'idle' } } },
  ]
  for (const event of events) await plugin.event({ event })
  const deadline = Date.now() + 10_000
  while (got.length < 3 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
  t.same(got.map(s => [s.state, s.detail]), [['working', null], ['waiting_permission', 'edit: a.ts'], ['idle', null]],
    'in order; a subagent\'s own idle left out, its permission kept, a huge diff not sent')

  const down = await load('http://127.0.0.1:9/v1/runners/x/hooks/opencode', 'secret')
  const started = Date.now()
  await down.event({ event: events[0] })
  t.ok(Date.now() - started < 500, 'a channel that is down never holds OpenCode up')
  delete process.env.STRATAVORE_HOOK_URL
  t.same(await (await import(`${OPENCODE_PLUGIN_URL}?none`) as { StratavoreActivity: () => Promise<unknown> }).StratavoreActivity(), {}, 'without a channel it hooks nothing')
})
