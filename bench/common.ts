// What every bench/<name>/run.ts does the same way, kept in one place so the benches cannot
// drift apart: reading options (a flag, else STRATAVORE_BENCH_<NAME>), the nearest-rank
// percentiles and rounding their JSON reports use, running the load generator in a worker
// thread, and making and removing the scratch database and temp dir a measurement runs on.
// Only what the run.ts files share lives here; each bench's own measurement stays beside it.
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { Worker } from 'node:worker_threads'
import { createScratchDatabase, type ScratchDatabase } from './launch/scratch.js'

export type Log = (message: string) => void

/** Progress lines go to stderr, prefixed `[bench:<name>]`: stdout carries only the JSON report. */
export const progressLog = (bench: string): Log => message => process.stderr.write(`[bench:${bench}] ${message}\n`)

/** A hard stop in case something hangs; unref'd so it never keeps a finished run alive. */
export const watchdog = (budgetMs: number, log: Log) => {
  setTimeout(() => { log(`gave up after ${budgetMs} ms`); process.exit(3) }, budgetMs).unref()
}

/**
 * Parses the command line: `--<name> <value>` for each of `flags.text`, `--<name>` for each of
 * `flags.boolean`, and --help/-h, which prints `usage` to stderr and exits 0. Returns readers in
 * which each flag falls back to STRATAVORE_BENCH_<NAME> (upper case, `-` as `_`), so a bench can
 * be configured from CI's environment alone.
 */
export const readOptions = <S extends string, B extends string = never>(flags: { text: readonly S[], boolean?: readonly B[] }, usage: string) => {
  type Name = S | B
  const options: NonNullable<ParseArgsConfig['options']> = { help: { type: 'boolean', short: 'h' } }
  for (const name of flags.text) options[name] = { type: 'string' }
  for (const name of flags.boolean ?? []) options[name] = { type: 'boolean' }
  const { values } = parseArgs({ options })
  if (values.help) {
    process.stderr.write(`${usage}\n`)
    process.exit(0)
  }
  const given = values as Record<string, string | boolean | undefined>
  const env = (name: Name) => process.env[`STRATAVORE_BENCH_${name.toUpperCase().replaceAll('-', '_')}`]
  const text = (name: S): string | undefined => (given[name] as string | undefined) ?? env(name)
  /** A number from min to max; `fallback` when neither the flag nor the variable is set (or it is empty). */
  const number = (name: S, fallback: number, min: number, max: number): number => {
    const raw = text(name)
    const n = raw === undefined || raw === '' ? fallback : Number(raw)
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number from ${min} to ${max}, got ${raw}`)
    return n
  }
  /** A comma-separated list, trimmed, empty items dropped. */
  const list = (name: S, fallback: string): string[] => (text(name) ?? fallback).split(',').map(s => s.trim()).filter(Boolean)
  /** A list whose every item must be one of `allowed`; `--<name>: unknown <noun> <item> (<allowed>)` otherwise. */
  const choices = <C extends string>(name: S, noun: string, allowed: readonly C[], fallback: readonly C[] = allowed): C[] => {
    const items = list(name, fallback.join(','))
    for (const item of items) if (!(allowed as readonly string[]).includes(item)) throw new Error(`--${name}: unknown ${noun} ${item} (${allowed.join(', ')})`)
    return items as C[]
  }
  /** A boolean flag; the variable counts when it is `1` or `true`. */
  const flag = (name: B): boolean => (given[name] as boolean | undefined) ?? ['1', 'true'].includes(env(name) ?? '')
  return { text, number, list, choices, flag }
}

/** Nearest-rank percentile of values sorted ascending (NaN when there are none); p = 100 is the maximum. */
export const percentileOfSorted = (sorted: ArrayLike<number>, p: number): number => {
  if (sorted.length === 0) return NaN
  const rank = Math.ceil((p / 100) * sorted.length) - 1
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!
}

/** Rounded for the JSON report; null where the figure does not exist (NaN, Infinity). */
export const round = (n: number, digits = 1): number | null => Number.isFinite(n) ? Number(n.toFixed(digits)) : null

/** The arithmetic mean, NaN when there are no values. */
export const mean = (values: ArrayLike<number>): number => {
  let sum = 0
  for (let i = 0; i < values.length; i++) sum += values[i]!
  return values.length ? sum / values.length : NaN
}

/** `p50_ms`, `p90_ms`, `p99_ms` and `max_ms` of latencies in ms sorted ascending, as every bench reports them. */
export const latencyPercentiles = (sorted: ArrayLike<number>, digits: number) => ({
  p50_ms: round(percentileOfSorted(sorted, 50), digits),
  p90_ms: round(percentileOfSorted(sorted, 90), digits),
  p99_ms: round(percentileOfSorted(sorted, 99), digits),
  max_ms: round(percentileOfSorted(sorted, 100), digits),
})

/** What a load worker posts at the edges of its measured window. */
export interface PhaseMessage { phase: 'window-start' | 'window-end' }
type WorkerMessage<R> = PhaseMessage | { ok: true, result: R } | { ok: false, error: string }

/**
 * Runs a load generator (a bench's load.ts, which posts its phases and then `{ok, result}`) in a
 * worker thread, so the load does not queue behind the server's event loop in this thread.
 * `terminate` ends the worker once it has answered, for clients that keep connections open.
 */
export const runLoadWorker = <P, R>(module: URL, params: P, onPhase: (m: PhaseMessage) => void, { terminate = false } = {}): Promise<R> =>
  new Promise((resolve, reject) => {
    // Workers do not inherit tsx's loader: register it in the worker first, as bin/stratavored.mjs does.
    const bootstrap = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
      .then(tsx => { tsx.register(); return import(${JSON.stringify(module.href)}) })`
    const worker = new Worker(bootstrap, { eval: true, workerData: params })
    let settled = false
    worker.on('message', (message: WorkerMessage<R>) => {
      if ('phase' in message) return onPhase(message)
      settled = true
      if (terminate) void worker.terminate()
      if (message.ok) resolve(message.result)
      else reject(new Error(`load worker failed: ${message.error}`))
    })
    worker.once('error', err => { settled = true; reject(err) })
    worker.once('exit', code => { if (!settled) reject(new Error(`load worker exited with code ${code} and no result`)) })
  })

/** Runs `fn` in a fresh temp dir (`<tmpdir>/<prefix>XXXXXX`), removed afterwards whatever happens. */
export const withTempDir = async <T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  try {
    return await fn(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * Runs `fn` on a scratch database (`stv_bench_<random>`) made on the Postgres at `adminUrl`, and
 * drops it afterwards whatever happens; a failed drop is logged, so it never hides the bench's
 * own error. With no `adminUrl` (the bench runs on PGlite) `fn` gets null.
 */
export async function withScratchDatabase<T> (adminUrl: string, log: Log, fn: (scratch: ScratchDatabase) => Promise<T>): Promise<T>
export async function withScratchDatabase<T> (adminUrl: string | null, log: Log, fn: (scratch: ScratchDatabase | null) => Promise<T>): Promise<T>
export async function withScratchDatabase<T> (adminUrl: string | null, log: Log, fn: (scratch: ScratchDatabase) => Promise<T>): Promise<T> {
  if (!adminUrl) return (fn as (scratch: ScratchDatabase | null) => Promise<T>)(null)
  const scratch = await createScratchDatabase(adminUrl)
  try {
    return await fn(scratch)
  } finally {
    await scratch.drop().catch(err => log(`could not drop ${scratch.name}: ${(err as Error)?.message ?? err}`))
  }
}

/**
 * The machine a report was measured on, with `extra` facts of the bench's own. On a shared
 * machine a high load average makes every absolute figure pessimistic: the load before and after
 * the run says how far to trust them; compare each figure with its raw baseline from the same run.
 */
export const machineFacts = (loadBefore: number, extra: Record<string, unknown> = {}) => ({
  cpus: cpus().length,
  cpu_model: cpus()[0]?.model ?? 'unknown',
  memory_gib: round(totalmem() / 2 ** 30, 1),
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
  ...extra,
  load_average_1m_before: round(loadBefore, 2),
  load_average_1m_after: round(loadavg()[0]!, 2),
})

/** Runs a bench; a crash is one line on stderr and exit code 2 (1 is a missed target under --check). */
export const runBench = (main: () => Promise<void>, log: Log) => {
  main().catch(err => {
    log(`failed: ${(err as Error)?.stack ?? err}`)
    process.exitCode = 2
  })
}
