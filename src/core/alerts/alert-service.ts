// Evaluates the alert conditions against the fleet's facts and writes a system.alert event for
// each change of state, in the transaction that changes it: one event when a condition begins,
// one when it ends. Run by every reconciler pass; several reconcilers may run at once, and the
// conditional writes (repositories/alerts.ts) let only one of them announce each change.
import { inProjectOrder } from '../events/event.js'
import type { Clock, IdGenerator, Repositories, UnitOfWork } from '../ports.js'
import { alertTransitionEvent } from './alert-event.js'
import { conditionsOf, EVALUATED_ALERTS, type AlertThresholds } from './alert-rules.js'
import type { AlertCondition, AlertTransition } from './ports.js'

export const ALERT_ACTOR = 'alerts'

export interface GateEpisode {
  daemonId: string
  reason: string
  openedAt: Date
  /** Requests refused at the door, and failed with a connection error, while it was open. */
  refused: number
  failed: number
}

export const createAlertService = ({ repos, uow, clock, ids, thresholds, staleAfterSeconds }: {
  repos: Repositories
  uow: UnitOfWork
  clock: Clock
  ids: IdGenerator
  thresholds: AlertThresholds
  /** A daemon silent this long is down (3 heartbeat intervals). */
  staleAfterSeconds: number
}) => {
  const write = (transitions: AlertTransition[]) => transitions.map(t => alertTransitionEvent(t, ALERT_ACTOR, { ids, clock }))

  return {
    /** One evaluation: returns the changes it announced. */
    async evaluate (): Promise<AlertTransition[]> {
      const facts = await repos.metrics.fleet({ staleAfterSeconds, failureWindowSeconds: thresholds.runnerFailuresWindowSeconds })
      const conditions = conditionsOf(facts, thresholds)
      return uow.run(async tx => {
        const fired = await tx.alerts.fire(conditions)
        const resolved = await tx.alerts.resolveExcept([...EVALUATED_ALERTS], conditions.map(c => c.key))
        const changes = [...fired, ...resolved]
        await tx.events.appendMany(inProjectOrder(write(changes)))
        return changes
      })
    },

    /**
     * The database gate of one daemon was open: nothing could be written while it was, so the
     * episode is written once it closed, as a fired and a resolved event.
     */
    async databaseGateClosed (episode: GateEpisode): Promise<AlertTransition[]> {
      const condition: AlertCondition = {
        key: `database_gate:${episode.daemonId}`,
        name: 'database_gate',
        severity: 'error',
        summary: `daemon ${episode.daemonId} could not use the database (${episode.reason}) from ${episode.openedAt.toISOString()}; ` +
          `it refused ${episode.refused} requests meanwhile`,
        data: { daemon_id: episode.daemonId, reason: episode.reason, refused: episode.refused, failed: episode.failed },
      }
      return uow.run(async tx => {
        const changes = await tx.alerts.recordEpisode(condition, episode.openedAt)
        await tx.events.appendMany(write(changes))
        return changes
      })
    },

    firing: () => repos.alerts.firing(),
  }
}

export type AlertService = ReturnType<typeof createAlertService>
