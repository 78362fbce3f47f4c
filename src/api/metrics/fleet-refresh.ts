// Reads the fleet's gauges from the database on an interval, on one daemon at a time. Every
// tick takes or renews the fleet-metrics lease (a row in metrics_leader, 3 intervals long):
// its holder folds the counter deltas in and reads the fleet; the others drop their reading.
// A scrape serves the last reading and never touches the database, so scrapers, however many
// and however often, cost the database one reading per interval. When the holder dies, another
// daemon takes the lease once it expires.
import type { Context } from '../../context.js'
import type { FleetReading } from './fleet-gauges.js'

export interface FleetRefresh {
  /** The last reading, null when this daemon does not hold the lease. */
  current(): FleetReading | null
  /** One tick now (tests; the first scrape before the first tick). */
  refresh(): Promise<FleetReading | null>
  leader(): boolean
  /** True once a tick has finished, whatever it found. */
  ticked(): boolean
  start(): void
  stop(): Promise<void>
}

export const createFleetRefresh = (ctx: Context, onReading: (reading: FleetReading) => void): FleetRefresh => {
  const intervalSeconds = ctx.config.docker.prometheus.refresh_interval_seconds
  const staleAfterSeconds = 3 * ctx.config.daemon.heartbeat_interval_seconds
  const log = ctx.logger.child({ component: 'metrics' })
  let reading: FleetReading | null = null
  let leader = false
  let timer: NodeJS.Timeout | null = null
  let inFlight: Promise<FleetReading | null> | null = null
  let failures = 0
  let ticks = 0

  const tick = async (): Promise<FleetReading | null> => {
    try {
      leader = await ctx.repos.metrics.claimLeadership(ctx.daemonId, 3 * intervalSeconds)
      if (!leader) {
        reading = null
        return null
      }
      await ctx.repos.metrics.rollupCounters()
      const [facts, alerts] = await Promise.all([
        ctx.repos.metrics.fleet({ staleAfterSeconds, failureWindowSeconds: ctx.config.alerts.runner_failures_window_seconds }),
        ctx.repos.alerts.firing(),
      ])
      reading = { facts, alerts }
      onReading(reading)
      if (failures > 0) log.info({ failures }, 'fleet metrics read again')
      failures = 0
      return reading
    } catch (err) {
      // The last reading stays served (a database outage shows in the gate's gauge instead).
      if (failures++ === 0) log.warn({ err }, 'could not read the fleet metrics; serving the last reading')
      return reading
    }
  }

  const refresh = () => (inFlight ??= tick().finally(() => { ticks++; inFlight = null }))

  return {
    current: () => reading,
    refresh,
    leader: () => leader,
    ticked: () => ticks > 0,
    start () {
      if (timer) return
      void refresh()
      timer = setInterval(() => void refresh(), intervalSeconds * 1000)
      timer.unref()
    },
    async stop () {
      if (timer) clearInterval(timer)
      timer = null
      await inFlight
      if (leader) await ctx.repos.metrics.releaseLeadership(ctx.daemonId).catch(err => log.debug({ err }, 'could not release the fleet-metrics lease'))
      leader = false
    },
  }
}
