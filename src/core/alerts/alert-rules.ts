// The conditions the alert evaluator watches, computed from the fleet's facts (pure). The same
// conditions have Prometheus rules in deploy/prometheus/alerts.yml, with the same defaults:
// this is the event side of them, for whoever listens to the bus instead of Alertmanager.
import type { AlertCondition, FleetFacts } from './ports.js'

export interface AlertThresholds {
  /** Failed runners within the window that raise runner_failures; 0 turns it off. */
  runnerFailures: number
  runnerFailuresWindowSeconds: number
  /** How long a due outbox row may wait before outbox_lag fires; 0 turns it off. */
  outboxLagSeconds: number
}

/** Used up: the limit reached (a zero limit only once something was used, as stratavore_budget_used_ratio has it). */
export const isUsedUp = (b: { limitTokens: number, usedTokens: number }) => b.limitTokens > 0 ? b.usedTokens >= b.limitTokens : b.usedTokens > 0

/** Every condition name the evaluator owns: a firing row of one of these resolves when its condition no longer holds. */
export const EVALUATED_ALERTS = ['runner_failures', 'outbox_lag', 'node_lost', 'budget_exceeded', 'daemon_down'] as const

export const conditionsOf = (facts: FleetFacts, thresholds: AlertThresholds): AlertCondition[] => {
  const conditions: AlertCondition[] = []
  if (thresholds.runnerFailures > 0 && facts.recentFailures >= thresholds.runnerFailures) {
    conditions.push({
      key: 'runner_failures',
      name: 'runner_failures',
      severity: 'warning',
      summary: `${facts.recentFailures} runners failed in the last ${thresholds.runnerFailuresWindowSeconds} s (threshold ${thresholds.runnerFailures})`,
      data: { failed: facts.recentFailures, window_seconds: thresholds.runnerFailuresWindowSeconds, threshold: thresholds.runnerFailures },
    })
  }
  if (thresholds.outboxLagSeconds > 0 && facts.outbox.lagSeconds >= thresholds.outboxLagSeconds) {
    conditions.push({
      key: 'outbox_lag',
      name: 'outbox_lag',
      severity: 'warning',
      summary: `outbox rows wait to be published: the oldest due one for ${Math.round(facts.outbox.lagSeconds)} s (${facts.outbox.pending} pending)`,
      data: { lag_seconds: Math.round(facts.outbox.lagSeconds), pending: facts.outbox.pending, threshold_seconds: thresholds.outboxLagSeconds },
    })
  }
  for (const node of facts.nodes.filter(n => n.status === 'lost')) {
    conditions.push({
      key: `node_lost:${node.id}`,
      name: 'node_lost',
      severity: 'error',
      summary: `node ${node.name} is lost (no heartbeat for ${Math.round(node.heartbeatAgeSeconds ?? 0)} s; ${node.runners} active runners placed on it)`,
      data: { node_id: node.id, node: node.name, runners: node.runners },
    })
  }
  for (const budget of facts.budgets.filter(isUsedUp)) {
    const scope = budget.scope === 'global' ? 'the global' : `${budget.scope} ${budget.scopeId}'s`
    conditions.push({
      key: `budget_exceeded:${budget.id}`,
      name: 'budget_exceeded',
      severity: 'warning',
      summary: `${scope} ${budget.period} token budget is used up (${budget.usedTokens} of ${budget.limitTokens})`,
      data: {
        budget_id: budget.id, scope: budget.scope, scope_id: budget.scopeId, period: budget.period,
        limit_tokens: budget.limitTokens, used_tokens: budget.usedTokens, period_end: budget.periodEnd.toISOString(),
      },
    })
  }
  for (const daemon of facts.daemons.stale) {
    conditions.push({
      key: `daemon_down:${daemon.id}`,
      name: 'daemon_down',
      severity: 'critical',
      summary: `daemon ${daemon.id} on ${daemon.hostname} (${daemon.roles.join(', ')}) stopped beating at ${daemon.lastHeartbeat.toISOString()}`,
      data: { daemon_id: daemon.id, hostname: daemon.hostname, roles: daemon.roles, last_heartbeat: daemon.lastHeartbeat.toISOString() },
    })
  }
  return conditions
}
