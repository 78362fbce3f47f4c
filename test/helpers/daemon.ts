// Runs the real stratavored binary as a child process, the way a user does.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'

export const BIN = fileURLToPath(new URL('../../bin/stratavored.mjs', import.meta.url))

export const freePort = () => new Promise<number>((resolve, reject) => {
  const server = createServer()
  server.once('error', reject)
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as { port: number }
    server.close(() => resolve(port))
  })
})

export interface Daemon {
  child: ChildProcess
  url: string
  output(): string
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  /** Headers that authenticate a request to this daemon (as its admin), plus `extra`. */
  headers(extra?: Record<string, string>): Record<string, string>
  /** The daemon's admin token. */
  token: string
}

/**
 * A fresh admin token in a file of its own (0600), for security.admin_token_file: the test
 * knows the daemon's credential before it starts. Removed when `cleanup` runs.
 */
export const adminTokenFile = (): { path: string, token: string, cleanup(): void } => {
  const dir = mkdtempSync(join(tmpdir(), 'stv-token-'))
  const token = `stv_${randomBytes(32).toString('base64url')}`
  const path = join(dir, 'admin.token')
  writeFileSync(path, `${token}\n`, { mode: 0o600 })
  return { path, token, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

export const startDaemon = async (args: string[], env: Record<string, string>): Promise<Daemon> => {
  const port = Number(env.STRATAVORE_DAEMON_HTTP_PORT ?? await freePort())
  // The caller may bring the admin token file (daemons that must share one), or set it to '' so
  // that the daemon makes <data dir>/admin.token as on a first start; else each daemon gets its own.
  const given = env.STRATAVORE_SECURITY_ADMIN_TOKEN_FILE
  const own = given === undefined ? adminTokenFile() : null
  const tokenFile = own?.path ?? (given || join(env.STRATAVORE_DATA_DIR ?? '', 'admin.token'))
  const child = spawn(process.execPath, [BIN, ...args], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      STRATAVORE_DAEMON_HTTP_PORT: String(port),
      STRATAVORE_DOCKER_PROMETHEUS_PORT: String(await freePort()),
      STRATAVORE_DAEMON_GRPC_PORT: String(await freePort()),
      STRATAVORE_SECURITY_ADMIN_TOKEN_FILE: tokenFile,
      // Tests make projects in temp dirs, not always under the HOME they give the daemon.
      STRATAVORE_SECURITY_PROJECT_ROOTS: tmpdir(),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', d => { output += d })
  child.stderr!.on('data', d => { output += d })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.once('exit', (code, signal) => resolve({ code, signal })))
  // A process the daemon left behind may still hold its stdout or stderr (tsx's esbuild service
  // does for a moment): once the daemon is gone they are let go, or the test's own process
  // would wait on them to its timeout.
  void exited.then(() => setTimeout(() => { child.stdout!.destroy(); child.stderr!.destroy() }, 5000).unref())
  void exited.then(() => own?.cleanup())
  // Read when first asked for: a daemon that makes its own token has written it by then.
  let token: string | undefined
  const tokenNow = () => (token ??= readFileSync(tokenFile, 'utf8').trim())
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    exited,
    get token () { return tokenNow() },
    headers: (extra = {}) => ({ authorization: `Bearer ${tokenNow()}`, ...extra }),
  }
}

/** Resolves once GET /api/v1/health answers, or rejects naming what is missing. */
export const waitHealthy = async (daemon: Daemon, timeoutMs = 60_000) => {
  const deadline = Date.now() + timeoutMs
  let exited = false
  void daemon.exited.then(() => { exited = true })
  while (Date.now() < deadline && !exited) {
    try {
      const res = await fetch(`${daemon.url}/api/v1/health`)
      if (res.ok) return
    } catch { /* not listening yet */ }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`stratavored did not answer /api/v1/health (${exited ? 'it exited' : 'timed out'}); output:\n${daemon.output()}`)
}

// What lifecycle.ts logs before a process dies of an error nobody caught, and what Node prints
// when no handler is installed yet (or the handler itself failed).
const CRASH_LINE = /"msg":"(uncaught exception|unhandled rejection)"|^(Uncaught|Unhandled|\[UnhandledPromiseRejection)|triggerUncaughtException|UnhandledPromiseRejection/

/** The lines of a daemon's output that say an error escaped every handler. */
export const crashLines = (output: string): string[] => output.split('\n').filter(line => CRASH_LINE.test(line))

type TapTest = { teardown(fn: () => unknown): void, fail(...args: [string, Record<string, unknown>]): unknown }

/**
 * Fails the test, at teardown, if the daemon logged an uncaught exception or an unhandled
 * rejection at any point, even one it survived or that a fault made likely: those are bugs.
 */
export const failOnCrashLines = (t: TapTest, daemon: Daemon, name = 'stratavored') => {
  t.teardown(() => checkCrashLines(t, daemon, name))
}

export const checkCrashLines = (t: Pick<TapTest, 'fail'>, daemon: Daemon, name = 'stratavored') => {
  const lines = crashLines(daemon.output())
  if (lines.length > 0) t.fail(`${name} logged ${lines.length} uncaught exception(s) or unhandled rejection(s)`, { diagnostic: true, first: lines.slice(0, 3).map(l => l.slice(0, 1500)) })
}
