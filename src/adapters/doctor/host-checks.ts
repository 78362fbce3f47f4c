// Doctor checks of the daemon's host: the agent CLIs (found on PATH, with their version), the
// modes of the data dir and the files that hold secrets, and the ports the daemon serves.
import { execFile } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import type { Config } from '../../config.js'
import { resolveExecutable } from '../pty/resolve-executable.js'
import { fail, ok, warn, type DoctorCheck } from './doctor-check.js'

const VERSION_TIMEOUT_MS = 8_000

const versionOf = (path: string, env: Record<string, string>) => new Promise<string>((resolve, reject) => {
  execFile(path, ['--version'], { env, timeout: VERSION_TIMEOUT_MS, maxBuffer: 64 * 1024 }, (err, stdout, stderr) => {
    const line = `${stdout}${stderr}`.split('\n').map(l => l.trim()).find(Boolean) ?? ''
    if (err && !line) return reject(new Error(`${path} --version failed: ${err.message.split('\n')[0]}`))
    resolve(line.slice(0, 120))
  })
})

/** Each configured agent's program: on the PATH agents get, and what `--version` says (generic: found only). */
export const agentChecks = async (config: Config): Promise<DoctorCheck[]> => Promise.all(Object.values(config.agents).map(async agent => {
  const name = `agent ${agent.name}`
  const env = { ...config.agentEnvironment, ...agent.env }
  let path: string
  try { path = resolveExecutable(agent.command[0]!, process.cwd(), env) } catch (err) {
    // The default agent missing is a failure; another configured one only a warning.
    return (agent.name === config.defaults.agent ? fail : warn)(name, (err as Error).message)
  }
  if (agent.kind === 'generic') return ok(name, path)
  try { return ok(name, `${await versionOf(path, env)} (${path})`) } catch (err) { return fail(name, (err as Error).message) }
}))

const modeText = (mode: number) => (mode & 0o777).toString(8).padStart(4, '0')

/** Files other users must not read or write: the data dir (0700) and the secrets in and around it (0600). */
export const fileModeChecks = (config: Config): DoctorCheck[] => {
  const checks: DoctorCheck[] = []
  if (!existsSync(config.dataDir)) return [fail('data dir', `${config.dataDir} does not exist`)]
  const dirMode = statSync(config.dataDir).mode
  checks.push((dirMode & 0o077) === 0 ? ok('data dir', `${config.dataDir} ${modeText(dirMode)}`)
    : fail('data dir', `${config.dataDir} is ${modeText(dirMode)}: other users can reach the database and keys; chmod 700 it`))
  const files = [
    config.adminTokenFile, join(config.dataDir, 'audit.key'), join(config.dataDir, 'node-identity.json'), join(config.dataDir, 'audit-checkpoints.jsonl'),
    config.security.audit_key_file, config.database.postgresql.password_file, config.docker.rabbitmq.password_file,
    config.github.token_file, config.docker.prometheus.token_file, config.daemon.tls_key_file, config.daemon.grpc_tls_key_file,
  ].filter((f, i, all) => f !== '' && all.indexOf(f) === i && existsSync(f))
  const open = files.filter(f => (statSync(f).mode & 0o077) !== 0)
  checks.push(open.length === 0 ? ok('file modes', `${files.length} files with secrets, none readable by other users`)
    : fail('file modes', `readable by other users: ${open.map(f => `${f} (${modeText(statSync(f).mode)})`).join(', ')}; chmod 600 them`))
  return checks
}

const dialHost = (host: string) => host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host

const listening = (host: string, port: number) => new Promise<boolean>(resolve => {
  const socket = connect({ host: dialHost(host), port, timeout: 2_000 })
  const done = (up: boolean) => { socket.destroy(); resolve(up) }
  socket.once('connect', () => done(true))
  socket.once('error', () => done(false))
  socket.once('timeout', () => done(false))
})

/** The ports this daemon's API process serves, dialled from the daemon itself. */
export const portChecks = async (config: Config): Promise<DoctorCheck[]> => {
  const ports: Array<[string, string, number, string]> = [
    ['port http', config.daemon.host, config.daemon.http_port, 'daemon.http_port'],
    ['port grpc', config.daemon.host, config.daemon.grpc_port, 'daemon.grpc_port'],
    ...(config.docker.prometheus.enabled ? [['port metrics', config.docker.prometheus.host, config.docker.prometheus.port, 'docker.prometheus.port'] as [string, string, number, string]] : []),
  ]
  return Promise.all(ports.map(async ([name, host, port, key]) => await listening(host, port)
    ? ok(name, `${host}:${port} listening`)
    : fail(name, `nothing answers on ${host}:${port} (${key}); is the api role running, or is the port taken by another program?`)))
}
