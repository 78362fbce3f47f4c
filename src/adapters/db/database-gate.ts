// While the database is known to be unreachable, the API (REST, the Lex WebUI routes, the
// WebSockets and Connect-RPC) answers requests that need it with 503 / Unavailable at once
// instead of letting them join the pool's queue. Without it a request during an outage can
// wait as long as the outage: postgres.js may leave queries of a cut connection unsettled
// (upstream porsager/postgres#1193, #1089); the Postgres-restart fault test saw a request still
// waiting after 15 s.
//
// The gate opens when a request fails with a connection error (`trip`), never on slowness
// alone: a busy pool is not an outage. While open, one probe (at most PROBE_TIMEOUT_MS) runs
// per PROBE_INTERVAL_MS; the first that succeeds closes it. Requests already waiting are not
// touched.
import type { Logger } from '../logger.js'

const PROBE_INTERVAL_MS = 1_000
const PROBE_TIMEOUT_MS = 2_000

export interface DatabaseGate {
  trip(): void
  isOpen(): boolean
  close(): void
}

export const createDatabaseGate = ({ probe, log }: { probe: () => Promise<void>, log: Logger }): DatabaseGate => {
  let open = false
  let closed = false
  let timer: ReturnType<typeof setTimeout> | null = null

  // Unref'd: the gate keeps nothing alive; the process it guards has its own reasons to run.
  const schedule = () => { timer = setTimeout(() => void probeOnce(), PROBE_INTERVAL_MS).unref() }

  const probeOnce = async () => {
    timer = null
    let deadline: ReturnType<typeof setTimeout> | undefined
    try {
      await Promise.race([
        probe(),
        new Promise((_, reject) => { deadline = setTimeout(() => reject(new Error('probe timed out')), PROBE_TIMEOUT_MS).unref() }),
      ])
      open = false
      log.info('database reachable again: requests pass')
    } catch {
      if (!closed) schedule()
    } finally {
      clearTimeout(deadline)
    }
  }

  return {
    trip () {
      if (open || closed) return
      open = true
      log.warn('database unreachable: answering 503 until a probe succeeds')
      schedule()
    },
    isOpen: () => open,
    close () {
      closed = true
      if (timer) clearTimeout(timer)
    },
  }
}
