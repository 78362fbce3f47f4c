// One real stratavored per test file (embedded PGlite, in-process supervisor, the fake agent
// as the default agent) and the CLI run as a subprocess against it, as a user runs both: on
// one host, sharing the data dir, so the CLI finds the daemon's admin token as a user's does.
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { tempDir } from '../helpers/temp-dir.js'
import { startDaemon, waitHealthy } from '../helpers/daemon.js'
import { FAKE_AGENT } from '../helpers/temp-dir.js'

type TapTest = Parameters<typeof tempDir>[0]

export const CLI = fileURLToPath(new URL('../../bin/stratavore.mjs', import.meta.url))

export interface CliResult { code: number | null, stdout: string, stderr: string }

export interface CliDaemon {
  url: string
  home: string
  /** The daemon's data dir, shared with the CLI (STRATAVORE_DATA_DIR). */
  dataDir: string
  /** The daemon's admin token: what the CLI finds in `<dataDir>/admin.token`. */
  token: string
  /** A fresh directory under the test's home, for a project. */
  dir(name: string): string
  /** Runs `stratavore args...` with stdin not a terminal; resolves when it exits. */
  run(args: string[], options?: { cwd?: string, env?: Record<string, string>, timeoutMs?: number }): Promise<CliResult>
  /** The environment the CLI runs with (for PTY tests). */
  env: Record<string, string>
}

/**
 * `agents` adds agents to the config (each as a YAML flow mapping); `env` goes to the daemon
 * (a DATABASE_URL runs it on Postgres, else it uses PGlite); `yaml` adds lines to its config file.
 */
export const startCliDaemon = async (t: TapTest, { agents = {}, env: daemonEnv = {}, yaml = [] }: { agents?: Record<string, unknown>, env?: Record<string, string>, yaml?: string[] } = {}): Promise<CliDaemon> => {
  const home = tempDir(t, 'stv-cli-')
  const config = join(home, 'stratavored.yaml')
  writeFileSync(config, [
    'defaults:', '  agent: fake',
    'agents:', '  fake:', '    kind: generic', `    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(FAKE_AGENT)}]`,
    // Its flags pick its behaviour; the tests pass GREETING through --env.
    "    allow_flags: ['*']", "    launch_env: [GREETING, 'LC_*', TERM]",
    ...Object.entries(agents).map(([name, agent]) => `  ${name}: ${JSON.stringify(agent)}`),
    'daemon:', '  heartbeat_interval_seconds: 1',
    'supervisor:', '  stop_timeout_seconds: 2', '  restart_backoff_base_ms: 50', '  restart_backoff_cap_ms: 200',
    'observability:', '  log_level: warn',
    ...yaml,
  ].join('\n'))
  const dataDir = join(home, 'data')
  // An empty admin_token_file leaves the daemon its default, `<data_dir>/admin.token`, made on
  // first start: what a user gets. (startDaemon's own token file then goes unused.)
  const daemon = await startDaemon(['all', '--config', config], { HOME: home, STRATAVORE_DATA_DIR: dataDir, STRATAVORE_SECURITY_ADMIN_TOKEN_FILE: '', ...daemonEnv })
  t.teardown(async () => {
    if (daemon.child.exitCode === null) {
      daemon.child.kill('SIGTERM')
      await daemon.exited
    }
  })
  // Generous: on a loaded machine a daemon takes most of a minute to start.
  await waitHealthy(daemon, 150_000)
  const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim()
  // No STRATAVORE_TOKEN: the CLI finds the admin token through STRATAVORE_DATA_DIR.
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, STRATAVORE_API_URL: daemon.url, STRATAVORE_DATA_DIR: dataDir, TERM: 'xterm' }
  return {
    url: daemon.url,
    home,
    dataDir,
    token,
    env,
    dir (name) {
      const path = join(home, name)
      mkdirSync(path, { recursive: true })
      return path
    },
    run: (args, { cwd = home, env: extra = {}, timeoutMs = 60_000 } = {}) => runCli(args, { cwd, env: { ...env, ...extra }, timeoutMs }),
  }
}

export const runCli = (args: string[], { cwd, env, timeoutMs = 60_000 }: { cwd: string, env: Record<string, string>, timeoutMs?: number }) =>
  new Promise<CliResult>((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] })
    child.stdin.end()
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', d => { stdout += d })
    child.stderr.on('data', d => { stderr += d })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`stratavore ${args.join(' ')} did not exit in ${timeoutMs} ms; stdout ${JSON.stringify(stdout)}, stderr ${JSON.stringify(stderr)}`))
    }, timeoutMs)
    child.once('exit', code => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })

/** Polls `check` until it returns a value; fails naming `what` after timeoutMs. */
export const eventually = async <T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}
