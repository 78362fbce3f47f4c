// Domain events. Every state change produces one, written to the outbox (for the bus) and the
// audit log in the same transaction as the change itself. The envelope is versioned: consumers
// dedupe on `eventId` and order per aggregate by `seq`.

export const EVENT_ENVELOPE_VERSION = 1

export const EVENT_TYPES = [
  'project.created',
  'project.archived',
  'project.deleted',
  'project.quota_changed',
  'runner.launched',
  'runner.stop_requested',
  'runner.stopped',
  'runner.lost',
  'runner.failed',
  'runner.assigned',
  'runner.starting',
  'runner.started',
  'runner.session_changed',
  'runner.restarting',
  'runner.recovered',
  'runner.rescheduled',
  'runner.paused',
  'runner.resumed',
  /** What the runner's agent is doing changed (src/core/runners/activity.ts). */
  'runner.activity',
  'session.created',
  'budget.warning',
  'budget.exceeded',
  'budget.set',
  'budget.deleted',
  'budget.rolled_over',
  'node.registered',
  'node.lost',
  'node.recovered',
  'node.stopped',
  /** A host traded a join token for a node of its own (status down until its supervisor registers). */
  'node.joined',
  'join_token.created',
  'join_token.revoked',
  'token.created',
  'token.revoked',
  'system.alert',
  /** The head of every audit chain, as a daemon recorded them (src/core/audit/checkpoint.ts). */
  'audit.checkpoint',
  /** Not a state change: published by a supervisor straight to the bus, never in the outbox or the audit log. */
  'runner.heartbeat',
] as const

export type EventType = typeof EVENT_TYPES[number]

export type AggregateType = 'project' | 'runner' | 'session' | 'budget' | 'node' | 'token' | 'join_token' | 'outbox' | 'daemon' | 'alert'

export interface DomainEvent {
  eventId: string
  type: EventType
  occurredAt: Date
  project: string
  aggregateType: AggregateType
  aggregateId: string
  seq: number
  actor: string
  data: Record<string, unknown>
  /** Set for events that are not about a project: `system.alert.<severity>`, `node.lost.<node_id>`, `budget.<kind>._global` and `budget.<kind>._agent_<name>`, `audit.checkpoint.<daemon_id>`. */
  routingKey?: string
}

// `runner.launched.myproject`: the project is the last word so that `runner.*.myproject`
// selects one project's runner events.
export const routingKeyOf = (event: Pick<DomainEvent, 'type' | 'project' | 'routingKey'>): string =>
  event.routingKey ?? `${event.type}.${event.project}`

/**
 * The events in project order (a stable sort: each aggregate's events keep theirs). Every
 * transaction appends in this order, so audit-chain locks are taken in one global order and
 * two transactions never wait on each other.
 */
export const inProjectOrder = (events: DomainEvent[]): DomainEvent[] =>
  [...events].sort((a, b) => a.project < b.project ? -1 : a.project > b.project ? 1 : 0)

/** An event as a bus message: the envelope as its body, the event id as its message id. */
export const busMessageOf = (event: DomainEvent) => ({
  routingKey: routingKeyOf(event),
  messageId: event.eventId,
  type: event.type,
  timestamp: event.occurredAt,
  body: envelopeOf(event),
})

export const envelopeOf = (event: DomainEvent) => ({
  version: EVENT_ENVELOPE_VERSION,
  event_id: event.eventId,
  type: event.type,
  occurred_at: event.occurredAt.toISOString(),
  project: event.project,
  aggregate_type: event.aggregateType,
  aggregate_id: event.aggregateId,
  seq: event.seq,
  actor: event.actor,
  data: event.data,
})
