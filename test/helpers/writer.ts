// Load for the fault tests: writes events at a steady rate (open loop, so a stalled system
// shows up as errors or in-flight pile-up rather than as a silently slower writer), with a cap
// on requests in flight and on the total, and counts outcomes by kind.
import type { Context } from '../../src/context.js'

export interface WriterStats { ok: number, errors: number, errorsByKind: Record<string, number>, skipped: number, inFlight: number, maxLatencyMs: number }

export interface Writer {
  stats(): WriterStats
  /** Stops issuing writes and resolves once the ones in flight have settled. */
  stop(): Promise<WriterStats>
}

export interface WriterOptions {
  ratePerSecond: number
  maxInFlight?: number
  /** Hard bound on writes issued, whatever the duration. */
  maxWrites?: number
  write(n: number): Promise<void>
}

export const startWriter = ({ ratePerSecond, maxInFlight = 32, maxWrites = 100_000, write }: WriterOptions): Writer => {
  const stats: WriterStats = { ok: 0, errors: 0, errorsByKind: {}, skipped: 0, inFlight: 0, maxLatencyMs: 0 }
  const pending = new Set<Promise<void>>()
  const started = performance.now()
  let issued = 0
  const issue = () => {
    const due = Math.min(maxWrites, Math.floor((performance.now() - started) / 1000 * ratePerSecond))
    while (issued < due) {
      const n = issued++
      // Over the in-flight cap the write is dropped and counted, not queued: the rate stays honest.
      if (stats.inFlight >= maxInFlight) { stats.skipped++; continue }
      stats.inFlight++
      const at = performance.now()
      const p = write(n).then(
        () => { stats.ok++; stats.maxLatencyMs = Math.max(stats.maxLatencyMs, performance.now() - at) },
        (err: unknown) => {
          stats.errors++
          // fetch wraps socket errors (cause.code); a DOMException's numeric code says less than its name.
          const e = err as { code?: unknown, name?: string, cause?: { code?: string } }
          const kind = String(e?.cause?.code ?? (typeof e?.code === 'string' ? e.code : e?.name) ?? 'error')
          stats.errorsByKind[kind] = (stats.errorsByKind[kind] ?? 0) + 1
        },
      ).finally(() => { stats.inFlight--; pending.delete(p) })
      pending.add(p)
    }
  }
  const timer = setInterval(issue, 5)
  return {
    stats: () => ({ ...stats, errorsByKind: { ...stats.errorsByKind } }),
    async stop () {
      clearInterval(timer)
      await Promise.allSettled([...pending])
      return { ...stats, errorsByKind: { ...stats.errorsByKind } }
    },
  }
}

/** Writes through the real use case in this process: one runner launch = one outbox event. */
export const launchInProcess = (ctx: Context, projects: string[]) => (n: number) =>
  ctx.runners.launch({ project: projects[n % projects.length]!, agent: 'generic-test' }, 'fault-test').then(() => {})

export class HttpStatusError extends Error {
  code: string
  constructor (status: number, body: string) { super(`HTTP ${status}: ${body.slice(0, 200)}`); this.code = `http_${status}` }
}

/** Writes through a real `stratavored api` process: POST /api/v1/runners. */
export const launchOverHttp = (api: { url: string, headers(extra?: Record<string, string>): Record<string, string> }, projects: string[], timeoutMs = 15_000) => async (n: number) => {
  const res = await fetch(`${api.url}/api/v1/runners`, {
    method: 'POST',
    headers: api.headers({ 'content-type': 'application/json' }),
    body: JSON.stringify({ project: projects[n % projects.length], agent: 'claude' }),
    signal: AbortSignal.timeout(timeoutMs),
  })
  const body = await res.text()
  if (res.status !== 201) throw new HttpStatusError(res.status, body)
}
