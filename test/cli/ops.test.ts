// `stratavore doctor`, `backup` and `restore` as a user runs them, against a real daemon on
// the embedded database.
import { existsSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { freePort } from '../helpers/daemon.js'
import { startCliDaemon } from './helpers.js'

t.test('doctor, backup and restore from the CLI', async t => {
  const d = await startCliDaemon(t)
  t.equal((await d.run(['new', 'ops-demo', '--path', d.dir('ops-demo')])).code, 0)

  t.test('doctor: one line per check, --json, exit 1 exactly when a check fails', async t => {
    const text = await d.run(['doctor'])
    const lines = text.stdout.trim().split('\n')
    t.ok(lines.every(l => /^(ok {2}|warn|fail) \S/.test(l)), text.stdout)
    for (const name of ['config', 'daemon', 'database', 'migrations', 'broker', 'clock', 'agent fake', 'data dir', 'file modes', 'port http', 'port grpc', 'port metrics', 'audit']) {
      t.ok(lines.some(l => l.slice(5).startsWith(`${name} `)), `a line for ${name}`)
    }
    const json = await d.run(['doctor', '--json'])
    const report = JSON.parse(json.stdout) as { ok: boolean, checks: Array<{ name: string, status: string }> }
    t.equal(report.checks.length, lines.length)
    t.equal(report.ok, report.checks.every(c => c.status !== 'fail'))
    t.equal(json.code, report.ok ? 0 : 1, 'the exit code follows the checks')
    t.match(report.checks.find(c => c.name === 'daemon'), { status: 'ok' })

    const closed = await freePort()
    const down = await d.run(['doctor'], { env: { STRATAVORE_API_URL: `http://127.0.0.1:${closed}` } })
    t.equal(down.code, 1)
    t.match(down.stdout, new RegExp(`^fail daemon +cannot reach the daemon at http://127\\.0\\.0\\.1:${closed} \\(connection refused\\)`, 'm'))
  })

  t.test('backup: a checked file, 0600; refused onto an existing or unwritable path, leaving nothing', async t => {
    const file = join(d.home, 'one.backup')
    const made = await d.run(['backup', '--output', file])
    t.equal(made.code, 0, made.stderr)
    t.equal(made.stdout.trim(), file)
    t.match(made.stderr, /^\d+ rows in \d+ tables(, and audit-checkpoints\.jsonl)?; it holds no audit key/)
    t.equal(statSync(file).mode & 0o777, 0o600)
    t.notOk(existsSync(`${file}.partial`))

    const again = await d.run(['backup', '--output', file])
    t.equal(again.code, 1)
    t.match(again.stderr, /exists; give another --output or move it away/)
    const nowhere = await d.run(['backup', '--output', '/nonexistent-dir/x.backup'])
    t.equal(nowhere.code, 1)
    t.match(nowhere.stderr, /^stratavore: cannot write \/nonexistent-dir\/x\.backup\.partial: ENOENT\n$/)

    const busy = await d.run(['restore', file])
    t.equal(busy.code, 1, 'the running daemon holds its data dir')
    t.match(busy.stderr, /in use by another stratavored/)

    const garbage = join(d.home, 'garbage.backup')
    writeFileSync(garbage, 'not a backup\n')
    const refused = await d.run(['restore', garbage], { env: { STRATAVORE_DATA_DIR: join(d.home, 'other') } })
    t.equal(refused.code, 1)
    t.match(refused.stderr, /is not a usable Stratavore backup: it does not start with a Stratavore backup header/)

    const target = join(d.home, 'restored')
    const restored = await d.run(['restore', file], { env: { STRATAVORE_DATA_DIR: target } })
    t.equal(restored.code, 0, restored.stderr)
    t.match(restored.stdout, new RegExp(`^restored \\d+ rows in \\d+ tables into the embedded database in ${target}`))
    t.match(restored.stderr, /the audit log is signed with key auto-[0-9a-f]+, which this host lacks: put the source's audit\.key/)
    t.equal(existsSync(join(target, 'audit-checkpoints.jsonl')), /audit-checkpoints/.test(made.stderr), 'the checkpoints file comes back when the backup had one')
  })
})
