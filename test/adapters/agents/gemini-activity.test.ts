// Gemini CLI 0.61.0's activity signals, from lines and hook payloads recorded from the real CLI
// against the mock Gemini API: stream-json events for headless runs, and the hook layer for
// interactive ones (its command really posting to a hook channel, the user's hooks kept).
import t from 'tap'
import { spawn } from 'node:child_process'
import { geminiHookSignal, geminiStreamSignal } from '../../../src/adapters/agents/activity-signals.js'
import { geminiHookEntries, secureForGemini, withGeminiHooks } from '../../../src/adapters/agents/gemini-hooks.js'
import { HOOK_TOKEN_VARIABLE, HOOK_URL_VARIABLE } from '../../../src/adapters/agents/hook-variables.js'
import { startHookServer } from '../../../src/adapters/supervisor/hook-server.js'
import type { ActivitySignal } from '../../../src/core/runners/activity.js'

// `gemini --yolo -o stream-json -p 'run the probe'`, the mock calling run_shell_command once.
const TOOL_RUN = [
  '{"type":"init","timestamp":"2026-12-07T23:24:38.605Z","session_id":"c048a939-c862-4c5b-ba6f-e9ec0381e0e9","model":"gemini-2.5-flash"}',
  '{"type":"message","timestamp":"2026-12-07T23:24:38.608Z","role":"user","content":"run the probe"}',
  '{"type":"tool_use","timestamp":"2026-12-07T23:24:38.838Z","tool_name":"run_shell_command","tool_id":"run_shell_command__run_shell_command_1796685878758_0","parameters":{"command":"echo hi > probe.txt","description":"probe"}}',
  '{"type":"tool_result","timestamp":"2026-12-07T23:24:39.288Z","tool_id":"run_shell_command__run_shell_command_1796685878758_0","status":"success","output":""}',
  '{"type":"message","timestamp":"2026-12-07T23:24:39.318Z","role":"assistant","content":"Hello from mock Gemini.","delta":true}',
  '{"type":"result","timestamp":"2026-12-07T23:24:39.382Z","status":"success","stats":{"total_tokens":2470,"input_tokens":2400,"output_tokens":60,"cached":2000,"input":400,"duration_ms":777,"tool_calls":1,"models":{"gemini-2.5-flash":{"total_tokens":2470,"input_tokens":2400,"output_tokens":60,"cached":2000,"input":400}}}}',
]
// The same against an API answering 400 (exit code 1).
const FAILED = '{"type":"result","timestamp":"2026-12-07T23:24:44.582Z","status":"error","error":{"type":"unknown","message":"[API Error: {\\"error\\":{\\"code\\":400,\\"message\\":\\"API key not valid. Please pass a valid API key.\\",\\"status\\":\\"INVALID_ARGUMENT\\"}}]"},"stats":{"total_tokens":0,"input_tokens":0,"output_tokens":0,"cached":0,"input":0,"duration_ms":0,"tool_calls":0,"models":{}}}'

const base = { session_id: 'c048a939-c862-4c5b-ba6f-e9ec0381e0e9', transcript_path: '/h/.gemini/tmp/p/chats/session-2026-12-07T23-24-c048a939.jsonl', cwd: '/tmp/p', timestamp: '2026-12-07T23:24:38.610Z' }

t.test('headless stream-json events', async t => {
  const states = TOOL_RUN.map(line => geminiStreamSignal(JSON.parse(line)))
  t.same(states.map(s => s?.state), ['working', 'working', 'working', 'working', 'working', 'idle'])
  t.ok(states.every(s => s?.source === 'stream'))
  t.same(geminiStreamSignal(JSON.parse(FAILED)), { state: 'error', source: 'stream', detail: '[API Error: {"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}]' })
  t.match(geminiStreamSignal({ type: 'result', status: 'error' }), { state: 'error', detail: 'error' }, 'a failure without a message still says so')
  t.match(geminiStreamSignal({ type: 'error', severity: 'error', message: 'Loop detected' }), { state: 'error', detail: 'Loop detected' })
  t.equal(geminiStreamSignal({ type: 'error', severity: 'warning', message: 'retrying' }), null, 'a warning changes nothing')
  t.equal(geminiStreamSignal({ type: 'thought' }), null)
  t.equal(geminiStreamSignal({}), null)
})

t.test('hook payloads', async t => {
  // As recorded from 0.61.0 (the ToolPermission exec one in the interactive worker test).
  const cases: Array<[Record<string, unknown>, unknown]> = [
    [{ hook_event_name: 'BeforeAgent', prompt: 'run the probe' }, { state: 'working', source: 'hook', detail: null }],
    [{ hook_event_name: 'BeforeTool', tool_name: 'run_shell_command', tool_input: { command: 'echo hi > probe.txt', description: 'probe' } }, { state: 'working' }],
    [{ hook_event_name: 'AfterTool', tool_name: 'run_shell_command', tool_input: { command: 'echo hi > probe.txt' }, tool_response: { llmContent: 'Output: (empty)', returnDisplay: '' } }, { state: 'working' }],
    [{ hook_event_name: 'Notification', notification_type: 'ToolPermission', message: 'Tool Shell requires execution', details: { type: 'exec', title: 'Confirm Shell Command', command: 'touch probe.txt', rootCommand: 'touch' } }, { state: 'waiting_permission', detail: 'Shell: touch probe.txt' }],
    [{ hook_event_name: 'Notification', notification_type: 'ToolPermission', message: 'Tool WriteFile requires editing', details: { type: 'edit', title: 'Confirm Edit', fileName: 'a.ts', filePath: '/w/a.ts' } }, { state: 'waiting_permission', detail: 'Edit: /w/a.ts' }],
    [{ hook_event_name: 'Notification', notification_type: 'ToolPermission', message: 'Tool Confirm MCP requires MCP', details: { type: 'mcp', title: 'Confirm MCP', serverName: 'gh', toolName: 'create_issue' } }, { state: 'waiting_permission', detail: 'MCP: gh/create_issue' }],
    [{ hook_event_name: 'Notification', notification_type: 'ToolPermission', message: 'Tool requires confirmation' }, { state: 'waiting_permission', detail: 'Tool requires confirmation' }],
    [{ hook_event_name: 'AfterAgent', prompt: 'run the probe', prompt_response: 'Hello from mock Gemini.', stop_hook_active: false }, { state: 'idle', detail: null }],
  ]
  for (const [payload, want] of cases) t.match(geminiHookSignal({ ...base, ...payload }), want, String(payload.hook_event_name))
  for (const payload of [{ hook_event_name: 'SessionStart', source: 'startup' }, { hook_event_name: 'SessionEnd', reason: 'exit' }, { hook_event_name: 'Notification', notification_type: 'Other' }, {}]) {
    t.equal(geminiHookSignal({ ...base, ...payload }), null, `no change for ${JSON.stringify(payload)}`)
  }
})

t.test('the hook layer keeps what was there and adds one command per event', async t => {
  const user = { ui: { theme: 'X' }, hooks: { BeforeTool: [{ matcher: 'write_file', hooks: [{ type: 'command', command: 'mine' }] }] } }
  const merged = withGeminiHooks(user) as { ui: unknown, hooks: Record<string, Array<{ matcher: string, hooks: unknown[] }>> }
  t.same(merged.ui, { theme: 'X' }, 'other keys untouched')
  t.equal(merged.hooks.BeforeTool!.length, 2)
  t.same(merged.hooks.BeforeTool![0], user.hooks.BeforeTool[0], 'the existing hook first, unchanged')
  t.same(Object.keys(merged.hooks).sort(), ['AfterAgent', 'AfterTool', 'BeforeAgent', 'BeforeTool', 'Notification'])
  t.equal(secureForGemini('/tmp/anything'), false, 'a world-writable /tmp is no place for it')
})

// Async: the hook server answering it lives in this process.
const runHook = (command: string, input: string, env: Record<string, string>) => new Promise<{ status: number | null, stdout: string }>(resolve => {
  const child = spawn('bash', ['-c', command], { env: { PATH: process.env.PATH!, ...env } })
  let stdout = ''
  child.stdout.on('data', d => { stdout += d })
  child.on('close', status => resolve({ status, stdout }))
  child.stdin.end(input)
})

t.test('the hook command posts the payload to the runner channel and prints nothing', async t => {
  const server = await startHookServer({ log: { debug () {}, info () {}, warn () {}, error () {} } })
  t.teardown(() => server.close())
  const got: ActivitySignal[] = []
  const runner = '01900000-0000-7000-8000-00000000000a'
  const channel = server.open(runner, 'gemini', s => got.push(s))
  const command = (geminiHookEntries().Notification![0]!.hooks[0] as { command: string }).command
  const payload = { ...base, hook_event_name: 'Notification', notification_type: 'ToolPermission', message: "Tool Shell requires execution", details: { type: 'exec', title: 'Confirm Shell Command', command: "echo 'it''s' $HOME" } }
  // As Gemini runs it: `bash -c <command>`, the payload on stdin.
  const run = await runHook(command, JSON.stringify(payload), { [HOOK_URL_VARIABLE]: channel.url, [HOOK_TOKEN_VARIABLE]: channel.token })
  t.equal(run.status, 0)
  t.equal(run.stdout, '', 'no decision for Gemini to read')
  t.same(got, [{ state: 'waiting_permission', source: 'hook', detail: "Shell: echo 'it''s' $HOME" }])
  const unreachable = await runHook(command, '{}', { [HOOK_URL_VARIABLE]: 'http://127.0.0.1:9/x', [HOOK_TOKEN_VARIABLE]: 'x' })
  t.equal(unreachable.status, 0, 'a channel that is gone never fails the agent')
})
