// While the database is known to be unreachable or saturated, the API (REST, the Lex WebUI
// routes, the WebSockets and Connect-RPC) answers requests that need it with 503 / Unavailable
// at once instead of letting them join the pool's queue, where they would wait for a cut
// connection or a free one.
//
// The gate opens when an operation passes its deadline, or fails with a connection error and a
// probe fails as well (`trip`). While open, one probe (at most PROBE_TIMEOUT_MS) runs per PROBE_INTERVAL_MS; the
// first that succeeds closes it. It logs one warning when it opens (the reason and the first
// error) and one when it closes (how long, how many requests were refused at the door and how
// many failed with a connection error), so an outage reads as two lines, not one per request.
import type { Logger } from '../logger.js'
import { isDatabaseTimeout } from './pg-errors.js'

const PROBE_INTERVAL_MS = 1_000
const PROBE_TIMEOUT_MS = 2_000

/** unreachable: connections fail or are cut; saturated: operations pass their deadline. */
export type GateReason = 'unreachable' | 'saturated'

export interface DatabaseGate {
  /** An operation failed with a connection error or its deadline: open (or keep open) the gate. */
  trip(err?: unknown): void
  /** A request was refused because the gate is open (counted for the closing line). */
  refuse(): void
  isOpen(): boolean
  /** Why it is open, or null when closed. */
  reason(): GateReason | null
  close(): void
}

export const gateMessage = (reason: GateReason | null) => reason === 'saturated'
  ? 'the database did not answer in time (busy or saturated); retry shortly'
  : 'the database is unavailable; retry shortly'

// The driver's error under drizzle's wrapper (DrizzleQueryError, whose message is the SQL).
const describe = (err: unknown) => {
  let e = err as { code?: unknown, message?: unknown, cause?: unknown } | null
  for (let depth = 0; e && typeof e === 'object' && typeof e.code !== 'string' && e.cause && depth < 5; depth++) e = e.cause as typeof e
  return { code: typeof e?.code === 'string' ? e.code : undefined, error: typeof e?.message === 'string' ? e.message : String(err) }
}

/** What the gate tells its owner (metrics, the database_gate alert). */
export interface GateListener {
  opened?(reason: GateReason): void
  closed?(episode: { reason: GateReason, openedAt: Date, refused: number, failed: number }): void
}

export const createDatabaseGate = ({ probe, log, now = () => Date.now(), listener = {} }: {
  probe: () => Promise<void>
  log: Logger
  now?: () => number
  listener?: GateListener
}): DatabaseGate => {
  let reason: GateReason | null = null
  let openedAt = 0
  let refused = 0
  let failed = 0
  let closed = false
  let timer: ReturnType<typeof setTimeout> | null = null

  // Unref'd: the gate keeps nothing alive; the process it guards has its own reasons to run.
  const schedule = () => { timer = setTimeout(() => void probeOnce(), PROBE_INTERVAL_MS).unref() }

  const probeWithin = async () => {
    let deadline: ReturnType<typeof setTimeout> | undefined
    try {
      await Promise.race([
        probe(),
        new Promise((_, reject) => { deadline = setTimeout(() => reject(new Error('probe timed out')), PROBE_TIMEOUT_MS).unref() }),
      ])
    } finally {
      clearTimeout(deadline)
    }
  }

  const probeOnce = async () => {
    timer = null
    try {
      await probeWithin()
      log.warn({ reason, outageMs: now() - openedAt, refused, failed }, 'database gate closed: the database answers again; requests pass')
      const episode = { reason: reason!, openedAt: new Date(openedAt), refused, failed }
      reason = null
      listener.closed?.(episode)
    } catch {
      if (!closed) schedule()
    }
  }

  const open = (why: GateReason, err: unknown, failures: number) => {
    reason = why
    openedAt = now()
    refused = 0
    failed = failures
    log.warn({ reason, ...describe(err) }, `database gate opened: answering 503 until a probe succeeds (${reason})`)
    schedule()
    listener.opened?.(why)
  }

  // One cut connection is not an outage: after pg_terminate_backend, or a storm of them,
  // postgres.js fails the first query of each reconnected connection with the error that cut
  // the previous one (57P01), well after the server is back. So a connection error opens the
  // gate only once a probe fails too; a deadline (saturation) opens it at once.
  let verifying: Promise<void> | null = null
  let failedWhileVerifying = 0
  const verify = (err: unknown) => {
    failedWhileVerifying++
    verifying ??= (async () => {
      let reachable = true
      try { await probeWithin() } catch { reachable = false }
      if (!reachable && !reason && !closed) open('unreachable', err, failedWhileVerifying)
      else log.debug({ ...describe(err), failures: failedWhileVerifying }, 'database connection error; the database answers: the gate stays closed')
      failedWhileVerifying = 0
      verifying = null
    })()
  }

  return {
    trip (err) {
      if (closed) return
      if (reason) {
        failed++
        return
      }
      if (isDatabaseTimeout(err)) open('saturated', err, 1)
      else verify(err)
    },
    refuse () { refused++ },
    isOpen: () => reason !== null,
    reason: () => reason,
    close () {
      closed = true
      if (timer) clearTimeout(timer)
    },
  }
}
