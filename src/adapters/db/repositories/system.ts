// Daemon instances and the global counters behind /status and /metrics.
import { count, eq, notInArray, sql, sum } from 'drizzle-orm'
import type { DaemonRepository, StatsRepository } from '../../../core/ports.js'
import { TERMINAL_STATUSES } from '../../../core/runners/runner.js'
import type { Db } from '../client.js'
import { daemonInstances, runners, sessions } from '../schema.js'

export const createStatsRepository = (db: Db): StatsRepository => ({
  async globalCounts () {
    const [active] = await db.select({ runners: count(), projects: sql<number>`count(distinct ${runners.projectName})`.mapWith(Number) })
      .from(runners).where(notInArray(runners.status, [...TERMINAL_STATUSES]))
    const [tokens] = await db.select({ total: sum(runners.tokensUsed).mapWith(Number) }).from(runners)
    const [sessionCount] = await db.select({ n: count() }).from(sessions)
    return {
      activeRunners: active?.runners ?? 0,
      activeProjects: active?.projects ?? 0,
      totalSessions: sessionCount?.n ?? 0,
      tokensUsed: tokens?.total ?? 0,
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
