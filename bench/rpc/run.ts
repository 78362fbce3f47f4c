// bench/rpc: one unary read, GetProject, over Connect (binary and JSON, HTTP/1.1, the HTTP
// port; a plain client and connect-node's) and gRPC (h2c, the gRPC port, connect-node) against
// the same read over REST (GET /api/v1/projects/:name), on one daemon in one process and one
// run, at the same concurrency. REST is the baseline: the RPC surfaces call the same use case,
// so the ratio is the cost of the protocol stack (see bench/rpc/load.ts for the clients).
// Prints one JSON object on stdout; progress goes to stderr.
//
//   npx tsx bench/rpc/run.ts [--duration 4] [--warmup 1] [--clients 16] [--rounds 1]
//     [--surfaces rest,connect,connect_json,connect_client,grpc] [--database-url postgres://...] [--log-level info]
//
// Without --database-url (or STRATAVORE_BENCH_DATABASE_URL) the daemon runs on embedded PGlite
// in a temp dir, as `npm start` does with no DATABASE_URL; with it, on a scratch database there.
import { mkdirSync, readFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { pino } from 'pino'
import { buildApp } from '../../src/api/app.js'
import { buildGrpcServer } from '../../src/api/grpc-server.js'
import { REDACT_PATHS } from '../../src/adapters/logger.js'
import { loadConfig } from '../../src/config.js'
import { createContext } from '../../src/context.js'
import { latencyPercentiles, machineFacts, mean, progressLog, readOptions, round, runLoadWorker, watchdog, withScratchDatabase, withTempDir, type PhaseMessage } from '../common.js'
import type { ScratchDatabase } from '../launch/scratch.js'
import { SURFACES, type LoadParams, type LoadResult, type Surface } from './load.js'

const log = progressLog('rpc')

const parseOptions = () => {
  const { text, number, choices } = readOptions({
    text: ['duration', 'warmup', 'clients', 'rounds', 'surfaces', 'database-url', 'log-level'],
  }, 'usage: tsx bench/rpc/run.ts [--duration S] [--warmup S] [--clients N] [--rounds N] [--surfaces rest,connect,connect_json,connect_client,grpc] [--database-url URL] [--log-level info]')
  const surfaces = choices('surfaces', 'surface', SURFACES)
  if (!surfaces.includes('rest')) throw new Error('--surfaces must include rest, the baseline')
  return {
    durationS: number('duration', 4, 1, 600),
    warmupS: number('warmup', 1, 0, 120),
    clients: Math.round(number('clients', 16, 1, 1000)),
    rounds: Math.round(number('rounds', 1, 1, 10)),
    surfaces,
    databaseUrl: text('database-url') || null,
    logLevel: text('log-level') ?? 'info',
  }
}

// The gRPC client keeps its HTTP/2 session open: end the worker rather than wait for it.
const runLoad = (params: LoadParams, onPhase: (m: PhaseMessage) => void) =>
  runLoadWorker<LoadParams, LoadResult>(new URL('./load.ts', import.meta.url), params, onPhase, { terminate: true })

interface Sample { load: LoadResult, serverElu: number, cpuMsPerCall: number }

const summarize = (samples: Sample[]) => {
  const all = Float64Array.from(samples.flatMap(s => [...s.load.latencies])).sort()
  const windowS = samples.reduce((sum, s) => sum + s.load.windowMs, 0) / 1000
  const meanOf = (pick: (s: Sample) => number) => round(mean(samples.map(pick)), 3)
  return {
    calls_per_second: round(all.length / windowS),
    ...latencyPercentiles(all, 2),
    count: all.length,
    errors: samples.reduce((sum, s) => sum + s.load.errors, 0),
    error_samples: samples.flatMap(s => s.load.errorSamples).slice(0, 5),
    server_event_loop_utilization: meanOf(s => s.serverElu),
    node_cpu_ms_per_call: meanOf(s => s.cpuMsPerCall),
    client_event_loop_utilization: meanOf(s => s.load.clientEventLoopUtilization),
  }
}

/** The daemon on `scratch` (PGlite under `home` when null), the clients against each surface, and the report. */
const measure = async (options: ReturnType<typeof parseOptions>, loadBefore: number, home: string, scratch: ScratchDatabase | null) => {
  const destination = pino.destination({ dest: '/dev/null', sync: false })
  // The daemon's logger options: every request line is built, then thrown away.
  const logger = pino({ level: options.logLevel, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination)
  const cleanups: Array<() => Promise<unknown>> = []
  try {
    const config = loadConfig({ env: { HOME: home, STRATAVORE_DATA_DIR: join(home, 'data'), ...(scratch ? { DATABASE_URL: scratch.url } : {}) }, home })
    const ctx = await createContext(config, logger, { roles: ['api'] })
    cleanups.unshift(() => ctx.close())
    const path = join(home, 'project')
    mkdirSync(path)
    const project = (await ctx.projects.create({ name: 'bench-rpc', path, description: 'bench/rpc', tags: ['bench'] }, 'bench')).name
    const app = await buildApp(ctx)
    cleanups.unshift(() => app.close())
    const httpUrl = await app.listen({ host: '127.0.0.1', port: 0 })
    const grpc = buildGrpcServer(ctx, { drainMs: 1000 })
    cleanups.unshift(() => grpc.close())
    const grpcUrl = `http://127.0.0.1:${(await grpc.listen({ host: '127.0.0.1', port: 0 })).port}`
    log(`${ctx.database.kind}; ${options.clients} clients; ${options.warmupS}s warm-up + ${options.durationS}s window; surfaces ${options.surfaces.join(', ')}; ${options.rounds} round(s)`)

    const samples = new Map<Surface, Sample[]>(options.surfaces.map(s => [s, []]))
    for (let r = 0; r < options.rounds; r++) {
      // Alternate the order every round so drift on the machine does not favour one surface.
      for (const surface of r % 2 === 0 ? options.surfaces : [...options.surfaces].reverse()) {
        let elu = performance.eventLoopUtilization()
        let cpu = process.cpuUsage()
        let serverElu = NaN
        let cpuMs = NaN
        const windowEnded = () => {
          serverElu = performance.eventLoopUtilization(elu).utilization
          const used = process.cpuUsage(cpu)
          cpuMs = (used.user + used.system) / 1000
        }
        const load = await runLoad({ surface, httpUrl, grpcUrl, project, token: readFileSync(config.adminTokenFile, 'utf8').trim(), clients: options.clients, warmupMs: options.warmupS * 1000, durationMs: options.durationS * 1000 }, m => {
          if (m.phase === 'window-start') { elu = performance.eventLoopUtilization(); cpu = process.cpuUsage() } else windowEnded()
        })
        // A late window-end message (a loaded machine) still leaves a sample, a little long.
        if (Number.isNaN(serverElu)) windowEnded()
        samples.get(surface)!.push({ load, serverElu, cpuMsPerCall: cpuMs / Math.max(1, load.latencies.length) })
        log(`round ${r + 1} ${surface}: ${Math.round(load.latencies.length / (load.windowMs / 1000))} calls/s, ${load.errors} errors`)
      }
    }

    const surfaces = Object.fromEntries([...samples].map(([surface, s]) => [surface, summarize(s)]))
    const rest = surfaces.rest!
    const ratios = Object.fromEntries(options.surfaces.filter(s => s !== 'rest').flatMap(s => [
      [`${s}_to_rest_throughput`, round((surfaces[s]!.calls_per_second ?? NaN) / (rest.calls_per_second ?? NaN), 3)],
      [`${s}_to_rest_p50`, round((surfaces[s]!.p50_ms ?? NaN) / (rest.p50_ms ?? NaN), 3)],
      [`${s}_to_rest_p99`, round((surfaces[s]!.p99_ms ?? NaN) / (rest.p99_ms ?? NaN), 3)],
    ]))
    process.stdout.write(`${JSON.stringify({
      bench: 'rpc',
      operation: 'stratavore.v1.ProjectService/GetProject vs GET /api/v1/projects/:name',
      database: ctx.database.kind,
      clients: options.clients,
      warmup_s: options.warmupS,
      duration_s: options.durationS,
      rounds: options.rounds,
      surfaces,
      ratios,
      machine: machineFacts(loadBefore),
    }, null, 2)}\n`)
  } finally {
    for (const cleanup of cleanups) await cleanup().catch(err => log(`cleanup failed: ${String(err)}`))
    destination.end()
  }
}

const main = async () => {
  const options = parseOptions()
  watchdog(options.rounds * options.surfaces.length * (options.warmupS + options.durationS + 30) * 1000 + 60_000, log)
  const loadBefore = loadavg()[0]!
  await withTempDir('stv-bench-rpc-', home => withScratchDatabase(options.databaseUrl, log, scratch => measure(options, loadBefore, home, scratch)))
}

main().then(() => process.exit(0), err => { log(String((err as Error)?.stack ?? err)); process.exit(1) })
