// OpenCode's activity from its structured output. The .jsonl fixtures are `opencode run --format
// json` lines recorded from the real 1.18.33 against test/fixtures/mock-anthropic.ts: a bash call
// approved by --auto then an answer (run-auto-tool), the same call auto-rejected without --auto
// (run-rejected-tool, the CLI ends the run after it), and the API answering 404 (run-api-error).
import t from 'tap'
import { readFileSync } from 'node:fs'
import { opencodeStreamSignal } from '../../../src/adapters/agents/activity-signals.js'
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
