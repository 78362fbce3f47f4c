// What every part of bench/supervisor stands on: a fresh database (in-memory PGlite, or a
// scratch database on the benchmark Postgres, dropped afterwards), a context configured as a
// daemon's is (loadConfig over a temporary HOME, so the node identity and audit key live there)
// with a generic `/bin/sleep 3600` agent, and projects whose quota admits the whole run.
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino, type Logger } from 'pino'
import { openDatabase, type Database } from '../../src/adapters/db/client.js'
import { loadConfig } from '../../src/config.js'
import { createContext, type Context } from '../../src/context.js'
import { createScratchDatabase } from '../launch/scratch.js'

export type Backend = 'pglite' | 'postgres'
export const BENCH_AGENT = 'bench-sleep'
export const AGENT_COMMAND = ['/bin/sleep', '3600']
/** The API's maximum quota: far above what a run launches per project. */
const QUOTA = 10_000

export interface BenchDatabase { backend: Backend, database: Database, url: string | null, close(): Promise<void> }

/** A migrated, empty database; `url` is the scratch database's (Postgres) or null (PGlite, in memory). */
export const openBenchDatabase = async (backend: Backend, adminUrl: string | null, poolSize = 20): Promise<BenchDatabase> => {
  if (backend === 'pglite') {
    const database = await openDatabase({ kind: 'pglite', dataDir: null })
    await database.migrate()
    return { backend, database, url: null, close: () => database.close() }
  }
  if (!adminUrl) throw new Error('postgres needs a database URL')
  const scratch = await createScratchDatabase(adminUrl)
  try {
    const database = await openDatabase({ kind: 'postgres', url: scratch.url, poolSize })
    await database.migrate()
    return { backend, database, url: scratch.url, close: async () => { try { await database.close() } finally { await scratch.drop() } } }
  } catch (err) {
    await scratch.drop().catch(() => {})
    throw err
  }
}

/** Attaches to a database someone else made (the memory child on the parent's scratch database). */
export const attachBenchDatabase = async (url: string | null, poolSize = 20): Promise<Database> => {
  const database = url ? await openDatabase({ kind: 'postgres', url, poolSize }) : await openDatabase({ kind: 'pglite', dataDir: null })
  await database.migrate()
  return database
}

export interface RigOptions {
  database: Database
  capacity: number
  heartbeatSeconds: number
  projects: number
  roles: string[]
  logger?: Logger
}

export interface Rig { ctx: Context, projects: string[], root: string, close(): Promise<void> }

/** A context over `database` (which the caller closes), with projects `sv-01`… under a temp dir. */
export const openRig = async ({ database, capacity, heartbeatSeconds, projects, roles, logger }: RigOptions): Promise<Rig> => {
  const home = mkdtempSync(join(tmpdir(), 'stv-bench-sv-'))
  const root = realpathSync(home)
  const config = loadConfig({ env: { HOME: root, PATH: process.env.PATH ?? '/usr/bin:/bin' }, home: root })
  config.supervisor.capacity = capacity
  config.daemon.heartbeat_interval_seconds = heartbeatSeconds
  // /bin/sleep ends on SIGTERM at once; a short grace only bounds a stuck cleanup.
  config.supervisor.stop_timeout_seconds = 2
  config.agents[BENCH_AGENT] = { name: BENCH_AGENT, kind: 'generic', command: AGENT_COMMAND, env: {} }
  const log = logger ?? pino({ level: 'silent' })
  // The context does not own a database it is given: closing the rig leaves it open.
  const ctx = await createContext(config, log, { roles, database: { ...database, close: async () => {} } })
  const names: string[] = []
  try {
    for (let i = 1; i <= projects; i++) {
      const name = `sv-${String(i).padStart(2, '0')}`
      const path = join(root, name)
      mkdirSync(path, { recursive: true })
      await ctx.projects.create({ name, path }, 'bench')
      await ctx.projects.setQuota(name, QUOTA, 'bench')
      names.push(name)
    }
  } catch (err) {
    await ctx.close().catch(() => {})
    rmSync(home, { recursive: true, force: true })
    throw err
  }
  return {
    ctx,
    projects: names,
    root,
    async close () {
      await ctx.close().catch(() => {})
      rmSync(home, { recursive: true, force: true })
    },
  }
}

/** Polls (every `everyMs`, default 100) until `done` holds; throws naming `what` after timeoutMs. */
export const until = async (what: string, done: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 100): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
}

export const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

/** Whether a process exists (signal 0). */
export const alive = (pid: number) => {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}
