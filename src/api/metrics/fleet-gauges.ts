// The fleet's gauges: the seed's five by their names, per-node and per-budget gauges, the
// outbox and the daemons, set from one reading of the database (fleet-refresh.ts). They live in
// a registry of their own, served only by the daemon that holds the fleet-metrics lease, so
// that a sum over every daemon's /metrics counts each runner once.
import client from 'prom-client'
import type { AlertTransition, FleetFacts } from '../../core/ports.js'
import { ACTIVITY_STATES } from '../../core/runners/activity.js'
import { RUNNER_STATUSES } from '../../core/runners/runner.js'

export interface FleetReading { facts: FleetFacts, alerts: AlertTransition[] }

export const createFleetGauges = () => {
  const registry = new client.Registry()
  const registers = [registry]
  const gauge = (name: string, help: string, labelNames: string[] = []) => new client.Gauge({ name, help, labelNames, registers })
  // prom-client counters only count up; these are totals the database keeps, set as read.
  const total = (name: string, help: string, labelNames: string[] = []) => {
    const counter = new client.Counter({ name, help, labelNames, registers })
    return (labels: Record<string, string>, value: number) => counter.inc(labels, value)
  }

  const runnersTotal = gauge('stratavore_runners_total', 'Runners by status, as stored (a gauge, despite its name: the seed\'s). Terminal ones stay until their project is deleted', ['status'])
  const byProject = gauge('stratavore_runners_by_project', 'Active (non-terminal) runners per project', ['project'])
  const activity = gauge('stratavore_runners_by_activity', 'Running runners by what their agent is doing (working, waiting_permission, waiting_input, idle, rate_limited, error, unknown), per project', ['project', 'state'])
  const cpu = gauge('stratavore_runner_cpu_percent', 'CPU of the active runners of a project, summed (100 = one core)', ['project'])
  const memory = gauge('stratavore_runner_memory_mb', 'Resident memory of the active runners of a project, summed', ['project'])
  const counters = [
    ['stratavore_sessions_total', 'Agent sessions recorded', []],
    ['stratavore_tokens_used_total', 'Tokens used by runners (input, output and cache); scope="global" for all of them', ['scope']],
    ['stratavore_project_tokens_used_total', 'Tokens used by the runners of a project', ['project']],
    ['stratavore_runner_failures_total', 'Times a runner entered failed', []],
  ] as const
  const nodeUp = gauge('stratavore_node_up', '1 while the node is ready, 0 while lost or down', ['node'])
  const nodeCapacity = gauge('stratavore_node_capacity', 'Runners the node takes', ['node'])
  const nodeRunners = gauge('stratavore_node_runners', 'Active runners placed on the node', ['node'])
  const nodeCpu = gauge('stratavore_node_cpu_percent', 'CPU of the node\'s active runners, summed', ['node'])
  const nodeMemory = gauge('stratavore_node_memory_mb', 'Resident memory of the node\'s active runners, summed', ['node'])
  const nodeAge = gauge('stratavore_node_heartbeat_age_seconds', 'Seconds since the node\'s last heartbeat (database clock)', ['node'])
  const pending = gauge('stratavore_outbox_pending_rows', 'Outbox rows not published yet (counted up to 100,000)')
  const dead = gauge('stratavore_outbox_dead_rows', 'Outbox rows the broker refused until their attempts ran out')
  const lag = gauge('stratavore_outbox_lag_seconds', 'How long the most overdue due outbox row has waited (0: none waits)')
  const budgetLabels = ['scope', 'scope_id', 'period']
  const budgetRatio = gauge('stratavore_budget_used_ratio', 'Share of a token budget in force that is used (1: exceeded)', budgetLabels)
  const budgetUsed = gauge('stratavore_budget_used_tokens', 'Tokens used of a budget in force', budgetLabels)
  const budgetLimit = gauge('stratavore_budget_limit_tokens', 'Limit of a budget in force', budgetLabels)
  const daemonsLive = gauge('stratavore_daemons_live', 'API daemons whose liveness row is current')
  const daemonsDown = gauge('stratavore_daemons_down', 'API daemons silent past 3 heartbeat intervals, not replaced on their host (within a week)')
  const alertsFiring = gauge('stratavore_alerts_firing', 'Alert conditions firing (system.alert events), by name and severity', ['alert', 'severity'])
  // Kept from before the seed's names (README, Metrics): the same readings.
  const legacy = {
    runnersActive: gauge('stratavore_runners_active', 'Runners not yet terminated or failed (kept; see stratavore_runners_total)'),
    projectsActive: gauge('stratavore_projects_active', 'Projects with at least one active runner (kept)'),
    sessions: gauge('stratavore_sessions', 'Agent sessions recorded (kept; see stratavore_sessions_total)'),
    tokensUsed: gauge('stratavore_tokens_used', 'Tokens used by all runners (kept; see stratavore_tokens_used_total)'),
    tokenLimit: gauge('stratavore_token_limit', 'Current global token budget, 0: none (kept; see stratavore_budget_limit_tokens)'),
  }
  const counterSetters = counters.map(([name, help, labels]) => [name, total(name, help, [...labels])] as const)

  const update = ({ facts, alerts }: FleetReading) => {
    registry.resetMetrics()
    const counter = (name: string, label = '') => facts.counters.find(c => c.name === name && c.label === label)?.value ?? 0
    for (const status of RUNNER_STATUSES) runnersTotal.set({ status }, counter('runners', status))
    const projects = new Map<string, { runners: number, cpu: number, mem: number }>()
    for (const row of facts.projects) {
      const p = projects.get(row.project) ?? { runners: 0, cpu: 0, mem: 0 }
      projects.set(row.project, { runners: p.runners + row.runners, cpu: p.cpu + row.cpuPercent, mem: p.mem + row.memoryMb })
    }
    // Every state of a project with active runners is present (0 included), so a wait that ends shows as 0.
    for (const project of projects.keys()) for (const state of ACTIVITY_STATES) activity.set({ project, state }, 0)
    for (const row of facts.projects) {
      if (row.status === 'running') activity.inc({ project: row.project, state: row.activity }, row.runners)
    }
    for (const [project, p] of projects) {
      byProject.set({ project }, p.runners)
      cpu.set({ project }, p.cpu)
      memory.set({ project }, p.mem)
    }
    const tokens = facts.counters.filter(c => c.name === 'tokens')
    const tokensTotal = tokens.reduce((sum, c) => sum + c.value, 0)
    const set = Object.fromEntries(counterSetters)
    set['stratavore_sessions_total']!({}, counter('sessions'))
    set['stratavore_tokens_used_total']!({ scope: 'global' }, tokensTotal)
    for (const c of tokens) set['stratavore_project_tokens_used_total']!({ project: c.label }, c.value)
    set['stratavore_runner_failures_total']!({}, counter('runner_failures'))
    for (const node of facts.nodes) {
      const labels = { node: node.name }
      nodeUp.set(labels, node.status === 'ready' ? 1 : 0)
      nodeCapacity.set(labels, node.capacity)
      nodeRunners.set(labels, node.runners)
      nodeCpu.set(labels, node.cpuPercent)
      nodeMemory.set(labels, node.memoryMb)
      if (node.heartbeatAgeSeconds !== null) nodeAge.set(labels, node.heartbeatAgeSeconds)
    }
    pending.set(facts.outbox.pending)
    dead.set(facts.outbox.dead)
    lag.set(facts.outbox.lagSeconds)
    for (const b of facts.budgets) {
      const labels = { scope: b.scope, scope_id: b.scopeId, period: b.period }
      budgetRatio.set(labels, b.limitTokens > 0 ? b.usedTokens / b.limitTokens : b.usedTokens > 0 ? 1 : 0)
      budgetUsed.set(labels, b.usedTokens)
      budgetLimit.set(labels, b.limitTokens)
    }
    daemonsLive.set(facts.daemons.live)
    daemonsDown.set(facts.daemons.stale.length)
    for (const a of alerts) alertsFiring.inc({ alert: a.name, severity: a.severity })
    legacy.runnersActive.set([...projects.values()].reduce((sum, p) => sum + p.runners, 0))
    legacy.projectsActive.set(projects.size)
    legacy.sessions.set(counter('sessions'))
    legacy.tokensUsed.set(tokensTotal)
    legacy.tokenLimit.set(Math.max(0, ...facts.budgets.filter(b => b.scope === 'global').map(b => b.limitTokens)))
  }

  return { registry, update }
}
