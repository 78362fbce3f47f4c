// The health check of /api/v1/health and SystemService.Health. A saturated pool is reported
// from the pool's own counters (query-guard.ts) without asking it for a connection, which
// would wait behind the requests it is meant to report on; otherwise one round trip to the
// database says it answers. That round trip gets HEALTH_WAIT_MS: past it, with every
// connection taken, the pool is saturated (the operations ahead have waited longer still).
import { gateMessage } from '../adapters/db/database-gate.js'
import type { Context } from '../context.js'
import { errors } from '../core/errors.js'

const HEALTH_WAIT_MS = 1_000

const saturated = (ctx: Context) => {
  const load = ctx.database.load()
  return load.inFlight >= load.size ? errors.databaseSaturated(load.inFlight, load.size, load.oldestMs) : null
}

export const checkHealth = async (ctx: Context): Promise<void> => {
  if (ctx.database.load().saturated) throw saturated(ctx)!
  let timer: NodeJS.Timeout | undefined
  const slow = Symbol('slow')
  try {
    const answer = await Promise.race([
      ctx.repos.daemons.find(ctx.daemonId),
      new Promise<typeof slow>(resolve => { timer = setTimeout(resolve, HEALTH_WAIT_MS, slow) }),
    ])
    if (answer === slow) throw saturated(ctx) ?? errors.unavailable(gateMessage('unreachable'))
  } finally {
    clearTimeout(timer)
  }
}
