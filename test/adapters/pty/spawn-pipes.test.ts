import t from 'tap'
import { startFakeAgent } from './fake-agent.js'

t.test('a headless runner', async t => {
  t.test('gives stdout as lines, across split writes and with an unterminated last line', async t => {
    const agent = startFakeAgent(t, ['--usage-lines', '--tail', '{"type":"end"}', '--exit-code', '0'], { terminal: false })
    const lines: string[] = []
    agent.onStdoutLine(line => lines.push(line))
    t.same(await agent.exited, { code: 0, signal: null })
    t.same(lines, [
      '{"type":"usage","input_tokens":10}',
      '{"type":"usage","input_tokens":20}',
      '{"type":"result","output_tokens":5}',
      'READY',
      '{"type":"end"}',
    ])
    t.equal(agent.terminal, false)
  })

  t.test('puts stderr in the output stream but not in the lines', async t => {
    const agent = startFakeAgent(t, ['--stderr', 'something went wrong', '--exit-code', '0'], { terminal: false })
    const lines: string[] = []
    agent.onStdoutLine(line => lines.push(line))
    await agent.exited
    t.match(agent.scrollback().toString(), /something went wrong\n/)
    t.notOk(lines.some(line => line.includes('something went wrong')))
  })

  t.test('passes the exit code and signal on', async t => {
    const failing = startFakeAgent(t, ['--exit-code', '7'], { terminal: false })
    t.same(await failing.exited, { code: 7, signal: null })
    // Not SIGABRT: tap instruments child_process children (NODE_OPTIONS) with a handler that
    // turns a SIGABRT raised from a timer into exit 0; a real agent has no such handler.
    const crashing = startFakeAgent(t, ['--kill-self', 'SIGSEGV'], { terminal: false })
    t.same(await crashing.exited, { code: null, signal: 'SIGSEGV' })
  })

  t.test('refuses to be typed into and ignores resizes', async t => {
    const agent = startFakeAgent(t, ['--exit-code', '0', '--after-ms', '5000'], { terminal: false })
    t.throws(() => agent.write('hello'), /headless/)
    agent.resize(100, 30)
    t.same(agent.size(), { cols: 0, rows: 0 })
  })

  t.test('a listener that throws does not stop the others', async t => {
    const agent = startFakeAgent(t, ['--exit-code', '0'], { terminal: false })
    const warnings: string[] = []
    const onWarning = (warning: Error) => warnings.push(warning.message)
    process.on('warning', onWarning)
    t.teardown(() => { process.off('warning', onWarning) })
    agent.onStdoutLine(() => { throw new Error('broken viewer') })
    const lines: string[] = []
    agent.onStdoutLine(line => lines.push(line))
    await agent.exited
    t.same(lines, ['READY'])
    await new Promise(resolve => setImmediate(resolve))
    t.match(warnings.join('\n'), /broken viewer/)
  })
})
