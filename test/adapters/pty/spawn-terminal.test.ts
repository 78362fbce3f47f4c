import t from 'tap'
import { SpawnError, spawnAgentProcess } from '../../../src/adapters/pty/spawn-agent.js'
import { startFakeAgent, waitForOutput } from './fake-agent.js'

t.test('a terminal runner', async t => {
  t.test('streams its output as Buffers and keeps it in the scrollback', async t => {
    const agent = startFakeAgent(t, ['--exit-code', '0'])
    const chunks: Buffer[] = []
    agent.onOutput(chunk => chunks.push(chunk))
    t.same(await agent.exited, { code: 0, signal: null })
    t.ok(chunks.every(chunk => Buffer.isBuffer(chunk)), 'every chunk is a Buffer')
    t.match(Buffer.concat(chunks).toString(), /READY\r\n/)
    t.match(agent.scrollback().toString(), /READY\r\n/)
    t.equal(agent.terminal, true)
  })

  t.test('receives what is written and the size it is given', async t => {
    const agent = startFakeAgent(t, ['--echo'], { cols: 90, rows: 30 })
    await waitForOutput(agent, /SIZE 90 30[\s\S]*READY/, 'the starting size and READY')
    t.same(agent.size(), { cols: 90, rows: 30 })
    agent.write('hello')
    await waitForOutput(agent, /ECHO hello/, 'the echo of what was written')
    agent.write(Buffer.from('bytes'))
    await waitForOutput(agent, /ECHO bytes/, 'the echo of a Buffer')
    agent.resize(132, 50)
    await waitForOutput(agent, /SIZE 132 50/, 'the new size after SIGWINCH')
    t.same(agent.size(), { cols: 132, rows: 50 })
  })

  t.test('delivers all output before exited resolves, even right after a burst', async t => {
    const agent = startFakeAgent(t, ['--flood', '2000000', '--exit-code', '0'])
    let total = 0
    agent.onOutput(chunk => { total += chunk.length })
    await agent.exited
    t.ok(total >= 2_000_000, `all ${total} bytes arrived`)
    t.match(agent.scrollback().toString().slice(-100), /FLOODED\r\nREADY\r\n$/, 'the last lines too')
  })

  t.test('passes the exit code on', async t => {
    const agent = startFakeAgent(t, ['--exit-code', '3'])
    t.same(await agent.exited, { code: 3, signal: null })
  })

  t.test('reports a death by signal by its usual name', async t => {
    const segv = startFakeAgent(t, ['--kill-self', 'SIGSEGV'])
    t.same(await segv.exited, { code: null, signal: 'SIGSEGV' })
    const abort = startFakeAgent(t, ['--kill-self', 'SIGABRT'])
    t.same(await abort.exited, { code: null, signal: 'SIGABRT' }, 'SIGABRT, not its alias SIGIOT')
  })

  t.test('sees only the environment it was given, plus TERM and the process tag', async t => {
    const agent = startFakeAgent(t, ['--print-env', 'HOME', '--exit-code', '0'], { env: { PATH: process.env.PATH!, RUNNER_ID: 'r1' } })
    await agent.exited
    t.match(agent.scrollback().toString(), /ENV HOME unset/)
    const tagged = startFakeAgent(t, ['--print-env', 'STRATAVORE_PROCESS_TAG', '--exit-code', '0'])
    await tagged.exited
    t.match(tagged.scrollback().toString(), /ENV STRATAVORE_PROCESS_TAG=[0-9a-f-]{36}/)
  })

  t.test('write and resize after the exit do nothing', async t => {
    const agent = startFakeAgent(t, ['--exit-code', '0'])
    await agent.exited
    agent.write('late')
    agent.resize(10, 10)
    t.pass('no throw')
  })

  t.test('a missing program or directory fails at once with a SpawnError', async t => {
    t.throws(() => spawnAgentProcess({ argv: ['no-such-agent-cli'], cwd: '/', env: { PATH: '/usr/bin:/bin' }, terminal: true }),
      { name: 'SpawnError', code: 'ENOENT', message: /not on the runner's PATH/ })
    t.throws(() => spawnAgentProcess({ argv: [process.execPath], cwd: '/no/such/dir', env: {}, terminal: true }),
      { code: 'ENOENT', message: /working directory/ })
    t.throws(() => spawnAgentProcess({ argv: [], cwd: '/', env: {}, terminal: true }), SpawnError)
  })
})
