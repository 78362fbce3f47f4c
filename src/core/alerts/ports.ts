// The ports behind fleet metrics and alerts: what the database knows about the whole fleet,
// read cheaply (counters and indexed ranges, never a whole table), and the alert conditions'
// state. Re-exported by src/core/ports.ts.

export interface NodeFacts {
  id: string
  name: string
  status: 'ready' | 'lost' | 'down'
  capacity: number
  /** Active (non-terminal) runners placed on the node. */
  runners: number
  cpuPercent: number
  memoryMb: number
  /** Seconds since the node's last heartbeat (by the database clock); null when it never beat. */
  heartbeatAgeSeconds: number | null
}

export interface BudgetFacts {
  id: string
  scope: 'global' | 'project' | 'runner'
  scopeId: string
  period: string
  limitTokens: number
  usedTokens: number
  periodEnd: Date
}

export interface StaleDaemon {
  id: string
  hostname: string
  roles: string[]
  lastHeartbeat: Date
}

export interface FleetFacts {
  /** metric_counters plus the deltas not rolled up yet: `runners` by status, `runner_failures`, `sessions`, `tokens` by project. */
  counters: Array<{ name: string, label: string, value: number }>
  /** Active runners per project, status and agent activity, with their summed CPU and memory. */
  projects: Array<{ project: string, status: string, activity: string, runners: number, cpuPercent: number, memoryMb: number }>
  nodes: NodeFacts[]
  /** pending is counted up to OUTBOX_COUNT_CAP; lagSeconds: how long the most overdue due row has waited. */
  outbox: { pending: number, dead: number, lagSeconds: number }
  /** Budgets whose period is in force. */
  budgets: BudgetFacts[]
  /** API daemons (they beat their row) that beat lately, and the ones silent past staleAfterSeconds that no newer daemon on their host replaced. */
  daemons: { live: number, stale: StaleDaemon[] }
  /** Runners that failed within the last failureWindowSeconds. */
  recentFailures: number
}

export const OUTBOX_COUNT_CAP = 100_000

export interface FleetQuery {
  staleAfterSeconds: number
  failureWindowSeconds: number
}

export interface MetricsRepository {
  fleet(query: FleetQuery): Promise<FleetFacts>
  /** Folds the counter deltas into the counters (one statement; safe from several daemons at once). */
  rollupCounters(): Promise<void>
  /** Takes or renews the fleet-metrics lease; true while this daemon holds it. */
  claimLeadership(daemonId: string, ttlSeconds: number): Promise<boolean>
  releaseLeadership(daemonId: string): Promise<void>
}

export type AlertSeverity = 'info' | 'warning' | 'error' | 'critical'

/** A condition that holds now. `key` names one instance of it (`node_lost:<node id>`). */
export interface AlertCondition {
  key: string
  name: string
  severity: AlertSeverity
  summary: string
  data: Record<string, unknown>
}

/** A row whose state this statement changed, with the seq of the event that says so. */
export interface AlertTransition extends AlertCondition {
  state: 'firing' | 'resolved'
  seq: number
  firedAt: Date
}

export interface AlertRepository {
  /** Conditions not firing yet become firing; returns those (already firing ones are left alone). */
  fire(conditions: AlertCondition[]): Promise<AlertTransition[]>
  /** Firing rows of these names whose key is not in `holding` become resolved; returns those. */
  resolveExcept(names: string[], holding: string[]): Promise<AlertTransition[]>
  /** One condition that began and ended already (the database gate: nothing could be written meanwhile). */
  recordEpisode(condition: AlertCondition, firedAt: Date): Promise<AlertTransition[]>
  firing(): Promise<AlertTransition[]>
}
