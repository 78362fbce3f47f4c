// Runs the real stratavored binary as a child process, the way a user does.
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
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
}

export const startDaemon = async (args: string[], env: Record<string, string>): Promise<Daemon> => {
  const port = Number(env.STRATAVORE_DAEMON_HTTP_PORT ?? await freePort())
  const child = spawn(process.execPath, [BIN, ...args], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      STRATAVORE_DAEMON_HTTP_PORT: String(port),
      STRATAVORE_DOCKER_PROMETHEUS_PORT: String(await freePort()),
      STRATAVORE_DAEMON_GRPC_PORT: String(await freePort()),
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
  return { child, url: `http://127.0.0.1:${port}`, output: () => output, exited, headers: (extra = {}) => ({ ...extra }) }
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
