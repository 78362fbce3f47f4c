// bench/launch: launches per second and latency percentiles of POST /api/v1/runners on real
// Postgres, for the real Stratavore API and for a raw baseline (plain Fastify + one plain
// postgres.js transaction doing the same writes), measured in the same process and run.
// Prints one JSON object on stdout; progress goes to stderr. See bench/README.md.
//
//   npx tsx bench/launch/run.ts [--duration 10] [--warmup 2] [--clients 50] [--projects 20]
//     [--rounds 2] [--pool 20] [--variants raw,stratavore,stratavore-admin] [--log-level info] [--log-dest null|stderr]
//     [--database-url postgres://postgres@127.0.0.1:5432/postgres] [--check]
//
// Every option also reads STRATAVORE_BENCH_<NAME> (e.g. STRATAVORE_BENCH_DURATION=30,
// STRATAVORE_BENCH_DATABASE_URL=...). --check makes a missed target exit 1.
import { realpathSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import {
  latencyPercentiles, machineFacts, mean, percentileOfSorted, progressLog, readOptions, round, runBench, runLoadWorker, watchdog, withScratchDatabase, withTempDir,
  type PhaseMessage,
} from '../common.js'
import { cpuMeter, type CpuMeter, type WindowCpu } from './cpu.js'
import type { LoadParams, LoadResult } from './load.js'
import { startRaw } from './raw.js'
import { checkpoint, serverInfo } from './scratch.js'
import { BENCH_AGENT, defaultPoolSize, startStratavore } from './stratavore.js'
import type { BenchProject, Ledger, Variant, VariantOptions } from './variant.js'

const TARGETS = { p99_ms_max: 250, launches_per_second_min: 300, ratio_to_raw_min: 0.5 }
const QUOTA = 10_000 // the API's maximum; far above what a run launches per project
// `stratavore` authenticates with a named token (a database lookup per request), `stratavore-admin`
// with the admin token (checked in memory): their ratio is what authentication costs a launch.
const VARIANTS = { raw: startRaw, stratavore: startStratavore, 'stratavore-admin': (o: VariantOptions) => startStratavore(o, 'admin') } as const
type VariantName = keyof typeof VARIANTS

const log = progressLog('launch')

const parseOptions = () => {
  const { text, number, choices, flag } = readOptions({
    text: ['duration', 'warmup', 'clients', 'projects', 'rounds', 'pool', 'variants', 'log-level', 'log-dest', 'database-url'],
    boolean: ['check'],
  }, 'usage: tsx bench/launch/run.ts [--duration S] [--warmup S] [--clients N] [--projects N] [--rounds N] ' +
    '[--pool N] [--variants raw,stratavore] [--log-level info] [--log-dest null|stderr] [--database-url URL] [--check]')
  const variants = choices('variants', 'variant', Object.keys(VARIANTS) as VariantName[])
  const logDest = text('log-dest') ?? 'null'
  if (logDest !== 'null' && logDest !== 'stderr') throw new Error('--log-dest must be null or stderr')
  return {
    databaseUrl: text('database-url') ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    durationS: number('duration', 10, 1, 600),
    warmupS: number('warmup', 2, 0, 120),
    clients: Math.round(number('clients', 50, 1, 1000)),
    projects: Math.round(number('projects', 20, 1, 1000)),
    rounds: Math.round(number('rounds', 2, 1, 10)),
    poolSize: Math.round(number('pool', defaultPoolSize(), 1, 500)),
    variants,
    logLevel: text('log-level') ?? 'info',
    logDest: logDest as 'null' | 'stderr',
    check: flag('check'),
  }
}

const runLoad = (params: LoadParams, onPhase: (m: PhaseMessage) => void) =>
  runLoadWorker<LoadParams, LoadResult>(new URL('./load.ts', import.meta.url), params, onPhase)

const addCounts = (into: Record<string, number>, from: Record<string, number>) => {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v
}

interface RoundResult { variant: VariantName, round: number, load: LoadResult, ledger: Ledger, setupMs: number, cpu: WindowCpu | null }

/** CPU figures averaged over the rounds that have them. */
const meanCpu = (results: RoundResult[]) => {
  const keys = ['server_event_loop_utilization', 'node_process_cpu_ms_per_launch', 'postgres_cpu_ms_per_launch'] as const
  const out: Record<string, number | null> = {}
  for (const key of keys) {
    const values = results.map(r => r.cpu?.[key]).filter((v): v is number => typeof v === 'number')
    out[key] = round(mean(values), 3)
  }
  const client = results.map(r => r.load.clientEventLoopUtilization).filter(Number.isFinite)
  out.client_event_loop_utilization = round(mean(client), 3)
  return out
}

const summarize = (results: RoundResult[]) => {
  const all = new Float64Array(results.reduce((n, r) => n + r.load.latencies.length, 0))
  let offset = 0
  for (const r of results) { all.set(r.load.latencies, offset); offset += r.load.latencies.length }
  all.sort()
  const windowS = results.reduce((s, r) => s + r.load.windowMs, 0) / 1000
  const errors: Record<string, number> = {}
  const warmupErrors: Record<string, number> = {}
  for (const r of results) { addCounts(errors, r.load.errors); addCounts(warmupErrors, r.load.warmup.errors) }
  const errorCount = Object.values(errors).reduce((a, b) => a + b, 0)
  // Every 2xx must have left exactly one runner, one outbox row and one audit row.
  const ledgerOk = results.every(r => r.ledger.runners === r.load.totalOk && r.ledger.outbox === r.load.totalOk && r.ledger.events === r.load.totalOk)
  return {
    launches_per_second: round(all.length / windowS),
    ...latencyPercentiles(all, 2),
    mean_ms: round(mean(all), 2),
    count: all.length,
    errors: errorCount,
    errors_by_kind: errors,
    error_samples: results.flatMap(r => r.load.errorSamples).slice(0, 5),
    cpu: meanCpu(results),
    warmup_errors: warmupErrors,
    ledger_ok: ledgerOk,
    rounds: results.map(r => ({
      round: r.round,
      launches_per_second: round(r.load.latencies.length / (r.load.windowMs / 1000)),
      p99_ms: round(percentileOfSorted(Float64Array.from(r.load.latencies).sort(), 99), 2),
      per_second: r.load.perSecond,
      setup_ms: Math.round(r.setupMs),
      client_event_loop_utilization: r.load.clientEventLoopUtilization,
      ...r.cpu,
      launches_total: r.load.totalOk,
      ledger: r.ledger,
    })),
  }
}

const main = async () => {
  const options = parseOptions()
  const startedAt = new Date()
  watchdog(options.rounds * options.variants.length * (options.warmupS + options.durationS + 60) * 1000 + 60_000, log)

  const loadBefore = loadavg()
  const pg = await serverInfo(options.databaseUrl)
  log(`postgres ${pg.server_version}; ${options.clients} clients over ${options.projects} projects; ` +
    `${options.warmupS}s warm-up + ${options.durationS}s window; ${options.rounds} round(s); pool ${options.poolSize}`)

  // Alternate the order every round (raw, stratavore, stratavore, raw, ...) so drift on the
  // machine does not always favour the same variant.
  const schedule: Array<{ variant: VariantName, round: number }> = []
  for (let r = 0; r < options.rounds; r++) {
    const order = r % 2 === 0 ? options.variants : [...options.variants].reverse()
    for (const variant of order) schedule.push({ variant, round: r + 1 })
  }

  const results: RoundResult[] = []
  for (const { variant, round: roundNo } of schedule) {
    await withTempDir('stv-bench-projects-', workDir => {
      const setupStart = performance.now()
      return withScratchDatabase(options.databaseUrl, log, async scratch => {
        let system: Variant | undefined
        let meter: CpuMeter | undefined
        try {
          const root = realpathSync(workDir)
          const projects: BenchProject[] = Array.from({ length: options.projects }, (_, i) => ({
            name: `bench-${String(i + 1).padStart(2, '0')}`,
            path: join(root, `bench-${String(i + 1).padStart(2, '0')}`),
            maxConcurrentRunners: QUOTA,
          }))
          const variantOptions: VariantOptions = {
            databaseUrl: scratch.url, poolSize: options.poolSize, projects, logLevel: options.logLevel, logDestination: options.logDest,
          }
          log(`round ${roundNo} ${variant}: setting up on ${scratch.name}`)
          system = await VARIANTS[variant](variantOptions)
          await checkpoint(options.databaseUrl)
          const setupMs = performance.now() - setupStart
          log(`round ${roundNo} ${variant}: loading ${system.url}`)
          meter = cpuMeter(options.databaseUrl, scratch.name)
          let startMark: ReturnType<CpuMeter['mark']> | undefined
          let endMark: ReturnType<CpuMeter['mark']> | undefined
          const m = meter
          const load = await runLoad({
            url: system.url,
            headers: system.headers,
            projects: projects.map(p => p.name),
            agent: BENCH_AGENT,
            clients: options.clients,
            warmupMs: options.warmupS * 1000,
            durationMs: options.durationS * 1000,
            requestTimeoutMs: 30_000,
          }, ({ phase }) => {
            // Unhandled rejections are impossible here: mark() catches its own query errors.
            if (phase === 'window-start') startMark = m.mark()
            else endMark = m.mark()
          })
          const [a, b] = await Promise.all([startMark, endMark])
          const cpu = a && b ? m.summarize(a, b, load.latencies.length) : null
          const ledger = await system.ledger()
          const rate = load.latencies.length / (load.windowMs / 1000)
          log(`round ${roundNo} ${variant}: ${rate.toFixed(0)} launches/s, ${Object.values(load.errors).reduce((a, b) => a + b, 0)} errors`)
          results.push({ variant, round: roundNo, load, ledger, setupMs, cpu })
        } finally {
          await meter?.close().catch(() => {})
          await system?.close().catch(err => log(`close failed: ${(err as Error).message}`))
        }
      })
    })
  }

  const variants = Object.fromEntries(options.variants.map(v => [v, summarize(results.filter(r => r.variant === v))]))
  const s = variants.stratavore
  const raw = variants.raw
  const ratio = s && raw && s.launches_per_second !== null && raw.launches_per_second ? round(s.launches_per_second / raw.launches_per_second, 3) : null
  // Per round too: the two variants of one round ran back to back, under the same conditions.
  const ratioByRound = s && raw
    ? s.rounds.map(r => {
      const base = raw.rounds.find(x => x.round === r.round)?.launches_per_second
      return base && r.launches_per_second !== null ? round(r.launches_per_second / base, 3) : null
    })
    : null
  const admin = variants['stratavore-admin']
  const authCost = s && admin && s.launches_per_second !== null && admin.launches_per_second ? round(1 - s.launches_per_second / admin.launches_per_second, 3) : null
  const targets = s
    ? {
        p99_ms_max: TARGETS.p99_ms_max,
        p99_pass: s.p99_ms !== null && s.p99_ms <= TARGETS.p99_ms_max,
        launches_per_second_min: TARGETS.launches_per_second_min,
        launches_per_second_pass: s.launches_per_second !== null && s.launches_per_second >= TARGETS.launches_per_second_min,
        ratio_to_raw_min: TARGETS.ratio_to_raw_min,
        ratio_to_raw_pass: ratio === null ? null : ratio >= TARGETS.ratio_to_raw_min,
        no_errors_pass: s.errors === 0 && s.ledger_ok,
      }
    : null
  const pass = targets ? targets.p99_pass && targets.launches_per_second_pass && targets.ratio_to_raw_pass !== false && targets.no_errors_pass : null

  const report = {
    benchmark: 'launch',
    started_at: startedAt.toISOString(),
    machine: machineFacts(loadBefore[0]!, { postgres: pg }),
    parameters: {
      clients: options.clients,
      projects: options.projects,
      warmup_s: options.warmupS,
      duration_s: options.durationS,
      rounds: options.rounds,
      pool_size: options.poolSize,
      quota_per_project: QUOTA,
      stratavore_log: `${options.logLevel} -> ${options.logDest === 'null' ? '/dev/null' : 'stderr'}`,
      order: schedule.map(x => `${x.round}:${x.variant}`),
    },
    variants,
    stratavore_to_raw_throughput_ratio: ratio,
    // What authentication costs a launch: a named token looked up in the database against the
    // admin token checked in memory (target: at most 10 %).
    auth_cost_share: authCost,
    stratavore_to_raw_throughput_ratio_by_round: ratioByRound,
    targets,
    pass,
  }
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
  if (options.check && pass === false) process.exitCode = 1
}

runBench(main, log)
