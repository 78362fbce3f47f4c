// Daemon status and global metrics, computed from the database on every call so that every
// daemon of an HA group reports the same numbers.
import { errors } from '../errors.js'
import type { Clock, DaemonInstance, Repositories } from '../ports.js'

export interface GlobalMetrics {
  activeRunners: number
  activeProjects: number
  totalSessions: number
  tokensUsed: number
  tokenLimit: number
}

export interface DaemonStatus extends DaemonInstance { healthy: boolean }

export const createStatusService = ({ repos, clock, daemonId, staleAfterSeconds }: {
  repos: Repositories
  clock: Clock
  daemonId: string
  staleAfterSeconds: number
}) => ({
  async metrics (): Promise<GlobalMetrics> {
    const counts = await repos.stats.globalCounts()
    return { ...counts, tokenLimit: await repos.budgets.globalLimit() }
  },

  async daemon (): Promise<DaemonStatus> {
    const instance = await repos.daemons.find(daemonId)
    if (!instance) throw errors.unavailable('this daemon is not registered yet')
    const age = (clock.now().getTime() - instance.lastHeartbeat.getTime()) / 1000
    return { ...instance, healthy: age <= staleAfterSeconds }
  },
})

export type StatusService = ReturnType<typeof createStatusService>
