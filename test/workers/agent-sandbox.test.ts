// Agents cannot steer their supervisor: real agent processes, started by a real supervisor,
// see none of the daemon's settings and credentials in their environment, and with run_as
// (the tests run as root here) run as that user and cannot read the daemon's data dir.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { pino } from 'pino'
import { createInProcessBus } from '../../src/adapters/bus/in-process-bus.js'
import { getent } from '../../src/adapters/supervisor/run-as.js'
import { loadConfig, type Config } from '../../src/config.js'
import { createContext } from '../../src/context.js'
import { tempDir } from '../helpers/temp-dir.js'
import { backendName, openTestDatabase } from '../helpers/database.js'
import { createProject } from '../helpers/fixtures.js'
import { startTestSupervisor, supervisorTestConfig, waitForRunner } from '../helpers/supervisor.js'

type TapTest = Parameters<typeof tempDir>[0]

const AUDIT_KEY = 'sandbox-audit-key-0123456789abcdef'
const NODE_CREDENTIAL = 'sandbox-node-credential-0123456789abcdefghij'
const GITHUB_TOKEN = 'ghp_SANDBOX0123456789abcdefghijklmnopqrs'

/** A supervised context whose config is loaded from `env`, as a daemon started with it would be. */
const supervised = async (t: TapTest, env: Record<string, string>, adjust: (config: Config, home: string) => void) => {
  const home = tempDir(t, 'stv-home-')
  const config = loadConfig({ env: { HOME: home, STRATAVORE_SECURITY_PROJECT_ROOTS: tmpdir(), ...env }, home })
  supervisorTestConfig(config)
  adjust(config, home)
  const database = await openTestDatabase(t)
  const ctx = await createContext(config, pino({ level: 'silent' }), { roles: ['api'], database, bus: createInProcessBus({ onHandlerError: () => {} }) })
  await startTestSupervisor(t, ctx)
  return ctx
}

t.test(`an agent's environment holds none of the daemon's secrets, on ${backendName()}`, async t => {
  const ctx = await supervised(t, {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    DATABASE_URL: 'postgres://stv:sandbox-db-password@db.invalid/x',
    AMQP_URL: 'amqp://stv:sandbox-mq-password@mq.invalid',
    PGPASSWORD: 'sandbox-pg-password',
    STRATAVORE_SECURITY_AUDIT_KEY: AUDIT_KEY,
    STRATAVORE_GITHUB_TOKEN: GITHUB_TOKEN,
    STRATAVORE_TOKEN: 'sandbox-admin-token',
    STRATAVORE_API_URL: 'http://127.0.0.1:1',
    // Copies under other names: dropped by value.
    EXPORTED_DB: 'postgres://stv:sandbox-db-password@db.invalid/x',
    EXPORTED_KEY: AUDIT_KEY,
    EXPORTED_CREDENTIAL: NODE_CREDENTIAL,
    INNOCENT: 'kept',
  }, (config, home) => {
    // The node identity this supervisor will load: its credential must not reach agents either.
    const dataDir = join(home, 'data')
    config.dataDir = dataDir
    mkdirSync(dataDir, { mode: 0o700 })
    writeFileSync(join(dataDir, 'node-identity.json'), JSON.stringify({ id: '0190f5a4-0000-7000-8000-000000000001', credential: NODE_CREDENTIAL }), { mode: 0o600 })
    config.agents.dump = { name: 'dump', kind: 'generic', command: ['/bin/sh', '-c', 'env > env.txt'], env: { FROM_CONFIG: 'yes' } }
  })
  const project = await createProject(t, ctx)
  const runner = await ctx.runners.launch({ project: project.name, agent: 'dump', environment: { LANG: 'C.UTF-8' } }, 'test')
  await waitForRunner(ctx, runner.id, 'terminated')
  const text = readFileSync(join(project.path, 'env.txt'), 'utf8')
  const env = Object.fromEntries(text.trim().split('\n').map(line => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]))

  t.match(env, { INNOCENT: 'kept', FROM_CONFIG: 'yes', LANG: 'C.UTF-8', STRATAVORE_RUNNER_ID: runner.id }, 'what the agent should get, it gets')
  for (const name of ['DATABASE_URL', 'AMQP_URL', 'PGPASSWORD', 'EXPORTED_DB', 'EXPORTED_KEY', 'EXPORTED_CREDENTIAL']) t.notOk(name in env, `no ${name}`)
  t.same(Object.keys(env).filter(n => n.startsWith('STRATAVORE_')).sort(), ['STRATAVORE_PROCESS_TAG', 'STRATAVORE_RUNNER_ID'], 'of STRATAVORE_*, only the tags the supervisor finds its processes by')
  for (const secret of [AUDIT_KEY, NODE_CREDENTIAL, GITHUB_TOKEN, 'sandbox-db-password', 'sandbox-mq-password', 'sandbox-admin-token']) {
    t.notOk(text.includes(secret), `no value holds ${secret.slice(0, 12)}…`)
  }
})

t.test(`run_as: the agent runs as that user and cannot read the daemon's files, on ${backendName()}`, async t => {
  if (process.getuid?.() !== 0) {
    // Switching users needs root; CI and this machine run the tests as root.
    if (process.env.CI) t.fail('run_as needs the tests to run as root in CI')
    else t.pass('run_as', { skip: 'not root' })
    return
  }
  const nobody = getent('passwd', 'nobody')
  const nogroup = getent('group', 'nogroup')
  t.ok(nobody && nogroup, 'the system has nobody and nogroup')
  const [uid, gid] = [nobody![2], nogroup![2]]
  // Give this (root) process supplementary groups, as a root daemon often has: node-pty would
  // pass them on to the agent, so the supervisor must drop them.
  process.setgroups!([0, 4])
  let secretFile = ''
  const ctx = await supervised(t, { PATH: '/usr/bin:/bin' }, config => {
    secretFile = join(config.dataDir, 'daemon-secret')
    const script = 'exec > out.txt 2>&1; echo uid=$(id -u) gid=$(id -g) groups=$(id -G) home=$HOME user=$USER; ' +
      'cat "$SECRET_FILE" >/dev/null 2>&1 && echo secret=READ || echo secret=DENIED; ' +
      'cat "$IDENTITY" >/dev/null 2>&1 && echo identity=READ || echo identity=DENIED; kill -0 $PPID_OF_DAEMON 2>/dev/null && echo signal=SENT || echo signal=DENIED'
    config.agents.boxed = {
      name: 'boxed', kind: 'generic', command: ['/bin/sh', '-c', script], runAs: { user: 'nobody', group: 'nogroup' },
      env: { SECRET_FILE: secretFile, IDENTITY: join(config.dataDir, 'node-identity.json'), PPID_OF_DAEMON: String(process.pid) },
    }
  })
  writeFileSync(secretFile, 'the daemon only\n', { mode: 0o600 })
  const project = await createProject(t, ctx)
  // The project must be the agent's to work in: traversable down to it, and writable.
  for (let dir = project.path; dir !== tmpdir(); dir = join(dir, '..')) chmodSync(dir, 0o755)
  chmodSync(project.path, 0o777)

  for (const [mode, extra] of [['terminal', {}], ['headless (pipes)', { prompt: 'go' }]] as const) {
    const runner = await ctx.runners.launch({ project: project.name, agent: 'boxed', ...extra }, 'test')
    const done = await waitForRunner(ctx, runner.id, r => r.status === 'terminated' || r.status === 'failed')
    t.equal(done.status, 'terminated', `${mode}: ran to the end`)
    const out = readFileSync(join(project.path, 'out.txt'), 'utf8')
    t.match(out, new RegExp(`uid=${uid} gid=${gid} groups=${gid} home=/nonexistent user=nobody`), `${mode}: nobody, in nogroup alone (no root groups kept)`)
    t.match(out, /secret=DENIED/, `${mode}: a 0600 file in the data dir is unreadable`)
    t.match(out, /identity=DENIED/, `${mode}: so is the node credential`)
    t.match(out, /signal=DENIED/, `${mode}: and the daemon cannot be signalled`)
  }
})
