// Agents outlive their supervisor (supervisor.shim): the daemon is SIGKILLed with 10 runners and
// started again on the same data dir. Its supervisor adopts every agent where it is (same pid,
// generation and restart count), attach shows what the agent printed before the kill, tokens
// keep counting from the transcript without counting any twice, and an agent that exited while
// no supervisor ran is reported with its exit code. Real separate processes throughout.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { tempDir } from '../helpers/temp-dir.js'
import { openAttach } from '../helpers/attach-client.js'
import { startDaemon, waitHealthy, type Daemon } from '../helpers/daemon.js'
import { backendName, createScratchDatabase, testDatabaseUrl } from '../helpers/database.js'
import { FAKE_AGENT } from '../helpers/temp-dir.js'

const RUNNERS = 10
const json = { 'content-type': 'application/json' }

interface RunnerDto { id: string, status: string, runtimeId: string, generation: number, restartAttempts: number, inputTokens: number, outputTokens: number, exitCode: number | null }

const until = async <T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 120_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await read()
    if (done(value)) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`)
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}

const alive = (pid: number) => { try { process.kill(pid, 0); return true } catch { return false } }

t.test(`a SIGKILLed daemon's agents are adopted by the next one, on ${backendName()}`, async t => {
  const home = tempDir(t)
  const databaseUrl = testDatabaseUrl() ? await createScratchDatabase(t) : null
  const config = join(home, 'stratavore.yaml')
  const claudeDir = join(home, 'claude')
  writeFileSync(config, JSON.stringify({
    // Long enough that the node is not taken for lost while the daemon is down and starting again.
    daemon: { heartbeat_interval_seconds: 5 },
    docker: { prometheus: { enabled: false } },
    // A graceful stop leaves the agents running for the next supervisor (the third daemon below).
    supervisor: { detect_agent_versions: false, on_shutdown: 'keep' },
    agents: {
      fake: { kind: 'claude', command: [process.execPath, FAKE_AGENT], allow_flags: ['*'], env: { CLAUDE_CONFIG_DIR: claudeDir } },
    },
  }))
  const projectDir = join(home, 'work')
  mkdirSync(projectDir)
  const env = { HOME: home, STRATAVORE_DATA_DIR: join(home, 'data'), STRATAVORE_SECURITY_ADMIN_TOKEN_FILE: '', ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) }
  const daemons: Daemon[] = []
  const ids: string[] = []
  const start = async () => {
    const daemon = await startDaemon(['all', '--config', config], env)
    daemons.push(daemon)
    await waitHealthy(daemon, 240_000)
    return daemon
  }
  t.teardown(async () => {
    const last = daemons.at(-1)
    if (last && last.child.exitCode === null) {
      for (const id of ids) await fetch(`${last.url}/api/v1/runners/${id}/stop`, { method: 'POST', headers: last.headers(json), body: JSON.stringify({ force: true }) }).catch(() => {})
      last.child.kill('SIGTERM')
      await last.exited
    }
  })

  const first = await start()
  const get = async (d: Daemon, id: string) => await (await fetch(`${d.url}/api/v1/runners/${id}`, { headers: d.headers() })).json() as RunnerDto
  t.equal((await fetch(`${first.url}/api/v1/projects`, { method: 'POST', headers: first.headers(json), body: JSON.stringify({ name: 'kept', path: projectDir }) })).status, 201)
  t.equal((await fetch(`${first.url}/api/v1/projects/kept/quota`, { method: 'PUT', headers: first.headers(json), body: JSON.stringify({ maxConcurrentRunners: 20 }) })).status, 200)
  for (let i = 0; i <= RUNNERS; i++) {
    const res = await fetch(`${first.url}/api/v1/runners`, {
      method: 'POST', headers: first.headers(json),
      body: JSON.stringify({ project: 'kept', agent: 'fake', flags: ['--echo', '--claude-transcript', '--exit-on-usr2', '3'], maxRestartAttempts: 0 }),
    })
    const body = await res.json() as { id: string }
    t.equal(res.status, 201, 'launched', { body })
    ids.push(body.id)
  }
  // The last one exits while no supervisor runs; the first RUNNERS stay up.
  const quitter = ids.at(-1)!
  const kept = ids.slice(0, RUNNERS)
  for (const id of ids) await until(`${id} running`, () => get(first, id), r => r.status === 'running')

  // Each agent prints and uses tokens (one transcript record per chunk typed) before the kill.
  for (const id of ids) {
    const term = await openAttach(`${first.url.replace('http', 'ws')}/api/v1/runners/${id}/attach`, first.headers())
    await term.waitFor(c => c.output().includes('READY'), 'the agent to be ready')
    term.socket.send(Buffer.from(`before-${id.slice(0, 8)}`))
    await term.waitFor(c => c.output().includes(`ECHO before-${id.slice(0, 8)}`), 'the echo before the kill')
    term.socket.close()
  }
  const before = new Map<string, RunnerDto>()
  for (const id of ids) before.set(id, await until(`${id} to count its first tokens`, () => get(first, id), r => r.inputTokens === 100 && r.outputTokens === 10))

  first.child.kill('SIGKILL')
  await first.exited
  for (const id of ids) t.ok(alive(Number(before.get(id)!.runtimeId)), `runner ${id.slice(0, 8)}'s agent outlived the daemon`)
  const quitterPid = Number(before.get(quitter)!.runtimeId)
  process.kill(quitterPid, 'SIGUSR2')
  await until('the quitter to exit', async () => alive(quitterPid), stillAlive => !stillAlive, 10_000)

  const second = await start()
  const exited = await until('the exit while down to be reported', () => get(second, quitter), r => r.status === 'failed')
  t.equal(exited.exitCode, 3, 'the agent that exited while no supervisor ran is reported with its exit code')
  t.equal(exited.generation, before.get(quitter)!.generation)

  for (const id of kept) {
    const was = before.get(id)!
    const term = await openAttach(`${second.url.replace('http', 'ws')}/api/v1/runners/${id}/attach`, second.headers())
    await term.waitFor(c => c.output().includes(`ECHO before-${id.slice(0, 8)}`), 'the scrollback from before the kill')
    t.ok(alive(Number(was.runtimeId)), 'the same process')
    term.socket.send(Buffer.from(`after-${id.slice(0, 8)}`))
    await term.waitFor(c => c.output().includes(`ECHO after-${id.slice(0, 8)}`), 'the echo after the restart')
    term.socket.close()
    const now = await until(`${id} to count the new tokens`, () => get(second, id), r => r.inputTokens >= 200)
    t.match(now, { status: 'running', runtimeId: was.runtimeId, generation: was.generation, restartAttempts: was.restartAttempts, inputTokens: 200, outputTokens: 20 },
      `runner ${id.slice(0, 8)}: adopted, nothing restarted, tokens counted on without counting twice`)
  }
  t.match(second.output(), /adopted a runner an earlier supervisor left running/)
  t.notMatch(second.output(), /its supervisor restarted/, 'nothing was restarted')

  // An upgrade: SIGTERM with supervisor.on_shutdown keep leaves every agent where it is.
  second.child.kill('SIGTERM')
  t.same(await second.exited, { code: 0, signal: null }, 'the daemon stops cleanly')
  t.match(second.output(), /left this node's agents running for the next supervisor/)
  const third = await start()
  await until('the third supervisor to adopt the agents', async () => third.output(), out => (out.match(/adopted a runner an earlier supervisor left running/g) ?? []).length >= kept.length)
    .catch(err => { t.fail(String(err), { output: third.output().slice(-3000) }); throw err })
  for (const id of kept) {
    const was = before.get(id)!
    const term = await openAttach(`${third.url.replace('http', 'ws')}/api/v1/runners/${id}/attach`, third.headers())
    await term.waitFor(c => c.output().includes(`ECHO after-${id.slice(0, 8)}`), 'the scrollback of both earlier supervisors')
    term.socket.close()
    // The node may have been taken for lost while no supervisor ran; the first heartbeat recovers it.
    t.match(await until(`${id} running`, () => get(third, id), r => r.status === 'running'), { status: 'running', runtimeId: was.runtimeId, generation: was.generation, restartAttempts: was.restartAttempts, inputTokens: 200 },
      `runner ${id.slice(0, 8)}: kept through a graceful restart`)
  }
})
