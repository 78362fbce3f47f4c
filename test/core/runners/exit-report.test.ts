// A runner's end in one line, and when two failures at start are the same failure.
import t from 'tap'
import { exitReason, failureFingerprint, keptOutput, lastWords, RUNNER_OUTPUT_BYTES } from '../../../src/core/runners/exit-report.js'

const out = (text: string) => Buffer.from(text)

t.test('lastWords: the last line with words, through JSON when the agent speaks JSON', async t => {
  t.equal(lastWords(out('starting\n\x1b[31merror: unknown option --bogus\x1b[0m\n\n  \n')), 'error: unknown option --bogus')
  // Claude Code's stream-json when it is not logged in (2.1.332, recorded).
  const claude = [
    '{"type":"system","subtype":"init","session_id":"c6de8842-97da-4eb6-84c3-0e4497223804"}',
    '{"type":"assistant","message":{"content":[{"type":"text","text":"Not logged in · Please run /login"}]},"error":"authentication_failed"}',
    '{"type":"result","subtype":"success","is_error":true,"result":"Not logged in · Please run /login","usage":{"input_tokens":0}}',
  ].join('\n')
  t.equal(lastWords(out(claude)), 'Not logged in · Please run /login')
  t.equal(lastWords(out('{"type":"turn.failed","error":{"message":"stream disconnected"}}\n{"type":"usage","n":1}\n')), 'stream disconnected', 'Codex, past a line with nothing to say')
  t.equal(lastWords(out('{"type":"item.completed","item":{"type":"agent_message","text":"done"}}')), 'done')
  t.equal(lastWords(out('{not json but text')), '{not json but text')
  t.equal(lastWords(out('x'.repeat(500)))?.length, 200, 'shortened to a line')
  t.equal(lastWords(out('\x1b[2J\n---\n')), null, 'nothing to say')
})

t.test('exitReason and keptOutput', async t => {
  t.equal(exitReason({ code: 1, signal: null }, out('Not logged in'), { atStart: true }), 'exited with code 1 at start: Not logged in')
  t.equal(exitReason({ code: null, signal: 'SIGKILL' }, out(''), { atStart: false }), 'killed by SIGKILL')
  const big = Buffer.alloc(RUNNER_OUTPUT_BYTES + 10, 'a')
  big.write('END', big.length - 3)
  const kept = keptOutput(big)
  t.equal(kept.length, RUNNER_OUTPUT_BYTES, 'bounded')
  t.equal(kept.subarray(-3).toString(), 'END', 'the tail is kept')
})

t.test('failureFingerprint: what differs between lives does not count, what fails does', async t => {
  const a = failureFingerprint({ code: 1, signal: null }, out('\x1b[31mrun 1f0e8d5c-0000-4000-8000-000000000001 pid 123 failed in 0.2s\x1b[0m'))
  const b = failureFingerprint({ code: 1, signal: null }, out('run 7a1b2c3d-1111-4000-8000-000000000002 pid 456 failed in 0.3s'))
  t.equal(a, b, 'ids, numbers and escapes differ: the same failure')
  t.not(a, failureFingerprint({ code: 2, signal: null }, out('run x pid 1 failed in 0.2s')), 'another exit code')
  t.not(failureFingerprint({ code: 1, signal: null }, out('Not logged in')), failureFingerprint({ code: 1, signal: null }, out('unknown option')), 'another message')
})
