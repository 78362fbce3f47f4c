// The mapping from each CLI's structured signals to runner activity: payloads as the real CLIs
// send them (agent-clis.md §1.6, §1.8, §2), unknown and malformed ones mapping to no change.
import t from 'tap'
import { claudeHookSignal, claudeStreamSignal, codexNotifySignal, codexStreamSignal, toolDetail } from '../../../src/adapters/agents/activity-signals.js'
import { claudeHookSettings } from '../../../src/adapters/agents/claude.js'
import { adapterFor } from '../../../src/adapters/agents/index.js'
import { MAX_ACTIVITY_DETAIL, nextActivity, UNKNOWN_ACTIVITY } from '../../../src/core/runners/activity.js'
import { agentSpec } from '../../helpers/agent-clis.js'

const base = { session_id: 's', transcript_path: '/t.jsonl', cwd: '/w' }

t.test('Claude hooks', async t => {
  const cases: Array<[Record<string, unknown>, unknown]> = [
    [{ hook_event_name: 'UserPromptSubmit', prompt: 'hi' }, { state: 'working', source: 'hook', detail: null }],
    [{ hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: 'ls' } }, { state: 'working', detail: null }],
    [{ hook_event_name: 'PermissionRequest', tool_name: 'Bash', tool_input: { command: 'rm -rf build', description: 'Clean' } }, { state: 'waiting_permission', detail: 'Bash: rm -rf build' }],
    [{ hook_event_name: 'PermissionRequest', tool_name: 'Edit', tool_input: { file_path: '/w/a.ts' } }, { state: 'waiting_permission', detail: 'Edit: /w/a.ts' }],
    [{ hook_event_name: 'PreToolUse', tool_name: 'AskUserQuestion', tool_input: { questions: [{ question: 'Which  branch?\n' }] } }, { state: 'waiting_input', detail: 'Which branch?' }],
    [{ hook_event_name: 'Notification', notification_type: 'permission_prompt', message: 'Claude needs your permission to use Bash' }, { state: 'waiting_permission', keepsDetail: true }],
    [{ hook_event_name: 'Notification', notification_type: 'idle_prompt', message: 'Claude is waiting for your input' }, { state: 'waiting_input', detail: 'Claude is waiting for your input' }],
    [{ hook_event_name: 'Notification', notification_type: 'elicitation_dialog', message: 'Pick one' }, { state: 'waiting_input', detail: 'Pick one' }],
    [{ hook_event_name: 'PostToolUse', tool_name: 'Bash', tool_response: { stdout: 'x' } }, { state: 'working' }],
    [{ hook_event_name: 'Stop', stop_hook_active: false, last_assistant_message: 'Done.' }, { state: 'idle', detail: null }],
    [{ hook_event_name: 'StopFailure', error: 'server_error', error_details: 'overloaded' }, { state: 'error', detail: 'server_error: overloaded' }],
  ]
  for (const [payload, want] of cases) t.match(claudeHookSignal({ ...base, ...payload }), want, String(payload.hook_event_name))
  for (const payload of [{ hook_event_name: 'SessionStart' }, { hook_event_name: 'Notification', notification_type: 'auth_success' }, { hook_event_name: 42 }, {}]) {
    t.equal(claudeHookSignal(payload), null, `no change for ${JSON.stringify(payload)}`)
  }
  t.equal(toolDetail('Bash', { command: 'x'.repeat(2000) })!.length, MAX_ACTIVITY_DETAIL, 'a detail is bounded')
  t.equal(toolDetail(undefined, {}), null)
})

t.test('headless Claude stream-json and Codex events', async t => {
  t.match(claudeStreamSignal({ type: 'system', subtype: 'session_state_changed', state: 'running' }), { state: 'working', source: 'stream' })
  t.match(claudeStreamSignal({ type: 'system', subtype: 'session_state_changed', state: 'requires_action' }), { state: 'waiting_permission' })
  t.match(claudeStreamSignal({ type: 'system', subtype: 'session_state_changed', state: 'idle' }), { state: 'idle' })
  t.match(claudeStreamSignal({ type: 'result', subtype: 'success', is_error: false }), { state: 'idle' })
  t.match(claudeStreamSignal({ type: 'result', subtype: 'error_max_turns', is_error: true }), { state: 'error', detail: 'error_max_turns' })
  t.equal(claudeStreamSignal({ type: 'assistant', message: {} }), null)
  t.match(codexStreamSignal({ type: 'turn.started' }), { state: 'working', source: 'stream' })
  t.match(codexStreamSignal({ type: 'turn.completed', usage: {} }), { state: 'idle' })
  t.match(codexStreamSignal({ type: 'turn.failed', error: { message: 'stream disconnected' } }), { state: 'error', detail: 'stream disconnected' })
  t.equal(codexStreamSignal({ type: 'item.completed' }), null)
  t.match(codexNotifySignal({ type: 'agent-turn-complete', 'thread-id': 'x' }), { state: 'idle', source: 'hook' })
  t.equal(codexNotifySignal({ type: 'something-else' }), null)
})

t.test('what is a change', async t => {
  const since = new Date(0)
  t.match(nextActivity(UNKNOWN_ACTIVITY, { state: 'working', source: 'hook', detail: null }, since), { state: 'working', source: 'hook', since })
  const working = nextActivity(UNKNOWN_ACTIVITY, { state: 'working', source: 'hook', detail: null }, since)!
  t.equal(nextActivity(working, { state: 'working', source: 'stream', detail: null }, since), null, 'the same state from another source is no change')
  t.ok(nextActivity(working, { state: 'working', source: 'hook', detail: 'other' }, since), 'a new detail is')
  t.equal(nextActivity({ ...working, state: 'waiting_permission' }, { state: 'waiting_permission', source: 'hook', detail: 'generic', keepsDetail: true }, since), null)
  t.ok(nextActivity(working, { state: 'waiting_permission', source: 'hook', detail: 'generic', keepsDetail: true }, since), 'keepsDetail only keeps, never blocks a change of state')
})

t.test('hooks are injected for interactive runs only, with the secret out of argv', async t => {
  const claude = adapterFor('claude')
  const interactive = claude.invocation(agentSpec({ kind: 'claude', activityHook: { url: 'http://127.0.0.1:1/v1/runners/r/hooks/claude' } }))
  const settings = interactive.argv.find(a => a.startsWith('--settings='))
  t.ok(settings, 'a --settings layer, the user\'s own files untouched')
  t.same(JSON.parse(settings!.slice('--settings='.length)), claudeHookSettings('http://127.0.0.1:1/v1/runners/r/hooks/claude'))
  const handler = claudeHookSettings('http://h').hooks.PermissionRequest![0]!.hooks[0]!
  t.match(handler, { type: 'http', headers: { Authorization: 'Bearer $STRATAVORE_HOOK_TOKEN' }, allowedEnvVars: ['STRATAVORE_HOOK_TOKEN'], timeout: 5 })
  const headless = claude.invocation(agentSpec({ kind: 'claude', prompt: 'hi', activityHook: { url: 'http://h' } }))
  t.notOk(headless.argv.some(a => a.startsWith('--settings')), 'headless runs read the stream instead')
  t.equal(headless.env.CLAUDE_CODE_EMIT_SESSION_STATE_EVENTS, '1')
  t.equal(claude.hookFlavour?.(agentSpec({ kind: 'claude' })), 'claude')
  t.equal(claude.hookFlavour?.(agentSpec({ kind: 'claude', prompt: 'x' })), null)
  const codex = adapterFor('codex').invocation(agentSpec({ kind: 'codex', activityHook: { url: 'http://h' } }))
  const notify = codex.argv[codex.argv.indexOf('-c') + 1]!
  t.match(notify, /^notify=\[/, 'Codex runs a notify program after each turn')
  t.notMatch(notify, /STRATAVORE_HOOK_TOKEN=|Bearer [A-Za-z0-9]/, 'it reads the secret from its environment')
})
