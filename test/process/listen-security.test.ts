// The real stratavored on HTTPS (health over https, the event feed over wss, the CLI trusting a
// private CA through NODE_EXTRA_CA_CERTS), refusing a non-loopback bind in clear unless told
// daemon.allow_insecure_bind, and checking its data dir at start: loose modes tightened with a
// warning, another user's data dir refused. Traffic goes to 127.0.0.1 only.
import { spawn } from 'node:child_process'
import { chmodSync, chownSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { get } from 'node:https'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import WebSocket from 'ws'
import { tempDir } from '../helpers/temp-dir.js'
import { makePki } from '../helpers/certs.js'
import { freePort, startDaemon, waitHealthy, type Daemon } from '../helpers/daemon.js'

// Four daemons start here, each opening PGlite: on a loaded machine that outlasts tap's default.
t.setTimeout(600_000)

const CLI = fileURLToPath(new URL('../../bin/stratavore.mjs', import.meta.url))
const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8)

const killOnTeardown = (t: Parameters<typeof tempDir>[0], daemon: Daemon) => {
  t.teardown(() => { daemon.child.kill('SIGKILL') })
}

/** GET over https trusting `ca`: the status and body. */
const httpsGet = (url: string, ca: Buffer, headers: Record<string, string> = {}) => new Promise<{ status: number, body: string }>((resolve, reject) => {
  get(url, { ca, headers }, res => {
    let body = ''
    res.on('data', chunk => { body += chunk })
    res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
  }).on('error', reject)
})

const waitHealthyOverHttps = async (daemon: Daemon, url: string, ca: Buffer) => {
  const deadline = Date.now() + 120_000
  while (Date.now() < deadline && daemon.child.exitCode === null) {
    try {
      if ((await httpsGet(`${url}/api/v1/health`, ca)).status === 200) return
    } catch { /* not listening yet */ }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`stratavored did not answer over https; output:\n${daemon.output()}`)
}

const runCli = (args: string[], env: Record<string, string>) => new Promise<{ code: number | null, stdout: string, stderr: string }>(resolve => {
  const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let [stdout, stderr] = ['', '']
  child.stdout.on('data', d => { stdout += d })
  child.stderr.on('data', d => { stderr += d })
  child.once('exit', code => resolve({ code, stdout, stderr }))
})

t.test('HTTPS on the HTTP port: health, the event feed over wss, the CLI', async t => {
  const pki = await makePki(t)
  const ca = readFileSync(pki.ca.cert)
  const home = tempDir(t)
  const port = await freePort()
  const tlsEnv = { STRATAVORE_DAEMON_HTTP_PORT: String(port), STRATAVORE_DAEMON_TLS_CERT_FILE: pki.server.cert, STRATAVORE_DAEMON_TLS_KEY_FILE: pki.server.key }
  const env = { HOME: home, STRATAVORE_DATA_DIR: join(home, 'data'), ...tlsEnv }
  const daemon = await startDaemon(['api'], env)
  killOnTeardown(t, daemon)
  const url = `https://localhost:${port}`
  await waitHealthyOverHttps(daemon, url, ca)
  t.match(daemon.output(), /"msg":"api listening"/)
  t.match(daemon.output(), new RegExp(`"url":"https://127\\.0\\.0\\.1:${port}"`), 'the log gives the https URL')

  t.same(await httpsGet(`${url}/api/v1/health`, ca), { status: 200, body: 'OK' }, 'health over https')
  await t.rejects(fetch(`http://127.0.0.1:${port}/api/v1/health`), 'plain HTTP gets no answer')

  const socket = new WebSocket(`wss://localhost:${port}/api/v1/events`, { ca, headers: daemon.headers() })
  await new Promise<void>((resolve, reject) => {
    socket.once('open', resolve)
    socket.once('error', reject)
    socket.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)))
  })
  t.pass('the event feed opens over wss')
  socket.close(1000)

  // The CLI finds the daemon through the same settings, and dials https://.
  const cliEnv = { HOME: home, STRATAVORE_TOKEN: daemon.token, ...tlsEnv }
  const trusted = await runCli(['status'], { ...cliEnv, NODE_EXTRA_CA_CERTS: pki.ca.cert })
  t.equal(trusted.code, 0, trusted.stderr)
  const untrusted = await runCli(['status'], cliEnv)
  t.equal(untrusted.code, 1)
  t.equal(untrusted.stderr, `stratavore: cannot trust the certificate of the daemon at https://127.0.0.1:${port} (UNABLE_TO_VERIFY_LEAF_SIGNATURE); ` +
    'for a private CA or a self-signed certificate, set NODE_EXTRA_CA_CERTS to its PEM file\n')

  daemon.child.kill('SIGTERM')
  t.equal((await daemon.exited).code, 0)
})

t.test('a non-loopback bind without TLS is refused with one line, exit code 2', async t => {
  const home = tempDir(t)
  const daemon = await startDaemon(['all'], { HOME: home, STRATAVORE_DATA_DIR: join(home, 'data'), STRATAVORE_DAEMON_HOST: '0.0.0.0' })
  t.equal((await daemon.exited).code, 2)
  t.equal(daemon.output(), 'stratavored: config daemon.host: 0.0.0.0 is not a loopback address and the HTTP and gRPC ports have no TLS; ' +
    'set daemon.tls_cert_file and daemon.tls_key_file, and daemon.grpc_tls_cert_file and daemon.grpc_tls_key_file, or daemon.allow_insecure_bind: true (from config)\n')
})

t.test('with daemon.allow_insecure_bind it starts; a loose data dir is tightened with a warning', async t => {
  const home = tempDir(t)
  const data = join(home, 'data')
  mkdirSync(data)
  chmodSync(data, 0o755)
  writeFileSync(join(data, 'audit.key'), 'k1=0123456789abcdef0123456789abcdef\n', { mode: 0o644 })
  chmodSync(join(data, 'audit.key'), 0o644)
  const daemon = await startDaemon(['api'], { HOME: home, STRATAVORE_DATA_DIR: data, STRATAVORE_DAEMON_HOST: '0.0.0.0', STRATAVORE_DAEMON_ALLOW_INSECURE_BIND: 'true' })
  killOnTeardown(t, daemon)
  await waitHealthy(daemon, 120_000)
  t.same([modeOf(data), modeOf(join(data, 'audit.key')), modeOf(join(data, 'pglite'))], ['700', '600', '700'])
  const warnings = daemon.output().split('\n').filter(line => line.includes('data dir: the mode let other users in'))
  t.same(warnings.map(line => JSON.parse(line) as { level: number, path: string, from: string, to: string }).map(w => [w.level, w.path, w.from, w.to]).sort(), [
    [40, data, '0755', '0700'],
    [40, join(data, 'audit.key'), '0644', '0600'],
  ])
  daemon.child.kill('SIGTERM')
  t.equal((await daemon.exited).code, 0)
})

t.test('a data dir another user owns is refused with one line, exit code 2', { skip: process.getuid?.() === 0 ? false : 'needs root to give the data dir away' }, async t => {
  const home = tempDir(t)
  const data = join(home, 'data')
  mkdirSync(data, { mode: 0o700 })
  chownSync(data, 65534, 65534)
  const daemon = await startDaemon(['all'], { HOME: home, STRATAVORE_DATA_DIR: data })
  t.equal((await daemon.exited).code, 2)
  t.equal(daemon.output(), `stratavored: the data dir ${data} is owned by uid 65534, not by this daemon's user (uid 0); ` +
    'chown it to the daemon\'s user or point daemon.data_dir elsewhere\n')
})
