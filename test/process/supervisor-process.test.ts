// The supervisor as a process of its own beside a separate API process, sharing only Postgres:
// a launch through the API is started by the supervisor, attach through the API reaches the
// supervisor's terminal over the attach channel, and a stop ends it.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { tempDir } from '../helpers/temp-dir.js'
import { openAttach } from '../helpers/attach-client.js'
import { startDaemon, waitHealthy, type Daemon } from '../helpers/daemon.js'
import { createScratchDatabase, testDatabaseUrl } from '../helpers/database.js'
import { FAKE_AGENT } from '../helpers/temp-dir.js'

const json = { 'content-type': 'application/json' }

// PGlite is one process's database: this runs in the PostgreSQL pass of CI.
const skip = testDatabaseUrl() ? false : 'needs a Postgres that two processes share (STRATAVORE_TEST_DATABASE_URL): runs in the PostgreSQL pass'

t.test('api and supervisor as separate processes on Postgres', { skip }, async t => {
  const databaseUrl = await createScratchDatabase(t)
  const home = tempDir(t)
  const config = join(home, 'stratavore.yaml')
  writeFileSync(config, JSON.stringify({
    daemon: { heartbeat_interval_seconds: 1 },
    docker: { prometheus: { enabled: false } },
    agents: { fake: { kind: 'generic', command: [process.execPath, FAKE_AGENT], allow_flags: ['--echo'] } },
    security: { audit_key: 'a-shared-audit-key-for-both-processes' },
  }))
  const projectDir = join(home, 'work')
  mkdirSync(projectDir)
  const start = async (role: string) => {
    const daemon: Daemon = await startDaemon([role, '--config', config], { HOME: home, DATABASE_URL: databaseUrl, STRATAVORE_DATA_DIR: join(home, role) })
    t.teardown(async () => { daemon.child.kill('SIGTERM'); await daemon.exited })
    return daemon
  }
  const api = await start('api')
  await waitHealthy(api)
  const supervisor = await start('supervisor')

  t.equal((await fetch(`${api.url}/api/v1/projects`, { method: 'POST', headers: api.headers(json), body: JSON.stringify({ name: 'apart', path: projectDir }) })).status, 201)
  const launched = await fetch(`${api.url}/api/v1/runners`, { method: 'POST', headers: api.headers(json), body: JSON.stringify({ project: 'apart', agent: 'fake', flags: ['--echo'] }) })
  const { id } = await launched.json() as { id: string }
  const deadline = Date.now() + 30_000
  let status = ''
  while (Date.now() < deadline && status !== 'running') {
    status = ((await (await fetch(`${api.url}/api/v1/runners/${id}`, { headers: api.headers() })).json()) as { status: string }).status
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  t.equal(status, 'running', 'the supervisor process started it', { output: supervisor.output().slice(-2000) })

  const term = await openAttach(`${api.url.replace('http', 'ws')}/api/v1/runners/${id}/attach`, api.headers())
  await term.waitFor(c => c.output().includes('READY'), 'the agent to be ready')
  t.match(term.frames[0], { type: 'hello', role: 'writer' })
  term.socket.send(Buffer.from('across processes'))
  await term.waitFor(c => c.output().includes('ECHO across processes'), 'the echo through API → supervisor → PTY')

  t.equal((await fetch(`${api.url}/api/v1/runners/${id}/stop`, { method: 'POST', headers: api.headers() })).status, 202)
  t.equal((await term.closed).code, 1000, 'the terminal closes when the runner ends')
  supervisor.child.kill('SIGTERM')
  t.same(await supervisor.exited, { code: 0, signal: null }, 'the supervisor stops cleanly')
})
