// One relay pass: claim a batch of due outbox rows in a transaction, publish them with
// confirms, mark what the bus confirmed as delivered, push back what it refused, commit.
// Delivery is at least once: a relay that dies after publishing and before committing leaves
// its rows pending, and they go out again with the same event id (consumers dedupe on it).
//
// A refusal that concerns one message (returned as unroutable, nacked, unencodable) costs that
// row an attempt, with exponential backoff; after the last attempt the row is dead and a
// `system.alert.error` event says so. It never blocks the rows behind it. Losing the bus
// mid-batch concerns no message in particular: the transaction rolls back and no attempt is
// counted, so a broker outage cannot exhaust anyone's attempts.
import { systemAlertEvent } from '../alerts/alert-event.js'
import type { BusMessage, Clock, EventPublisher, IdGenerator, OutboxRow, UnitOfWork } from '../ports.js'
import { errors } from '../errors.js'
import { noInstruments, type Instruments } from '../instruments.js'

export interface RelayResult { claimed: number, delivered: number, retried: number, dead: number }

export interface RelayOptions {
  uow: UnitOfWork
  publisher: EventPublisher
  clock: Clock
  ids: IdGenerator
  batchSize: number
  /** Backoff of a refused row: base * 2^(attempt-1), capped, with ±25% jitter. */
  retryBaseSeconds?: number
  retryMaxSeconds?: number
  /**
   * Fault injection for crash tests: called at each named point of a pass. At
   * `relay.after_publish` the bus has written the batch out (not merely queued it), but not
   * read a confirm; without a fault point the bus does not wait for that moment.
   */
  faultPoint?: (point: RelayFaultPoint) => void
  /** Outbox age at claim and commit-to-publish times, for /metrics. */
  instruments?: Instruments
}

export const RELAY_FAULT_POINTS = ['relay.after_claim', 'relay.after_publish', 'relay.after_confirm', 'relay.before_commit'] as const
export type RelayFaultPoint = typeof RELAY_FAULT_POINTS[number]

export const retryDelaySeconds = (attempt: number, base: number, max: number, random = Math.random) =>
  Math.min(max, base * 2 ** Math.max(0, attempt - 1)) * (0.75 + random() / 2)

const toMessage = (row: OutboxRow): BusMessage => ({
  routingKey: row.routingKey,
  messageId: row.eventId,
  type: row.eventType,
  timestamp: row.createdAt,
  body: row.payload,
})

export const createOutboxRelay = ({ uow, publisher, clock, ids, batchSize, retryBaseSeconds = 1, retryMaxSeconds = 300, faultPoint, instruments = noInstruments }: RelayOptions) => ({
  async relayOnce (): Promise<RelayResult> {
    if (!publisher.ready()) throw errors.unavailable('the event bus is not connected')
    let published: number[] = []
    const outcome = await uow.run(async tx => {
      published = []
      const rows = await tx.outbox.claimBatch(batchSize)
      const result: RelayResult = { claimed: rows.length, delivered: 0, retried: 0, dead: 0 }
      if (rows.length === 0) return result
      const claimedAt = clock.now().getTime()
      for (const row of rows) instruments.outboxClaimed(row.ageSeconds)
      faultPoint?.('relay.after_claim')
      const outcomes = await publisher.publishBatch(rows.map(toMessage), faultPoint ? { afterSend: () => faultPoint('relay.after_publish') } : undefined)
      faultPoint?.('relay.after_confirm')
      const delivered = rows.filter((_, i) => outcomes[i]!.ok)
      // Row age is read by the database clock at claim; the publish is timed by this process's.
      const publishSeconds = (clock.now().getTime() - claimedAt) / 1000
      published = delivered.map(row => row.ageSeconds + publishSeconds)
      await tx.outbox.markDelivered(delivered.map(r => r.id))
      result.delivered = delivered.length
      for (const [i, row] of rows.entries()) {
        const outcome = outcomes[i]!
        if (outcome.ok) continue
        const attempt = row.attempts + 1
        const dead = attempt >= row.maxAttempts
        await tx.outbox.markFailed(row.id, { error: `${outcome.reason}: ${outcome.error}`, retryInSeconds: retryDelaySeconds(attempt, retryBaseSeconds, retryMaxSeconds), dead })
        if (!dead) {
          result.retried++
          continue
        }
        result.dead++
        // Each dead row is a condition of its own that never ends (a dead row stays dead).
        const alert = systemAlertEvent({
          severity: 'error',
          alert: 'outbox_dead',
          key: `outbox_dead:${row.eventId}`,
          state: 'firing',
          reason: 'event dead-lettered',
          aggregateType: 'outbox',
          aggregateId: row.eventId,
          seq: 1,
          actor: 'relay',
          data: {
            event_id: row.eventId,
            event_type: row.eventType,
            routing_key: row.routingKey,
            attempts: attempt,
            error: `${outcome.reason}: ${outcome.error}`,
          },
        }, { ids, clock })
        await tx.events.append(alert)
      }
      faultPoint?.('relay.before_commit')
      return result
    })
    // Only what committed was published as far as anyone can tell.
    for (const seconds of published) instruments.eventPublished(seconds)
    return outcome
  },
})

export type OutboxRelay = ReturnType<typeof createOutboxRelay>
