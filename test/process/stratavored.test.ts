import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { tempDir } from '../helpers/temp-dir.js'
import { startDaemon, waitHealthy } from '../helpers/daemon.js'

t.test('npm start path: embedded default, clean shutdown, state kept across restarts', async t => {
  const home = tempDir(t)
  const env = { HOME: home, STRATAVORE_DATA_DIR: join(home, 'data') }
  const projectDir = join(home, 'work')
  mkdirSync(projectDir)
  // The runner this test launches is a real process under the in-process supervisor: a small one.
  const config = join(home, 'stratavore.yaml')
  writeFileSync(config, JSON.stringify({ agents: { sleeper: { kind: 'generic', command: ['/bin/sleep', '3600'] } } }))
  const all = ['all', '--config', config]

  const first = await startDaemon(all, env)
  t.teardown(() => { first.child.kill('SIGKILL') })
  await waitHealthy(first)
  const created = await fetch(`${first.url}/api/v1/projects`, { method: 'POST', headers: first.headers({ 'content-type': 'application/json' }), body: JSON.stringify({ name: 'kept', path: projectDir }) })
  t.equal(created.status, 201)
  const launched = await fetch(`${first.url}/api/v1/runners`, { method: 'POST', headers: first.headers({ 'content-type': 'application/json' }), body: JSON.stringify({ project: 'kept', agent: 'sleeper' }) })
  t.equal(launched.status, 201)
  const runnerId = (await launched.json() as { id: string }).id

  await t.test('a second daemon on the same data dir is refused with a clear line', async t => {
    const second = await startDaemon(all, env)
    const { code } = await second.exited
    t.equal(code, 1)
    t.match(second.output(), /data dir .* is in use by another stratavored/)
  })

  first.child.kill('SIGTERM')
  const exit = await first.exited
  t.same(exit, { code: 0, signal: null }, 'SIGTERM stops it cleanly')
  t.match(first.output(), /"msg":"stopped"/)
  const checkpoints = readFileSync(join(home, 'data', 'audit-checkpoints.jsonl'), 'utf8').trim().split('\n')
  const heads = (JSON.parse(checkpoints.at(-1)!) as { heads: Array<{ chain: string, seq: number }> }).heads
  t.ok(heads.some(h => h.chain === 'kept' && h.seq >= 2), 'the shutdown checkpoint covers what was written')

  const again = await startDaemon(all, env)
  t.teardown(() => { again.child.kill('SIGKILL') })
  await waitHealthy(again)
  const project = await (await fetch(`${again.url}/api/v1/projects/kept`, { headers: again.headers() })).json() as { totalRunners: number, path: string }
  t.match(project, { totalRunners: 1, path: projectDir }, 'the project and its runner survived the restart')
  t.equal((await fetch(`${again.url}/api/v1/runners/${runnerId}`, { headers: again.headers() })).status, 200)
  const audit = await (await fetch(`${again.url}/api/v1/audit/verify`, { headers: again.headers() })).json()
  t.match(audit, { ok: true, findings: [], complete: true, checkpoint: { chains: Number } }, 'the log verifies against the checkpoint')
  again.child.kill('SIGINT')
  t.equal((await again.exited).code, 0, 'SIGINT stops it cleanly too')
})

t.test('bad configuration stops the daemon with one line naming the key', async t => {
  const home = tempDir(t)
  const daemon = await startDaemon(['all'], { HOME: home, STRATAVORE_DATA_DIR: join(home, 'data'), STRATAVORE_DAEMON_HTTP_PORT: 'eighty' })
  const { code } = await daemon.exited
  t.equal(code, 2)
  t.match(daemon.output(), /^stratavored: config daemon\.http_port: must be an integer from 1 to 65535, got "eighty" \(from STRATAVORE_DAEMON_HTTP_PORT\)\n$/)
})

t.test('usage errors exit 2', async t => {
  const home = tempDir(t)
  for (const args of [['frobnicate'], ['api', 'frobnicate'], ['all', 'api']]) {
    const daemon = await startDaemon(args, { HOME: home })
    t.equal((await daemon.exited).code, 2, args.join(' '))
    t.match(daemon.output(), `unknown command ${JSON.stringify(args.join(' '))}`)
  }
})

t.test('stratavored reconciler runs alone and stops cleanly', async t => {
  const home = tempDir(t)
  const daemon = await startDaemon(['reconciler'], { HOME: home, STRATAVORE_DATA_DIR: join(home, 'data') })
  t.teardown(() => { daemon.child.kill('SIGKILL') })
  const deadline = Date.now() + 60_000
  while (!/"msg":"reconciler started"/.test(daemon.output()) && daemon.child.exitCode === null && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  t.match(daemon.output(), /"msg":"reconciler started"/)
  daemon.child.kill('SIGTERM')
  t.equal((await daemon.exited).code, 0)
  t.notMatch(daemon.output(), /relay started|supervisor started/)
})

t.test('roles named together share one process, and only they start', async t => {
  const home = tempDir(t)
  const daemon = await startDaemon(['relay', 'api'], { HOME: home, STRATAVORE_DATA_DIR: join(home, 'data') })
  t.teardown(() => { daemon.child.kill('SIGKILL') })
  await waitHealthy(daemon)
  daemon.child.kill('SIGTERM')
  t.equal((await daemon.exited).code, 0)
  t.match(daemon.output(), /"msg":"relay started"/)
  t.notMatch(daemon.output(), /reconciler started|supervisor started/)
})
