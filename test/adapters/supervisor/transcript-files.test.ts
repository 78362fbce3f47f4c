// Writing an archived transcript back before a resume (never outside the agent's home, never
// over a local file that holds more, never half a file), and reading one for the archive with
// the conversation facts its lines hold, across slices that split a line.
import t from 'tap'
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createClaudeTranscriptFacts } from '../../../src/adapters/agents/claude-transcript.js'
import { createCodexTranscriptFacts } from '../../../src/adapters/agents/codex-rollout.js'
import { createTranscriptReader, restorePath, restoreTranscript } from '../../../src/adapters/supervisor/transcript-files.js'
import { tempDir } from '../../helpers/agent-clis.js'

const archive = (text: string, bytes = Buffer.byteLength(text)) => ({
  name: 'projects/-work/s1.jsonl', bytes, async * read () { yield Buffer.from(text.slice(0, 5)); yield Buffer.from(text.slice(5)) },
})

t.test('restore: under the home only, a larger local file kept, a short archive leaves nothing', async t => {
  const home = tempDir(t, 'stv-restore-')
  for (const name of ['../escape.jsonl', '/etc/passwd', 'projects/../../x', '.', 'a\u0000b']) {
    t.throws(() => restorePath(home, name), /not a path under the agent's home/, JSON.stringify(name))
  }
  t.equal(restorePath(home, 'projects/./-work/s1.jsonl'), join(home, 'projects/-work/s1.jsonl'))

  t.equal(await restoreTranscript(home, archive('{"a":1}\n{"b":2}\n')), true, 'written when missing')
  const file = join(home, 'projects/-work/s1.jsonl')
  t.equal(readFileSync(file, 'utf8'), '{"a":1}\n{"b":2}\n')
  writeFileSync(file, '{"a":1}\n{"b":2}\n{"c":3}\n')
  t.equal(await restoreTranscript(home, archive('{"a":1}\n{"b":2}\n')), false, 'this host ran it last: its longer file is kept')
  t.equal(readFileSync(file, 'utf8'), '{"a":1}\n{"b":2}\n{"c":3}\n')

  const other = join(home, 'other')
  mkdirSync(other)
  await t.rejects(restoreTranscript(other, archive('{"a":1}\n', 99)), /holds 8 bytes, not the 99 recorded/)
  t.same(readdirSync(join(other, 'projects/-work')), [], 'no file, not even the temporary one')
  t.notOk(existsSync(join(other, 'projects/-work/s1.jsonl')))
})

t.test('read: slices with facts, a line split between slices counted once', async t => {
  const home = tempDir(t, 'stv-read-')
  const path = join(home, 'projects', 'x.jsonl')
  mkdirSync(join(home, 'projects'))
  const lines = [
    { type: 'user', message: { content: 'Fix the build' } },
    { type: 'assistant', message: { id: 'm1', content: [{ type: 'text', text: 'a' }] } },
    { type: 'assistant', message: { id: 'm1', content: [{ type: 'tool_use', name: 'Bash' }] } },
    { type: 'user', message: { content: [{ type: 'tool_result', content: 'ok' }] } },
    { type: 'user', isSidechain: true, message: { content: 'subagent prompt' } },
    { type: 'user', isMeta: true, message: { content: 'Caveat: meta' } },
    { type: 'ai-title', aiTitle: 'Fixing the   build' },
  ].map(l => JSON.stringify(l)).join('\n') + '\n'
  writeFileSync(path, lines)
  const read = createTranscriptReader(home, () => path, createClaudeTranscriptFacts())
  const first = await read(0, 30)
  const rest = await read(30, 1 << 20)
  if (first === null || first === 'shrank' || rest === null || rest === 'shrank') throw new Error('expected slices')
  t.equal(Buffer.concat([first.data, rest.data]).toString(), lines)
  t.equal(first.name, 'projects/x.jsonl')
  t.same([first.messages + rest.messages, rest.summary, first.firstPrompt ?? rest.firstPrompt], [2, 'Fixing the build', 'Fix the build'],
    'one prompt, one reply of two blocks; tool results, sidechains and meta records are not messages')
  t.equal(await read(lines.length + 10, 10), 'shrank', 'a file shorter than what was read was rewritten')
  t.equal(await createTranscriptReader(home, () => join(home, 'missing.jsonl'), null)(0, 10), null)
  t.equal(await createTranscriptReader(null, () => path, null)(0, 10), null, 'no home: nothing to archive')

  const codex = createCodexTranscriptFacts()
  for (const record of [
    { type: 'response_item', payload: { type: 'message', role: 'user', content: [{ type: 'input_text', text: '<environment_context>' }] } },
    { type: 'event_msg', payload: { type: 'item_completed', item: { type: 'UserMessage', content: [{ type: 'text', text: 'codex prompt' }] } } },
    { type: 'event_msg', payload: { type: 'item_completed', item: { type: 'AgentMessage', content: [{ type: 'Text', text: 'reply' }] } } },
    { type: 'event_msg', payload: { type: 'user_message', message: 'older format' } },
  ]) codex.add(record)
  t.same(codex.take(), { messages: 3, summary: null, firstPrompt: 'codex prompt' })
  t.same(codex.take(), { messages: 0, summary: null, firstPrompt: null }, 'take empties it')
})
