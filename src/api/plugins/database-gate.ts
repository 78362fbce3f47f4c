// While the database is known to be unreachable, API requests are answered 503 (with
// Retry-After) at once instead of joining the pool's queue. Without it a request during an
// outage can wait as long as the outage: postgres.js may leave queries of a cut connection
// unsettled (upstream porsager/postgres#1193, #1089); the Postgres-restart fault test saw a
// request still waiting after 15 s.
//
// The gate opens when a request fails with a connection error (the error handler calls
// `trip`), never on slowness alone: a busy pool is not an outage. While open, one probe
// (`select 1`, at most PROBE_TIMEOUT_MS) runs per PROBE_INTERVAL_MS; the first that succeeds
// closes it. Requests already waiting are not touched.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { ping } from '../../adapters/db/client.js'
import { errors } from '../../core/errors.js'

const PROBE_INTERVAL_MS = 1_000
const PROBE_TIMEOUT_MS = 2_000

export interface DatabaseGate {
  trip(): void
  isOpen(): boolean
}

declare module 'fastify' {
  interface FastifyInstance { databaseGate: DatabaseGate }
}

export const databaseGatePlugin = fp(async (app: FastifyInstance) => {
  const { ctx } = app
  let open = false
  let timer: ReturnType<typeof setTimeout> | null = null
  let closing = false

  const probe = async () => {
    timer = null
    let deadline: ReturnType<typeof setTimeout> | undefined
    try {
      await Promise.race([
        ping(ctx.database.db),
        new Promise((_, reject) => { deadline = setTimeout(() => reject(new Error('probe timed out')), PROBE_TIMEOUT_MS) }),
      ])
      open = false
      app.log.info('database reachable again: requests pass')
    } catch {
      if (!closing) timer = setTimeout(() => void probe(), PROBE_INTERVAL_MS)
    } finally {
      clearTimeout(deadline)
    }
  }

  const gate: DatabaseGate = {
    trip () {
      if (open || closing) return
      open = true
      app.log.warn('database unreachable: answering 503 until a probe succeeds')
      timer = setTimeout(() => void probe(), PROBE_INTERVAL_MS)
    },
    isOpen: () => open,
  }
  app.decorate('databaseGate', gate)

  app.addHook('onRequest', async request => {
    if (open && request.url.startsWith('/api/')) throw errors.unavailable('the database is unavailable; retry shortly')
  })
  app.addHook('onClose', async () => {
    closing = true
    if (timer) clearTimeout(timer)
  })
}, { name: 'database-gate' })
