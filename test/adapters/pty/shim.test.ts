// A runner's shim as a real separate process: the agent keeps running when the supervisor's
// end goes away, a new connection gets the same pid and the scrollback, an exit while nobody
// is connected is kept in the exit file, and a leftover shim can be ended.
import { randomUUID } from 'node:crypto'
import { existsSync, statSync } from 'node:fs'
import t from 'tap'
import { shimDirOf, shimPaths } from '../../../src/adapters/pty/shim/shim-launcher.js'
import type { AgentProcess } from '../../../src/adapters/pty/types.js'
import { createShimHost } from '../../../src/adapters/supervisor/shim-host.js'
import { tempDir } from '../../helpers/temp-dir.js'
import { FAKE_AGENT } from '../../helpers/temp-dir.js'

const waitFor = async (what: string, check: () => boolean, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}
const text = (p: AgentProcess) => p.scrollback().toString('utf8')
const alive = (pid: number) => { try { process.kill(pid, 0); return true } catch { return false } }

const setup = (t: Parameters<typeof tempDir>[0]) => {
  const dataDir = tempDir(t)
  const runnerId = randomUUID()
  const host = createShimHost(dataDir, id => `STRATAVORE_RUNNER_ID=${id}`)
  const options = (args: string[]) => ({ argv: [process.execPath, FAKE_AGENT, ...args], cwd: dataDir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', STRATAVORE_RUNNER_ID: runnerId }, terminal: true, scrollbackBytes: 65536 })
  t.teardown(() => host.killLeftover(runnerId))
  return { dataDir, runnerId, host, options }
}

t.test('the agent outlives the connection that started it and is found again', async t => {
  const { dataDir, runnerId, host, options } = setup(t)
  const first = await host.start(runnerId, 3, options(['--echo']), { note: 'kept' })
  await waitFor('READY', () => text(first.terminal).includes('READY'))
  first.terminal.write('before')
  await waitFor('the echo', () => text(first.terminal).includes('ECHO before'))
  const pid = first.terminal.pid
  const dir = shimDirOf(dataDir)
  t.equal(statSync(dir).mode & 0o777, 0o700, 'the shim directory is 0700')
  t.equal(statSync(shimPaths(dir, runnerId).socket).mode & 0o777, 0o600, 'the socket is 0600')
  t.equal(statSync(shimPaths(dir, runnerId).record).mode & 0o777, 0o600, 'the record with the secret is 0600')
  ;(first.terminal as unknown as { detach(): void }).detach()

  t.equal(await host.reconnect(runnerId, 4, 65536), null, 'another generation is not answered')
  const again = await host.reconnect(runnerId, 3, 65536)
  t.ok(again, 'the shim answers for the same runner and generation')
  t.equal(again!.terminal.pid, pid, 'the same process')
  t.same(again!.meta, { note: 'kept' })
  await waitFor('the scrollback replayed', () => text(again!.terminal).includes('ECHO before'))
  again!.terminal.write('after')
  await waitFor('the echo after reconnecting', () => text(again!.terminal).includes('ECHO after'))
  t.same(await again!.terminal.stop(0), { code: null, signal: 'SIGKILL' })
  again!.release()
  await waitFor('the shim to remove its socket', () => !existsSync(shimPaths(dir, runnerId).socket))
  t.notOk(alive(pid), 'the agent is gone')
})

t.test('an exit while nobody is connected is kept and reported to the next connection', async t => {
  const { dataDir, runnerId, host, options } = setup(t)
  const first = await host.start(runnerId, 1, options(['--after-ms', '300', '--exit-code', '7']), null)
  ;(first.terminal as unknown as { detach(): void }).detach()
  const dir = shimDirOf(dataDir)
  await waitFor('the exit file', () => existsSync(shimPaths(dir, runnerId).exit))
  const found = await host.reconnect(runnerId, 1, 65536)
  t.same(await found!.terminal.exited, { code: 7, signal: null }, 'the exit code is reported')
  t.match(text(found!.terminal), /READY/, 'with the output tail')
  found!.release()
  await waitFor('the files to go', () => !existsSync(shimPaths(dir, runnerId).record) && !existsSync(shimPaths(dir, runnerId).exit))
})

t.test('a shim left without a supervisor past its deadline stops its agent, and says so', async t => {
  const { dataDir, runnerId, host, options } = setup(t)
  const first = await host.start(runnerId, 2, options([]), null, { stopMs: 1000, graceMs: 1000 })
  await waitFor('READY', () => text(first.terminal).includes('READY'))
  const pid = first.terminal.pid
  await new Promise(resolve => setTimeout(resolve, 2500))
  t.ok(alive(pid), 'while a supervisor is connected, the deadline never comes')
  ;(first.terminal as unknown as { detach(): void }).detach()
  const back = await host.reconnect(runnerId, 2, 65536)
  t.equal(back!.terminal.pid, pid, 'a supervisor back within the deadline finds it running')
  ;(back!.detach as () => void)()
  const dir = shimDirOf(dataDir)
  await waitFor('the exit file', () => existsSync(shimPaths(dir, runnerId).exit))
  t.notOk(alive(pid), 'the agent is gone')
  const found = await host.reconnect(runnerId, 2, 65536)
  t.same(await found!.terminal.exited, { code: null, signal: 'SIGTERM' }, 'stopped gracefully')
  t.match(text(found!.terminal), /\[stratavore\] no supervisor for 1s: the runner's shim stopped this agent/, 'the output tail says why')
  found!.release()
})

t.test('a leftover shim is ended with its agent', async t => {
  const { runnerId, host, options } = setup(t)
  const first = await host.start(runnerId, 1, options([]), null)
  await waitFor('READY', () => text(first.terminal).includes('READY'))
  const pid = first.terminal.pid
  ;(first.terminal as unknown as { detach(): void }).detach()
  t.equal(await host.killLeftover(runnerId), true)
  await waitFor('the agent to end', () => !alive(pid))
  t.equal(await host.reconnect(runnerId, 1, 65536), null, 'nothing is left to adopt')
})

t.test('a program that is not there fails the start at once, leaving no shim', async t => {
  const { runnerId, host, options } = setup(t)
  await t.rejects(host.start(runnerId, 1, { ...options([]), argv: ['no-such-agent-program'] }, null), /no-such-agent-program/)
})
