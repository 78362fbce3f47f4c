// Daemon instances and the global counters behind /status and /metrics.
import { count, eq, sql } from 'drizzle-orm'
import type { DaemonRepository, StatsRepository } from '../../../core/ports.js'
import { rowsOf, type Db } from '../client.js'
import { daemonInstances, runners } from '../schema.js'

export const createStatsRepository = (db: Db): StatsRepository => ({
  async globalCounts () {
    // Active runners over runners_active_idx; sessions and tokens from the fleet counters
    // (drizzle/0011_metric_counters.sql), since both tables only grow.
    const [active] = await db.select({ runners: count(), projects: sql<number>`count(distinct ${runners.projectName})`.mapWith(Number) })
      .from(runners).where(sql`${runners.status} not in ('terminated', 'failed')`)
    const totals = rowsOf<{ name: string, value: number }>(await db.execute(sql`
      select name, sum(value)::float8 as value from (
        select name, value from metric_counters where name in ('sessions', 'tokens')
        union all select name, delta from metric_counter_deltas where name in ('sessions', 'tokens')
      ) c group by name`))
    const total = (name: string) => Number(totals.find(t => t.name === name)?.value ?? 0)
    return {
      activeRunners: active?.runners ?? 0,
      activeProjects: active?.projects ?? 0,
      totalSessions: total('sessions'),
      tokensUsed: total('tokens'),
    }
  },
})

const columns = {
  id: daemonInstances.id,
  hostname: daemonInstances.hostname,
  pid: daemonInstances.pid,
  version: daemonInstances.version,
  roles: daemonInstances.roles,
  startedAt: daemonInstances.startedAt,
  lastHeartbeat: daemonInstances.lastHeartbeat,
}

export const createDaemonRepository = (db: Db): DaemonRepository => ({
  async register (instance) {
    const [row] = await db.insert(daemonInstances).values(instance).returning(columns)
    return row!
  },
  async heartbeat (id) {
    const [row] = await db.update(daemonInstances).set({ lastHeartbeat: sql`now()` }).where(eq(daemonInstances.id, id)).returning(columns)
    return row ?? null
  },
  async markStopped (id) {
    await db.update(daemonInstances).set({ stoppedAt: sql`now()` }).where(eq(daemonInstances.id, id))
  },
  async find (id) {
    const [row] = await db.select(columns).from(daemonInstances).where(eq(daemonInstances.id, id)).limit(1)
    return row ?? null
  },
})
