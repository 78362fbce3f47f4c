// GET /api/v1/doctor: the daemon's half of `stratavore doctor`, on the test backend.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { bearer, build, tempDir } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'

t.test(`doctor on ${backendName()}`, async t => {
  const dataDir = join(tempDir(t), 'data')
  mkdirSync(dataDir, { mode: 0o700 })
  const { app, ctx } = await build(t, config => {
    config.dataDir = dataDir
    config.adminTokenFile = join(dataDir, 'admin.token')
    // Nothing listens on these: the port lines must say so.
    config.daemon.http_port = 9
    config.docker.prometheus.enabled = false
    // One agent found (generic: no version to ask), one missing but not the default.
    config.agents.absent = { name: 'absent', kind: 'codex', command: ['stratavore-no-such-agent'], env: {} }
    config.defaults.agent = 'generic-test'
  })
  const res = await app.inject({ method: 'GET', url: '/api/v1/doctor' })
  t.equal(res.statusCode, 200)
  const report = res.json() as { ok: boolean, checks: Array<{ name: string, status: string, detail: string }> }
  const check = (name: string) => report.checks.find(c => c.name === name)
  t.match(check('database'), { status: 'ok', detail: backendName() === 'pglite' ? /^embedded PGlite: PostgreSQL \d+/ : /^Postgres: PostgreSQL \d+/ })
  t.match(check('migrations'), { status: 'ok', detail: /^current \(\d+ applied\)$/ })
  t.match(check('broker'), { status: 'ok', detail: /in-process bus/ })
  t.match(check('clock'), { status: /ok|warn/, detail: /the database's clock is \d+ ms (ahead of|behind) this host's/ })
  t.match(check('agent generic-test'), { status: 'ok', detail: '/bin/sleep' })
  t.match(check('agent absent'), { status: 'warn', detail: /stratavore-no-such-agent is not on the runner's PATH/ })
  t.match(check('data dir'), { status: 'ok', detail: `${dataDir} 0700` })
  t.match(check('file modes'), { status: 'ok' })
  t.match(check('port http'), { status: 'fail', detail: /nothing answers on 127\.0\.0\.1:9 \(daemon\.http_port\)/ })
  t.match(check('audit'), { status: 'ok', detail: /rows in \d+ chains verify/ })
  t.equal(report.ok, false, 'a failed check makes the report not ok')

  writeFileSync(join(dataDir, 'audit.key'), 'k=x\n')
  chmodSync(join(dataDir, 'audit.key'), 0o644)
  const again = (await app.inject({ method: 'GET', url: '/api/v1/doctor' })).json() as typeof report
  t.match(again.checks.find(c => c.name === 'file modes'), { status: 'fail', detail: /readable by other users: .*audit\.key \(0644\); chmod 600 them/ })

  const viewer = await ctx.tokens.create({ name: 'v', role: 'viewer' }, 'test')
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/doctor', headers: bearer(viewer.secret) })).statusCode, 403, 'admin only')
})
