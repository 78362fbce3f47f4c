// The fault tests' rig: a scratch Postgres database, a unique RabbitMQ exchange with a ledger
// consumer on it, an in-process context on that database for writing events through the real
// use cases and for reading the outbox, and real `stratavored` processes (relay, api) started
// the way an operator starts them. Everything is torn down with the test.
import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { and, inArray, isNull, sql } from 'drizzle-orm'
import { openDatabase } from '../../src/adapters/db/client.js'
import { outbox } from '../../src/adapters/db/schema.js'
import { createContext, type Context } from '../../src/context.js'
import { tempDir, testConfig } from './app.js'
import { createScratchDatabase, testDatabaseUrl } from './database.js'
import { checkCrashLines, crashLines, startDaemon, type Daemon } from './daemon.js'
import { testAmqpUrl } from './bus.js'
import { createProject } from './fixtures.js'
import { openLedger, type Ledger } from './ledger.js'

type TapTest = Parameters<typeof createScratchDatabase>[0] & Parameters<typeof openLedger>[0] & Parameters<typeof checkCrashLines>[0] & {
  fail(...args: unknown[]): unknown
  pass(...args: unknown[]): unknown
}

/** Polls `check` until it holds; on timeout the error names `what` and, if given, `detail()`. */
export const waitFor = async (what: string, check: () => Promise<boolean> | boolean, { timeoutMs = 30_000, intervalMs = 50, detail }: { timeoutMs?: number, intervalMs?: number, detail?: () => Promise<string> | string } = {}) => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail ? `: ${await detail()}` : ''}`)
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
}

/** `promise`, or a rejection naming `what` after `timeoutMs`. */
export const within = async <T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> => {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs) })
  try { return await Promise.race([promise, timeout]) } finally { clearTimeout(timer) }
}

/** Fault tests need both services; like the RabbitMQ tests, they fail in CI when one is missing. */
export const requireServices = (t: TapTest): boolean => {
  if (testDatabaseUrl() && testAmqpUrl()) return true
  const why = 'STRATAVORE_TEST_DATABASE_URL and STRATAVORE_TEST_AMQP_URL must both be set'
  if (process.env.CI) t.fail(`${why}: CI must run the fault tests`)
  else t.pass('fault tests', { skip: why })
  return false
}

/** A number from the environment, with a default that may differ in CI. */
export const envNumber = (name: string, fallback: number, ciFallback = fallback) => {
  const raw = process.env[name]
  const n = raw ? Number(raw) : (process.env.CI ? ciFallback : fallback)
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${raw}`)
  return n
}

/** application_name of the rig's own database sessions (the daemons' are `stratavored`). */
export const RIG_APPLICATION_NAME = 'stratavore-test-rig'

export interface StvProcess extends Daemon {
  /** Set once the process has exited, with how. */
  exit: { code: number | null, signal: NodeJS.Signals | null } | null
  /** The process's JSON log lines (pino), parsed. */
  logs(): Array<Record<string, unknown>>
  role: string
  /** How it exited and, for a crash, the lines that are not JSON log lines (the stack trace). */
  describeExit(): string
  /** SIGTERM, then SIGKILL if it has not exited in time. */
  stop(): Promise<void>
}

export interface Rig {
  ctx: Context
  databaseUrl: string
  amqpUrl: string
  exchange: string
  ledger: Ledger
  batchSize: number
  /**
   * Starts `stratavored <role...>` (`all`, or one or more of api relay reconciler supervisor,
   * space-separated). `configFile` is passed as --config. The test fails if the process logs
   * an uncaught exception or an unhandled rejection (checked at teardown).
   */
  spawn(role: string, env?: Record<string, string>, options?: { configFile?: string }): Promise<StvProcess>
  /** Projects with a high quota, for writers to spread launches over. */
  projects(n: number): Promise<string[]>
  outboxIds(): Promise<string[]>
  /** Event ids of the rows not yet delivered (nor dead). */
  pendingIds(): Promise<string[]>
  backlog(): Promise<{ pending: number, dead: number }>
  /** Waits until the outbox has no pending row and every outbox event id reached the ledger. */
  drained(timeoutMs: number, ignore?: string[]): Promise<void>
}

export const openRig = async (t: TapTest, { batchSize, pollIntervalMs = 1000 }: { batchSize: number, pollIntervalMs?: number }): Promise<Rig> => {
  const databaseUrl = await createScratchDatabase(t)
  const amqpUrl = testAmqpUrl()!
  const exchange = `stv-fault-${randomBytes(5).toString('hex')}`
  // The rig's own sessions are named, so that a fault test can cut the daemons' and not its own.
  const rigUrl = new URL(databaseUrl)
  rigUrl.searchParams.set('application_name', RIG_APPLICATION_NAME)
  const database = await openDatabase({ kind: 'postgres', url: rigUrl.toString(), poolSize: 10 })
  t.teardown(() => database.close())
  const logger = pino({ level: process.env.STRATAVORE_TEST_LOG_LEVEL ?? 'silent' })
  // The test's own context has no AMQP_URL, so it uses the in-process bus: it never relays.
  const ctx = await createContext(testConfig(t), logger, { roles: ['api'], database })
  // Declared before any relay runs, so the ledger sees the first publish.
  const ledger = await openLedger(t, { url: amqpUrl, exchange })
  const home = tempDir(t, 'stv-fault-home-')
  const children = new Set<StvProcess>()
  const spawned: StvProcess[] = []
  // Registered first, so it runs last: after the processes have stopped, their whole output is in.
  t.teardown(() => { for (const p of spawned) checkCrashLines(t, p, p.role) })
  t.teardown(async () => { await Promise.all([...children].map(c => c.stop())) })

  const spawn = async (role: string, env: Record<string, string> = {}, { configFile }: { configFile?: string } = {}): Promise<StvProcess> => {
    const daemon = await startDaemon([...role.split(' '), ...(configFile ? ['--config', configFile] : [])], {
      HOME: home,
      // The test context's data dir: whatever a daemon keeps there (the audit key) is shared.
      STRATAVORE_DATA_DIR: ctx.config.dataDir,
      DATABASE_URL: databaseUrl,
      AMQP_URL: amqpUrl,
      STRATAVORE_DOCKER_RABBITMQ_EXCHANGE: exchange,
      STRATAVORE_RELAY_BATCH_SIZE: String(batchSize),
      STRATAVORE_RELAY_POLL_INTERVAL_MS: String(pollIntervalMs),
      STRATAVORE_OBSERVABILITY_LOG_FORMAT: 'json',
      STRATAVORE_DOCKER_PROMETHEUS_ENABLED: 'false',
      ...env,
    })
    const proc: StvProcess = Object.assign(daemon, {
      role,
      exit: null as StvProcess['exit'],
      describeExit: () => {
        if (!proc.exit) return `${role}: running`
        const raw = [...crashLines(daemon.output()), ...daemon.output().split('\n').filter(l => l.trim() && !l.startsWith('{'))].join('\n')
        return `${role} exited ${JSON.stringify(proc.exit)}${raw ? `:\n${raw.slice(-3000)}` : ''}`
      },
      logs: () => daemon.output().split('\n').filter(l => l.startsWith('{')).map(l => { try { return JSON.parse(l) as Record<string, unknown> } catch { return {} } }),
      async stop () {
        if (proc.exit) return
        daemon.child.kill('SIGTERM')
        const timer = setTimeout(() => daemon.child.kill('SIGKILL'), 15_000)
        await daemon.exited
        clearTimeout(timer)
      },
    })
    void daemon.exited.then(e => { proc.exit = e; children.delete(proc) })
    children.add(proc)
    spawned.push(proc)
    return proc
  }

  const outboxIds = async () => (await ctx.database.db.select({ id: outbox.eventId }).from(outbox)).map(r => r.id)
  const pendingIds = async () => (await ctx.database.db.select({ id: outbox.eventId }).from(outbox).where(and(isNull(outbox.deliveredAt), isNull(outbox.deadAt)))).map(r => r.id)
  const backlog = () => ctx.repos.outbox.backlog()
  let projectNo = 0
  return {
    ctx, databaseUrl, amqpUrl, exchange, ledger, batchSize, spawn, outboxIds, pendingIds, backlog,
    async projects (n) {
      const names: string[] = []
      for (let i = 0; i < n; i++) names.push((await createProject(t, ctx, { name: `fault-${process.pid}-${++projectNo}`, maxConcurrentRunners: 10_000 })).name)
      return names
    },
    async drained (timeoutMs, ignore = []) {
      const skip = new Set(ignore)
      let missing: string[] = []
      await waitFor('the outbox to drain and every event to reach the ledger', async () => {
        if ((await backlog()).pending > 0) return false
        missing = (await outboxIds()).filter(id => !skip.has(id) && !ledger.entries.has(id))
        return missing.length === 0
      }, {
        timeoutMs,
        intervalMs: 100,
        detail: async () => `backlog ${JSON.stringify(await backlog())}, ${missing.length} event(s) not at the ledger (e.g. ${missing.slice(0, 3).join(', ')})`,
      })
    },
  }
}

/** Waits `ms`, but fails at once, naming the process, if one of them exits meanwhile. */
export const holdWhileUp = (ms: number, processes: StvProcess[]) => new Promise<void>((resolve, reject) => {
  const timer = setTimeout(resolve, ms)
  for (const p of processes) {
    void p.exited.then(() => {
      clearTimeout(timer)
      reject(new Error(`a stratavored process exited during the fault: ${p.describeExit()}`))
    })
  }
})

/** Outbox rows with the given event ids, as the relay left them. */
export const outboxRows = (ctx: Context, ids: string[]) =>
  ctx.database.db.select().from(outbox).where(ids.length ? inArray(outbox.eventId, ids) : sql`false`)
