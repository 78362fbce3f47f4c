// The runner.paused event of a freshly paused row: one shape for every reason (by hand, a budget,
// memory, a usage limit), which adds its own fields. Apart so that every pause can share it.
import { inProjectOrder } from '../events/event.js'
import type { Clock, IdGenerator } from '../ports.js'
import { runnerEventOf, type Runner } from './runner.js'

const pausedData = (r: Runner) => ({ reason: r.pauseReason, budget_id: r.pausedBudgetId, session_id: r.sessionId, node_id: r.nodeId })

/** The runner.paused events of freshly paused rows, in project order. */
export const pausedEvents = (rows: Runner[], actor: string, deps: { ids: IdGenerator, clock: Clock }, extra: (r: Runner) => Record<string, unknown> = () => ({})) =>
  inProjectOrder(rows.map(r => runnerEventOf(r, 'runner.paused', actor, { ...pausedData(r), ...extra(r) }, deps)))
