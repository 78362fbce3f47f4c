// The Claude usage rule and transcript following, on hand-written transcripts built from the
// record recorded from 2.1.332 in agent-clis.md §1.5 (the real CLI is covered by claude.test.ts):
// dedupe on message.id + requestId, sidechain replays, subagent files, partial lines, garbage,
// and the byte baseline that keeps earlier runs out of a resumed run's usage.
import t from 'tap'
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { adapterFor } from '../../../src/adapters/agents/index.js'
import { createClaudeUsageLedger, encodeProjectDir } from '../../../src/adapters/agents/claude-transcript.js'
import { createJsonlTail } from '../../../src/adapters/agents/jsonl-tail.js'
import { agentSpec, tempDir } from '../../helpers/agent-clis.js'

// Recorded (2.1.332 against the mock), some fields removed; the test varies ids and usage.
const RECORDED = {"parentUuid":"0d859669-c6ce-4989-a6f0-b0c9716480bd","isSidechain":false,"type":"assistant","uuid":"4b950807-1ae5-40fb-a201-d933f70a3aad","timestamp":"2026-11-25T11:14:37.256Z","sessionId":"22222222-2222-4333-8444-555555555555","cwd":"/home/dev/proj/my_app.v2","version":"2.1.332","gitBranch":"master","requestId":"req_2483ab8ecccd4918a5c3286a","message":{"id":"msg_86dae543a927489288854830","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Let me run that."}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":3000,"cache_read_input_tokens":1500,"output_tokens":7,"cache_creation":{"ephemeral_1h_input_tokens":0,"ephemeral_5m_input_tokens":3000},"service_tier":"standard"}}}

const assistant = (messageId: string, requestId: string, extra: Record<string, unknown> = {}) =>
  ({ ...RECORDED, ...extra, requestId, message: { ...RECORDED.message, id: messageId } })
const line = (record: unknown) => `${JSON.stringify(record)}\n`
const ONE = { inputTokens: 12, outputTokens: 7, cacheReadTokens: 1500, cacheCreationTokens: 3000 }
const times = (n: number) => ({ inputTokens: 12 * n, outputTokens: 7 * n, cacheReadTokens: 1500 * n, cacheCreationTokens: 3000 * n })

t.test('ledger: dedupe, sidechain replays, garbage', async t => {
  const ledger = createClaudeUsageLedger()
  ledger.add(assistant('m1', 'r1'))
  ledger.add(assistant('m1', 'r1', { uuid: 'other-block' }))
  t.same(ledger.total(), ONE, 'two records of one response count once')
  ledger.add(assistant('m2', 'r2'))
  t.same(ledger.total(), times(2))
  ledger.add(assistant('m1', 'r9', { isSidechain: true }))
  t.same(ledger.total(), times(2), 'a sidechain replay of a main-chain message is not counted')
  ledger.add(assistant('m3', 'r3', { isSidechain: true }))
  t.same(ledger.total(), times(3), 'a sidechain message of its own counts')
  ledger.add(assistant('m3', 'r4'))
  t.same(ledger.total(), times(3), 'the main-chain copy replaces the sidechain one')
  for (const junk of [{ type: 'user', message: { usage: { input_tokens: 99 } } }, { type: 'assistant' }, { type: 'assistant', message: { id: 'x', usage: 'no' } },
    { type: 'cost-state', modelUsage: {} }, { ...RECORDED, requestId: 'r5', message: { id: 'm4', usage: { input_tokens: -5, output_tokens: 'lots' } } }]) {
    ledger.add(junk as Record<string, unknown>)
  }
  t.same(ledger.total(), times(3), 'user records, missing or hostile usage add nothing')
})

t.test('tail: partial last line, garbage, missing file, truncation', async t => {
  const dir = tempDir(t, 'stv-tail-')
  const path = join(dir, 'x.jsonl')
  const tail = createJsonlTail(path)
  t.same(await tail.read(), [], 'a missing file reads as nothing')
  writeFileSync(path, '{"a":1}\nnot json\n[1,2]\n{"b":')
  t.same(await tail.read(), [{ a: 1 }], 'garbage and non-objects skipped, partial line held')
  appendFileSync(path, '2}\n')
  t.same(await tail.read(), [{ b: 2 }], 'the partial line completes')
  t.same(await tail.read(), [], 'nothing new')
  writeFileSync(path, '{"c":3}\n')
  t.same(await tail.read(), [{ c: 3 }], 'a rewritten (shorter) file is read from the start')
})

t.test('observer: transcript, subagents and the baseline of a resumed session', async t => {
  const configDir = tempDir(t, 'stv-claude-cfg-')
  const cwd = '/home/dev/proj/my_app.v2'
  const projectDir = join(configDir, 'projects', encodeProjectDir(cwd))
  t.equal(encodeProjectDir(cwd), '-home-dev-proj-my-app-v2')
  mkdirSync(projectDir, { recursive: true })
  const id = '22222222-2222-4333-8444-555555555555'
  const file = join(projectDir, `${id}.jsonl`)
  writeFileSync(file, line(assistant('old', 'r0')))

  const spec = agentSpec({ kind: 'claude', cwd, conversationMode: 'resume', sessionId: id, env: { CLAUDE_CONFIG_DIR: configDir } })
  const adapter = adapterFor('claude')
  const inv = adapter.invocation(spec)
  const obs = adapter.observe(spec, inv)
  t.equal(obs.transcriptPath(), file)
  await obs.poll()
  t.same(obs.usage(), { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 }, 'records from before this process are not counted')

  const second = line(assistant('m1', 'r1'))
  appendFileSync(file, line(assistant('m1', 'r1')) + second.slice(0, 40))
  await obs.poll()
  t.same(obs.usage(), ONE, 'the complete record counted, the partial one waits')
  appendFileSync(file, second.slice(40) + 'garbage\n' + line({ type: 'future-record-type', x: 1 }))
  await obs.poll()
  t.same(obs.usage(), ONE, 'the completed duplicate is deduplicated; unknown lines ignored')

  const subagents = join(projectDir, id, 'subagents')
  mkdirSync(subagents, { recursive: true })
  writeFileSync(join(subagents, 'agent-a1.jsonl'), line(assistant('sub1', 'r7', { isSidechain: true })))
  writeFileSync(join(subagents, 'other.txt'), 'ignored')
  await obs.poll()
  t.same(obs.usage(), times(2), 'subagent transcripts are followed')

  obs.onStdoutLine('{"type":"system","subtype":"init","session_id":"33333333-2222-4333-8444-555555555555"}')
  obs.onStdoutLine('not json at all')
  t.equal(obs.sessionId(), '33333333-2222-4333-8444-555555555555', 'a forked id from stdout is adopted')
  writeFileSync(join(projectDir, '33333333-2222-4333-8444-555555555555.jsonl'), line(assistant('m9', 'r9')))
  await obs.poll()
  t.same(obs.usage(), times(3), 'the new file is followed and the old one still counts')
  obs.close()
})

t.test('observer: interactive continue discovers the transcript written after it started', async t => {
  const home = tempDir(t, 'stv-claude-home-')
  const cwd = '/srv/app'
  const projectDir = join(home, '.claude', 'projects', '-srv-app')
  mkdirSync(projectDir, { recursive: true })
  writeFileSync(join(projectDir, 'aaaaaaaa-0000-4000-8000-000000000000.jsonl'), line(assistant('old', 'r0')))
  writeFileSync(join(projectDir, 'bbbbbbbb-0000-4000-8000-000000000000.jsonl'), line(assistant('old2', 'r0')))
  const spec = agentSpec({ kind: 'claude', cwd, conversationMode: 'continue', env: { HOME: home } })
  const adapter = adapterFor('claude')
  const obs = adapter.observe(spec, adapter.invocation(spec))
  await obs.poll()
  t.equal(obs.sessionId(), null, 'nothing written yet: unknown')
  appendFileSync(join(projectDir, 'aaaaaaaa-0000-4000-8000-000000000000.jsonl'), line(assistant('new', 'r1')))
  await obs.poll()
  t.equal(obs.sessionId(), 'aaaaaaaa-0000-4000-8000-000000000000', 'HOME/.claude is the default config dir')
  t.same(obs.usage(), ONE, 'only the appended record')
})
