// bench/supervisor: the node supervisor's costs, each beside a raw baseline measured in the
// same run (see bench/README.md):
//   (a) launch → running latency of N runners launched at once, vs raw node-pty spawns;
//   (b) the supervisor process's memory per idle runner (the agents' own memory excluded);
//   (c) heartbeat ingest: the per-host batch statement at 1,000 runners and up to the knee,
//       vs a plain UPDATE … FROM of the same rows.
// On PGlite, and also on Postgres when STRATAVORE_BENCH_DATABASE_URL or DATABASE_URL is set
// (a scratch database per measurement, dropped after). Prints one JSON object on stdout;
// progress goes to stderr.
//
//   npx tsx bench/supervisor/run.ts [--sections launch,memory,heartbeat] [--backends pglite,postgres]
//     [--runners 100] [--memory-runners 100] [--levels 1000,2000,5000,10000] [--batches 50]
//     [--max-level-seconds 8] [--projects 10] [--database-url URL] [--check]
//
// Every option also reads STRATAVORE_BENCH_<NAME>. --check makes a missed target exit 1.
import { loadavg } from 'node:os'
import { machineFacts, progressLog, readOptions, round, runBench, watchdog, withTempDir } from '../common.js'
import { measureHeartbeat } from './heartbeat.js'
import { measureRawPty, measureStratavore } from './latency.js'
import { measureMemory } from './memory.js'
import type { Backend } from './rig.js'

const TARGETS = { launch_p99_ms_max: 1000, overhead_ms_max: 100, memory_per_runner_mib_max: 5, heartbeat_p99_ms_max_at_1000: 50 }
const SECTIONS = ['launch', 'memory', 'heartbeat'] as const
const BACKENDS: Backend[] = ['pglite', 'postgres']
const HEARTBEAT_INTERVAL_MS = 10_000 // daemon.heartbeat_interval_seconds' default

const log = progressLog('supervisor')

const parseOptions = () => {
  const { text, number, list, choices, flag } = readOptions({
    text: ['sections', 'backends', 'runners', 'memory-runners', 'levels', 'batches', 'max-level-seconds', 'projects', 'database-url'],
    boolean: ['check'],
  }, 'usage: tsx bench/supervisor/run.ts [--sections launch,memory,heartbeat] [--backends pglite,postgres] [--runners N] ' +
    '[--memory-runners N] [--levels 1000,2000,5000,10000] [--batches N] [--max-level-seconds S] [--projects N] [--database-url URL] [--check]')
  const databaseUrl = text('database-url') ?? process.env.DATABASE_URL ?? null
  const sections = choices('sections', 'section', SECTIONS)
  const backends = choices('backends', 'backend', BACKENDS, databaseUrl ? BACKENDS : ['pglite'])
  if (backends.includes('postgres') && !databaseUrl) throw new Error('--backends postgres needs --database-url, STRATAVORE_BENCH_DATABASE_URL or DATABASE_URL')
  const levels = list('levels', '1000,2000,5000,10000').map(Number)
  if (levels.some(n => !Number.isInteger(n) || n < 1 || n > 200_000)) throw new Error('--levels must be integers from 1 to 200000')
  return {
    databaseUrl,
    sections,
    backends,
    runners: Math.round(number('runners', 100, 1, 1000)),
    memoryRunners: Math.round(number('memory-runners', 100, 10, 1000)),
    levels,
    batches: Math.round(number('batches', 50, 5, 1000)),
    maxLevelSeconds: number('max-level-seconds', 8, 1, 600),
    projects: Math.round(number('projects', 10, 1, 99)),
    check: flag('check'),
  }
}

const launchSection = (backend: Backend, o: ReturnType<typeof parseOptions>) => withTempDir('stv-bench-raw-', async cwd => {
  // Raw first, then Stratavore: both on the same machine within seconds of each other.
  log(`${backend}: raw node-pty, ${o.runners} spawns at once`)
  const raw = await measureRawPty({ count: o.runners, cwd })
  log(`${backend}: ${o.runners} launches at once through the use case, supervisor and relay in-process`)
  const stratavore = await measureStratavore({ backend, adminUrl: o.databaseUrl, count: o.runners, projects: o.projects, warmup: 3 })
  const diff = (key: 'p50_ms' | 'p99_ms') => round((stratavore.launch_to_running[key] ?? NaN) - (raw.spawn_to_pid[key] ?? NaN))
  log(`${backend}: launch → running p50 ${stratavore.launch_to_running.p50_ms} ms, p99 ${stratavore.launch_to_running.p99_ms} ms; raw p50 ${raw.spawn_to_pid.p50_ms} ms, p99 ${raw.spawn_to_pid.p99_ms} ms`)
  return { stratavore, raw, overhead_p50_ms: diff('p50_ms'), overhead_p99_ms: diff('p99_ms') }
})

const main = async () => {
  const o = parseOptions()
  const startedAt = new Date()
  watchdog(o.backends.length * ((o.sections.includes('launch') ? 180 : 0) + (o.sections.includes('memory') ? 300 : 0) +
    (o.sections.includes('heartbeat') ? o.levels.length * (o.maxLevelSeconds * 3 + 60) : 0)) * 1000 + 60_000, log)
  const loadBefore = loadavg()

  const results: Record<string, Record<string, unknown>> = {}
  const targets: Record<string, Record<string, unknown>> = {}
  for (const backend of o.backends) {
    const r: Record<string, unknown> = {}
    const t: Record<string, unknown> = {}
    if (o.sections.includes('launch')) {
      const launch = await launchSection(backend, o)
      r.launch_to_running = launch
      t.launch_p99_pass = (launch.stratavore.launch_to_running.p99_ms ?? Infinity) <= TARGETS.launch_p99_ms_max
      t.launch_overhead_pass = Math.max(launch.overhead_p50_ms ?? Infinity, launch.overhead_p99_ms ?? Infinity) <= TARGETS.overhead_ms_max
    }
    if (o.sections.includes('memory')) {
      log(`${backend}: supervisor memory with ${o.memoryRunners} idle runners (child process)`)
      const memory = await measureMemory({ backend, adminUrl: o.databaseUrl, count: o.memoryRunners, warmup: 3, heartbeatSeconds: 1, projects: o.projects })
      log(`${backend}: ${memory.per_runner_kib.rss} KiB RSS, ${memory.per_runner_kib.heap_used} KiB heap per idle runner`)
      r.memory_per_idle_runner = memory
      t.memory_pass = (memory.per_runner_kib.rss ?? Infinity) / 1024 <= TARGETS.memory_per_runner_mib_max
    }
    if (o.sections.includes('heartbeat')) {
      const heartbeat = await measureHeartbeat({
        backend, adminUrl: o.databaseUrl, levels: o.levels, batches: o.batches, warmupBatches: 2,
        maxLevelSeconds: o.maxLevelSeconds, intervalMs: HEARTBEAT_INTERVAL_MS, projects: o.projects,
      })
      r.heartbeat_ingest = heartbeat
      const at1000 = heartbeat.levels.find(l => l.runners === 1000)
      t.heartbeat_pass = at1000 ? (at1000.heartbeat.p99_ms ?? Infinity) <= TARGETS.heartbeat_p99_ms_max_at_1000 : null
    }
    results[backend] = r
    targets[backend] = t
  }
  const verdicts = Object.values(targets).flatMap(t => Object.values(t)).filter(v => typeof v === 'boolean')
  const pass = verdicts.every(Boolean)
  const report = {
    benchmark: 'supervisor',
    started_at: startedAt.toISOString(),
    machine: machineFacts(loadBefore[0]!),
    parameters: {
      sections: o.sections, backends: o.backends, runners: o.runners, memory_runners: o.memoryRunners, levels: o.levels,
      batches: o.batches, max_level_seconds: o.maxLevelSeconds, projects: o.projects, agent: '/bin/sleep 3600 (generic, terminal)',
      heartbeat_interval_ms: HEARTBEAT_INTERVAL_MS,
    },
    results,
    targets: { ...TARGETS, by_backend: targets },
    pass,
  }
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
  if (o.check && !pass) process.exitCode = 1
}

runBench(main, log)
