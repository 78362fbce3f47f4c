// system.alert.<severity> events: routed by severity so that a consumer binds the levels it
// pages on (`system.alert.critical`, `system.alert.*`). One shape for every alert: the outbox's
// dead rows (written by the relay) and the conditions the evaluator watches (alert-service.ts).
import type { DomainEvent } from '../events/event.js'
import type { AlertSeverity, AlertTransition } from './ports.js'
import type { Clock, IdGenerator } from '../ports.js'

export const ALERT_SEVERITIES: readonly AlertSeverity[] = ['info', 'warning', 'error', 'critical']

export interface SystemAlert {
  severity: AlertSeverity
  /** The condition's name (`node_lost`), and the instance of it (`node_lost:<node id>`). */
  alert: string
  key: string
  state: 'firing' | 'resolved'
  /** One human line. */
  reason: string
  aggregateType: DomainEvent['aggregateType']
  aggregateId: string
  seq: number
  actor: string
  /** Fields of the event's data besides the common ones (the outbox alert keeps its flat fields). */
  data: Record<string, unknown>
}

export const systemAlertEvent = (alert: SystemAlert, { ids, clock }: { ids: IdGenerator, clock: Clock }): DomainEvent => ({
  eventId: ids.next(),
  type: 'system.alert',
  routingKey: `system.alert.${alert.severity}`,
  occurredAt: clock.now(),
  project: '',
  aggregateType: alert.aggregateType,
  aggregateId: alert.aggregateId,
  seq: alert.seq,
  actor: alert.actor,
  data: { severity: alert.severity, alert: alert.alert, key: alert.key, state: alert.state, reason: alert.reason, ...alert.data },
})

/** The event of one alert row's change of state (fired, or resolved). */
export const alertTransitionEvent = (t: AlertTransition, actor: string, deps: { ids: IdGenerator, clock: Clock }): DomainEvent =>
  systemAlertEvent({
    severity: t.severity,
    alert: t.name,
    key: t.key,
    state: t.state,
    reason: t.state === 'firing' ? t.summary : `resolved: ${t.summary}`,
    aggregateType: 'alert',
    aggregateId: t.key,
    seq: t.seq,
    actor,
    data: { summary: t.summary, fired_at: t.firedAt.toISOString(), details: t.data },
  }, deps)
