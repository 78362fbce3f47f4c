// Usage parsers on recorded lines, edge cases included, and the Codex rollout arithmetic.
// Provenance of each fixture (agent-clis.md): Codex token_count — recorded from 0.169 against the
// mock (and seen again by codex.test.ts); OpenCode step_finish — recorded from 1.18.33 against
// the mock (§5; seen again by supervisor-opencode.test.ts); Gemini stream-json — recorded from
// 0.61.0 against test/fixtures/mock-gemini.ts (seen again by supervisor-gemini.test.ts); Aider
// analytics — NOT recorded, built from aider/analytics.py and base_coder.py (§4), unproven
// against the real CLI (it cannot be installed here).
import t from 'tap'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { adapterFor } from '../../../src/adapters/agents/index.js'
import { analyticsLogOf } from '../../../src/adapters/agents/aider.js'
import { createGeminiChatUsage, geminiChatFiles } from '../../../src/adapters/agents/gemini-chat.js'
import { parseLines } from '../../../src/adapters/agents/jsonl-tail.js'
import { createRolloutUsage, discoverRollout, findRollout } from '../../../src/adapters/agents/codex-rollout.js'
import { agentSpec, tempDir } from '../../helpers/agent-clis.js'

const tokenCount = (timestamp: string, total: Record<string, number>, last: Record<string, number> = total) =>
  ({ timestamp, ordinal: 12, type: 'event_msg', payload: { type: 'token_count', info: { total_token_usage: { cache_write_input_tokens: 0, ...total }, last_token_usage: last, model_context_window: 258400 }, rate_limits: {} } })

t.test('codex rollout: this process\'s usage is the last total minus the total before it started', async t => {
  const since = Date.parse('2026-11-25T11:00:00.000Z')
  const usage = createRolloutUsage(since)
  t.equal(usage.total(), null, 'no token_count yet')
  usage.add(tokenCount('2026-11-25T10:59:00.000Z', { input_tokens: 2000, cached_input_tokens: 1500, output_tokens: 30, reasoning_output_tokens: 10 }))
  t.equal(usage.total(), null, 'only an earlier run so far')
  usage.add({ timestamp: '2026-11-25T11:00:01.000Z', type: 'event_msg', payload: { type: 'token_count', info: null, rate_limits: {} } })
  usage.add({ type: 'response_item', payload: { type: 'message' } })
  usage.add(tokenCount('2026-11-25T11:00:02.000Z', { input_tokens: 4000, cached_input_tokens: 3000, output_tokens: 60, reasoning_output_tokens: 20 }))
  usage.add(tokenCount('2026-11-25T11:00:03.000Z', { input_tokens: 4000, cached_input_tokens: 3000, output_tokens: 60, reasoning_output_tokens: 20 }))
  t.same(usage.total(), { inputTokens: 500, outputTokens: 30, cacheReadTokens: 1500, cacheCreationTokens: 0 },
    'one turn of 2000 in (1500 cached), 30 out; a repeated token_count does not double count')
})

t.test('codex rollout files: found by thread id, discovered by cwd for interactive runs', async t => {
  const home = tempDir(t, 'stv-codex-')
  const id = '01a21266-a69e-76f3-966a-d80aa8e754e5'
  const day = join(home, 'sessions', '2026', '11', '25')
  mkdirSync(day, { recursive: true })
  const path = join(day, `rollout-2026-11-25T11-10-47-${id}.jsonl`)
  writeFileSync(path, `${JSON.stringify({ timestamp: '2026-11-25T11:10:47.000Z', type: 'session_meta', payload: { id, cwd: '/srv/app' } })}\n`)
  writeFileSync(join(day, 'not-a-rollout.jsonl'), '')
  t.equal(findRollout(home, id), path)
  t.equal(findRollout(home, '01a21266-0000-7000-8000-000000000000'), null)
  t.same(discoverRollout(home, '/srv/app', 0), [path, id])
  t.equal(discoverRollout(home, '/elsewhere', 0), null)
  t.equal(discoverRollout(home, '/srv/app', Date.now() + 60_000), null, 'not written since')
  t.equal(findRollout(join(home, 'missing'), id), null, 'no sessions dir is fine')
})

t.test('gemini stream-json (recorded from 0.61.0 against the mock)', async t => {
  const a = adapterFor('gemini')
  const spec = agentSpec({ kind: 'gemini', prompt: 'hi' })
  const obs = a.observe(spec, a.invocation(spec))
  // The mock billed promptTokenCount 1200 (1000 cached), candidatesTokenCount 30, thoughtsTokenCount 5.
  for (const line of [
    '{"type":"init","timestamp":"2026-12-07T19:27:55.637Z","session_id":"11111111-2222-4333-8444-555555555555","model":"gemini-2.5-flash"}',
    '{"type":"message","timestamp":"2026-12-07T19:27:55.661Z","role":"user","content":"say hi"}',
    '{"type":"message","timestamp":"2026-12-07T19:27:55.896Z","role":"assistant","content":"Hello from mock Gemini.","delta":true}',
    'garbage',
    '{"type":"result","timestamp":"2026-12-07T19:27:56.151Z","status":"success","stats":{"total_tokens":1235,"input_tokens":1200,"output_tokens":30,"cached":1000,"input":200,"duration_ms":514,"tool_calls":0,"models":{"gemini-2.5-flash":{"total_tokens":1235,"input_tokens":1200,"output_tokens":30,"cached":1000,"input":200}}}}',
  ]) obs.onStdoutLine(line)
  t.equal(obs.sessionId(), '11111111-2222-4333-8444-555555555555')
  t.same(obs.usage(), { inputTokens: 200, outputTokens: 35, cacheReadTokens: 1000, cacheCreationTokens: 0 }, 'thoughts join output')
  obs.onStdoutLine('{"type":"result","stats":{"input_tokens":100,"cached":40,"output_tokens":2}}')
  t.same(obs.usage(), { inputTokens: 260, outputTokens: 37, cacheReadTokens: 1040, cacheCreationTokens: 0 }, 'without `input` or a total: input_tokens minus cached, no thoughts')
})

t.test('opencode --format json', async t => {
  const a = adapterFor('opencode')
  const spec = agentSpec({ kind: 'opencode', prompt: 'hi' })
  const obs = a.observe(spec, a.invocation(spec))
  const recorded = '{"type":"step_finish","timestamp":1795605145824,"sessionID":"ses_ded97e6a1ffebDdwdKgH3D9qRv","part":{"type":"step-finish","reason":"stop","tokens":{"total":4519,"input":12,"output":7,"reasoning":0,"cache":{"write":3000,"read":1500}},"cost":0.011841,"messageID":"msg_x","sessionID":"ses_ded97e6a1ffebDdwdKgH3D9qRv"}}'
  obs.onStdoutLine('{"type":"step_start","sessionID":"ses_ded97e6a1ffebDdwdKgH3D9qRv","part":{"type":"step-start"}}')
  obs.onStdoutLine('{"type":"text","sessionID":"ses_ded97e6a1ffebDdwdKgH3D9qRv","part":{"type":"text","text":"Hello"}}')
  obs.onStdoutLine(recorded)
  obs.onStdoutLine('{"type":"step_finish"')
  t.equal(obs.sessionId(), 'ses_ded97e6a1ffebDdwdKgH3D9qRv')
  t.same(obs.usage(), { inputTokens: 12, outputTokens: 7, cacheReadTokens: 1500, cacheCreationTokens: 3000 })
  const withId = JSON.parse(recorded) as { part: Record<string, unknown> }
  withId.part.id = 'prt_1'
  obs.onStdoutLine(JSON.stringify(withId))
  obs.onStdoutLine(JSON.stringify(withId))
  t.same(obs.usage().inputTokens, 24, 'a step printed twice with the same part id counts once')
})

t.test('aider analytics log', async t => {
  const dir = tempDir(t, 'stv-aider-')
  const a = adapterFor('aider')
  const spec = agentSpec({ kind: 'aider', prompt: 'hi', env: { TMPDIR: dir } })
  const inv = a.invocation(spec)
  const obs = a.observe(spec, inv)
  await obs.poll()
  t.same(obs.usage().inputTokens, 0, 'no log yet is fine')
  const log = analyticsLogOf(inv.argv)!
  writeFileSync(log, [
    '{"event":"launched","properties":{},"user_id":"u","time":1795605145}',
    '{"event":"message_send","properties":{"main_model":"claude-sonnet-4-5","edit_format":"diff","prompt_tokens":2300,"completion_tokens":150,"total_tokens":2450,"cost":0.01,"total_cost":0.05},"user_id":"u","time":1795605146}',
    '{"event":"message_send","properties":{"prompt_tokens":100',
  ].join('\n'))
  await obs.poll()
  t.same(obs.usage(), { inputTokens: 2300, outputTokens: 150, cacheReadTokens: 0, cacheCreationTokens: 0 })
  t.equal(obs.transcriptPath(), log)
  obs.close()
})

t.test('gemini chat recording (recorded from 0.61.0 against the mock): replies counted once, $set rewrites never', async t => {
  const home = tempDir(t, 'stv-gemini-chat-')
  const id = '11111111-2222-4333-8444-555555555555'
  const chats = join(home, '.gemini', 'tmp', 'proj', 'chats')
  mkdirSync(chats, { recursive: true })
  const reply = '{"id":"295adcbd-242c-4788-8102-1cee69de1537","timestamp":"2026-12-07T19:27:56.118Z","type":"gemini","content":"Hello from mock Gemini.","thoughts":[],"tokens":{"input":1200,"output":30,"cached":1000,"thoughts":5,"tool":0,"total":1235},"model":"gemini-2.5-flash"}'
  writeFileSync(join(chats, 'session-2026-12-07T19-27-11111111.jsonl'), [
    `{"sessionId":"${id}","projectHash":"dd56","startTime":"2026-12-07T19:27:55.616Z","lastUpdated":"2026-12-07T19:27:55.616Z","kind":"main"}`,
    '{"id":"5f0b0bda-a825-497a-a4b0-abeaa21247b2","timestamp":"2026-12-07T19:27:55.701Z","type":"user","content":[{"text":"say hi"}]}',
    reply,
    reply,
    `{"$set":{"messages":[${reply}]}}`,
    '{"$set":{"lastUpdated":"2026-12-07T19:27:56.118Z"}}',
  ].join('\n') + '\n')
  writeFileSync(join(chats, 'session-2026-12-07T19-27-99999999.jsonl'), reply + '\n')
  const files = geminiChatFiles(join(home, '.gemini'), id)
  t.same(files, [join(chats, 'session-2026-12-07T19-27-11111111.jsonl')], 'only this session\'s files')
  const usage = createGeminiChatUsage()
  for (const record of parseLines(readFileSync(files[0]!, 'utf8'))) usage.add(record)
  t.same(usage.total(), { inputTokens: 200, outputTokens: 35, cacheReadTokens: 1000, cacheCreationTokens: 0 })
  t.same(geminiChatFiles(join(home, 'missing'), id), [], 'no Gemini home is fine')
})
