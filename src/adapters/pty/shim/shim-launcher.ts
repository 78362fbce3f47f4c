// Starts runner shims (shim-main.ts) and keeps their files, all under <data dir>/shims (0700):
//   <runner>.sock  the shim's socket (0600)      <runner>.json  generation, secret, shim pid (0600)
//   <runner>.exit  the agent's exit, once it has one      <runner>.log  the shim's own errors
// The record outlives the supervisor, so the next one can find and authenticate to the shim.
//
// The shim is compiled once per content into <data dir>/shims/shim-<hash>.mjs (esbuild, which
// tsx brings): a plain module starts in a tenth of the time and memory a TypeScript loader takes.
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { sourcePath } from '../../../source-root.js'
import type { ShimExitRecord, ShimSpec } from './shim-main.js'

export interface ShimRecord { runnerId: string, generation: number, secret: string, shimPid: number }

/** Unix socket paths are at most 107 bytes on Linux. */
const MAX_SOCKET_PATH = 107

export const shimDirOf = (dataDir: string) => join(dataDir, 'shims')

export const shimPaths = (dir: string, runnerId: string) => ({
  socket: join(dir, `${runnerId}.sock`),
  record: join(dir, `${runnerId}.json`),
  exit: join(dir, `${runnerId}.exit`),
  log: join(dir, `${runnerId}.log`),
})

/** Throws naming the setting when the data dir is too deep for a socket path. */
export const checkShimDir = (dir: string) => {
  const longest = shimPaths(dir, '00000000-0000-0000-0000-000000000000').socket
  if (Buffer.byteLength(longest) > MAX_SOCKET_PATH) {
    throw new Error(`supervisor.shim: the shim sockets under ${dir} would be longer than ${MAX_SOCKET_PATH} bytes; use a shorter daemon.data_dir or set supervisor.shim: false`)
  }
}

const ensureDir = (dir: string) => mkdirSync(dir, { recursive: true, mode: 0o700 })

const programs = new Map<string, Promise<string>>()

/** The compiled shim for this version of the code, built on first use. */
export const shimProgram = (dir: string): Promise<string> => {
  let program = programs.get(dir)
  if (!program) {
    program = buildShimProgram(dir).catch(err => { programs.delete(dir); throw err })
    programs.set(dir, program)
  }
  return program
}

const buildShimProgram = async (dir: string) => {
  ensureDir(dir)
  const { build } = await import('esbuild')
  const nodePty = createRequire(import.meta.url).resolve('@lydell/node-pty')
  const result = await build({
    entryPoints: [sourcePath('src/adapters/pty/shim/shim-main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    write: false,
    logLevel: 'silent',
    // The native module loads from where it is installed.
    plugins: [{ name: 'node-pty', setup: b => { b.onResolve({ filter: /^@lydell\/node-pty$/ }, () => ({ path: nodePty, external: true })) } }],
  })
  const code = result.outputFiles[0]!.contents
  const path = join(dir, `shim-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`)
  if (!existsSync(path)) {
    const temporary = `${path}.${randomBytes(4).toString('hex')}`
    writeFileSync(temporary, code, { mode: 0o600 })
    renameSync(temporary, path)
  }
  return path
}

export interface LaunchRequest extends Omit<ShimSpec, 'secret' | 'socketPath' | 'exitPath'> {
  dir: string
  startTimeoutMs?: number
}

/** Starts a shim for the runner's generation; resolves with what it needs to connect once its agent runs. */
export const launchShim = async (request: LaunchRequest): Promise<{ record: ShimRecord, agentPid: number }> => {
  const { dir, startTimeoutMs = 15_000, ...rest } = request
  const file = await shimProgram(dir)
  ensureDir(dir)
  const paths = shimPaths(dir, rest.runnerId)
  removeShimFiles(dir, rest.runnerId)
  const secret = randomBytes(32).toString('base64url')
  const spec: ShimSpec = { ...rest, secret, socketPath: paths.socket, exitPath: paths.exit }
  const log = openSync(paths.log, 'a', 0o600)
  // Its own session: no signal meant for the supervisor's group or terminal reaches it.
  const child = spawn(process.execPath, [file], { detached: true, stdio: ['pipe', 'pipe', log], cwd: dir, env: {} })
  closeSync(log)
  child.stdin!.end(JSON.stringify(spec))
  const answer = await new Promise<{ pid?: number, error?: string }>((resolve) => {
    let text = ''
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve({ error: `the shim did not start in ${startTimeoutMs} ms` }) }, startTimeoutMs)
    child.stdout!.on('data', (chunk: Buffer) => { text += chunk.toString('utf8') })
    const settle = () => {
      clearTimeout(timer)
      try { resolve(JSON.parse(text) as { pid?: number, error?: string }) } catch { resolve({ error: `the shim ended before it was ready: ${shimLogTail(dir, rest.runnerId)}` }) }
    }
    child.stdout!.on('end', settle)
    child.on('error', err => { clearTimeout(timer); resolve({ error: err.message }) })
  })
  child.unref()
  if (answer.error !== undefined || answer.pid === undefined) {
    removeShimFiles(dir, rest.runnerId)
    throw new Error(answer.error ?? 'the shim gave no pid')
  }
  const record: ShimRecord = { runnerId: rest.runnerId, generation: rest.generation, secret, shimPid: child.pid! }
  writeFileSync(paths.record, JSON.stringify(record), { mode: 0o600 })
  return { record, agentPid: answer.pid }
}

const readJson = <T>(path: string): T | null => {
  try { return JSON.parse(readFileSync(path, 'utf8')) as T } catch { return null }
}

export const readShimRecord = (dir: string, runnerId: string) => readJson<ShimRecord>(shimPaths(dir, runnerId).record)
export const readExitRecord = (dir: string, runnerId: string) => readJson<ShimExitRecord>(shimPaths(dir, runnerId).exit)

export const removeShimFiles = (dir: string, runnerId: string) => {
  for (const path of Object.values(shimPaths(dir, runnerId))) rmSync(path, { force: true })
}

const shimLogTail = (dir: string, runnerId: string) => {
  try { return readFileSync(shimPaths(dir, runnerId).log, 'utf8').slice(-500).trim() || 'no message' } catch { return 'no message' }
}
