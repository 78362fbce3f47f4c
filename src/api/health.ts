// The health check of /api/v1/health and SystemService.Health. A saturated pool is reported
// from the pool's own counters (query-guard.ts) without asking it for a connection, which
// would wait behind the requests it is meant to report on; otherwise one round trip to the
// database says it answers.
import type { Context } from '../context.js'
import { errors } from '../core/errors.js'

export const checkHealth = async (ctx: Context): Promise<void> => {
  const load = ctx.database.load()
  if (load.saturated) throw errors.databaseSaturated(load.inFlight, load.size, load.oldestMs)
  await ctx.repos.daemons.find(ctx.daemonId)
}
