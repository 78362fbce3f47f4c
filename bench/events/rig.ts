// What both event benchmarks stand on: a scratch database with a real context on it (for
// writing events through the real use cases), a unique exchange, and the real relay, run as
// the `stratavored relay` process an operator starts (so its CPU, logging and event loop are
// its own, as in production). Names are generated here; everything is removed by close().
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import amqp from 'amqplib'
import { pino } from 'pino'
import { loadConfig } from '../../src/config.js'
import { createContext, type Context } from '../../src/context.js'
import { createScratchDatabase, type ScratchDatabase } from '../launch/scratch.js'

const freePort = () => new Promise<number>((resolve, reject) => {
  const server = createServer()
  server.once('error', reject)
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as { port: number }
    server.close(() => resolve(port))
  })
})

const BIN = fileURLToPath(new URL('../../bin/stratavored.mjs', import.meta.url))
export const BENCH_AGENT = 'generic-test'

export interface RelayProcess {
  child: ChildProcess
  /** Wall-clock ms (Date.now() in the relay) of its 'relay started' log line. */
  started: Promise<number>
  /** utime+stime of the relay process so far, in ms (Linux /proc). */
  cpuMs(): number | null
  stop(): Promise<void>
}

export interface EventsRig {
  ctx: Context
  scratch: ScratchDatabase
  amqpUrl: string
  exchange: string
  /** Projects with quota 10,000 (the API's maximum), created through the use case. */
  projects(n: number): Promise<string[]>
  spawnRelay(env?: Record<string, string>): RelayProcess
  /**
   * `stratavored api relay reconciler` (the API with its live feed, and the relay, in one process)
   * on a free port; resolves once /health answers. Everything `all` runs but the supervisor,
   * which would otherwise claim the benchmark's runners and start their agents.
   */
  /** `token`: the daemon's admin token (it shares the rig's data dir), for the feed's clients. */
  spawnApi(env?: Record<string, string>): Promise<RelayProcess & { url: string, token: string }>
  /** The topology the relay's bus declares, plus a queue of our own bound '#'. */
  declareQueues(channel: amqp.Channel, queue: string): Promise<void>
  close(): Promise<void>
}

// USER_HZ: 100 on Linux x86-64 and arm64 (bench/launch/cpu.ts asks getconf; a fork per sample is not worth it here).
const CLOCK_TICKS = 100
const processCpuMs = (pid: number | undefined): number | null => {
  if (!pid) return null
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ') // fields from #3 (state) on
    return (Number(fields[11]) + Number(fields[12])) * 1000 / CLOCK_TICKS // #14 utime, #15 stime
  } catch {
    return null
  }
}

export const openEventsRig = async ({ adminUrl, amqpUrl }: { adminUrl: string, amqpUrl: string }): Promise<EventsRig> => {
  const home = mkdtempSync(join(tmpdir(), 'stv-bench-events-'))
  const scratch = await createScratchDatabase(adminUrl)
  const exchange = `stv-bench-${randomBytes(5).toString('hex')}`
  const children = new Set<ChildProcess>()
  let ctx: Context | undefined
  try {
    // No AMQP_URL here: this context only writes (its bus is the in-process one, never used).
    const config = loadConfig({ env: { HOME: home, DATABASE_URL: scratch.url }, home })
    config.agents[BENCH_AGENT] = { name: BENCH_AGENT, kind: 'generic', command: ['/bin/sleep', '3600'], env: {} }
    ctx = await createContext(config, pino({ level: 'silent' }), { roles: ['api'] })
  } catch (err) {
    await scratch.drop().catch(() => {})
    rmSync(home, { recursive: true, force: true })
    throw err
  }
  const context = ctx
  let projectNo = 0
  // The 'relay started' line is the start signal of both (the API process runs the relay too).
  const spawnRoles = (roles: string[], env: Record<string, string>): RelayProcess => {
    // STRATAVORE_BENCH_DAEMON_NODE_ARGS profiles the daemon, e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof' (written on SIGTERM).
    const nodeArgs = (process.env.STRATAVORE_BENCH_DAEMON_NODE_ARGS ?? '').split(' ').filter(Boolean)
    const child = spawn(process.execPath, [...nodeArgs, BIN, ...roles], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        STRATAVORE_DATA_DIR: context.config.dataDir,
        DATABASE_URL: scratch.url,
        AMQP_URL: amqpUrl,
        STRATAVORE_DOCKER_RABBITMQ_EXCHANGE: exchange,
        STRATAVORE_OBSERVABILITY_LOG_FORMAT: 'json',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    children.add(child)
    let output = ''
    let resolveStarted: (ms: number) => void = () => {}
    let rejectStarted: (err: Error) => void = () => {}
    const started = new Promise<number>((resolve, reject) => { resolveStarted = resolve; rejectStarted = reject })
    let seen = false
    const onData = (d: Buffer) => {
      output += d
      const line = seen ? undefined : output.split('\n').find(l => l.includes('"relay started"'))
      if (line) { seen = true; resolveStarted(Number((JSON.parse(line) as { time: number }).time)) }
      if (output.length > 1_000_000) output = output.slice(-100_000)
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    const exited = new Promise<void>(resolve => child.once('exit', (code, signal) => {
      children.delete(child)
      rejectStarted(new Error(`stratavored ${roles.join(' ')} exited (${code ?? signal}) before it started:\n${output.slice(-2000)}`))
      resolve()
    }))
    return {
      child,
      started,
      cpuMs: () => processCpuMs(child.pid),
      async stop () {
        if (child.exitCode !== null || child.signalCode !== null) return
        child.kill('SIGTERM')
        const force = setTimeout(() => child.kill('SIGKILL'), 15_000)
        await exited
        clearTimeout(force)
      },
    }
  }


  return {
    ctx: context,
    scratch,
    amqpUrl,
    exchange,
    async projects (n) {
      const names: string[] = []
      for (let i = 0; i < n; i++) {
        const name = `bench-${++projectNo}`
        const path = join(realpathSync(home), name)
        mkdirSync(path)
        await context.projects.create({ name, path }, 'bench')
        await context.projects.setQuota(name, 10_000, 'bench')
        names.push(name)
      }
      return names
    },
    spawnRelay: env => spawnRoles(['relay'], env ?? {}),
    async spawnApi (env = {}) {
      const port = await freePort()
      const proc = spawnRoles(['api', 'relay', 'reconciler'], { STRATAVORE_DAEMON_HTTP_PORT: String(port), STRATAVORE_DOCKER_PROMETHEUS_PORT: String(await freePort()), ...env })
      const url = `http://127.0.0.1:${port}`
      await proc.started
      for (let i = 0; !(await fetch(`${url}/api/v1/health`).then(r => r.ok, () => false)); i++) {
        if (i > 300) throw new Error('stratavored api relay reconciler did not become healthy within 30 s')
        await new Promise(resolve => setTimeout(resolve, 100))
      }
      return { ...proc, url, token: readFileSync(context.config.adminTokenFile, 'utf8').trim() }
    },
    async declareQueues (channel, queue) {
      // Same arguments as src/adapters/bus/amqp-bus.ts, so the raw baseline routes every
      // message to the same two queues the relay's messages go to.
      await channel.assertExchange(exchange, 'topic', { durable: true })
      await channel.assertQueue(`${exchange}.log`, { durable: true, arguments: { 'x-max-length': 100_000, 'x-overflow': 'drop-head' } })
      await channel.bindQueue(`${exchange}.log`, exchange, '#')
      await channel.assertQueue(queue, { durable: true })
      await channel.bindQueue(queue, exchange, '#')
    },
    async close () {
      for (const child of children) child.kill('SIGKILL')
      await context.close().catch(() => {})
      try {
        const conn = await amqp.connect(amqpUrl).catch(() => null)
        if (conn) {
          conn.on('error', () => {})
          try {
            const ch = await conn.createChannel()
            ch.on('error', () => {})
            for (const q of [`${exchange}.log`, `${exchange}.bench`]) await ch.deleteQueue(q).catch(() => {})
            await ch.deleteExchange(exchange).catch(() => {})
          } finally {
            await conn.close().catch(() => {})
          }
        }
      } finally {
        // The database goes whatever happened to the broker's side.
        await scratch.drop()
        rmSync(home, { recursive: true, force: true })
      }
    },
  }
}
