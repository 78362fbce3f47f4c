// The ports of the event path: the bus the relay publishes to and subscribers read from, and
// the audit-log reader behind the live feed. Re-exported by src/core/ports.ts.

/** A message on the event bus: the outbox row's envelope, keyed for topic routing. */
export interface BusMessage {
  routingKey: string
  /** The event id: consumers dedupe on it (delivery is at least once). */
  messageId: string
  type: string
  timestamp: Date
  body: Record<string, unknown>
}

/** Per message: confirmed by the bus, or refused for a reason that concerns this message. */
export type PublishOutcome = { ok: true } | { ok: false, reason: 'returned' | 'nacked' | 'rejected', error: string }

export interface EventPublisher {
  /** True while a publish can succeed (connected, channel open). */
  ready(): boolean
  /**
   * Publishes a window of messages and waits for every confirm. Message-level refusals come
   * back as outcomes; losing the connection or channel mid-window throws (the bus is
   * unavailable, the messages' fate unknown), so the caller retries them all later.
   * `hooks.afterSend` (crash tests only) runs once the messages have been written out, not
   * just queued, and before any confirm is read.
   */
  publishBatch(messages: BusMessage[], hooks?: { afterSend?: () => void }): Promise<PublishOutcome[]>
}

export interface BusSubscription { close(): Promise<void> }

export interface EventSubscriber {
  /** Delivers every message whose routing key matches `pattern` (`*` one word, `#` any). */
  subscribe(pattern: string, onMessage: (message: BusMessage) => void): Promise<BusSubscription>
}

export interface EventBus extends EventPublisher, EventSubscriber {
  close(): Promise<void>
}

/**
 * A place in the live feed's order: a decimal string, 1, 2, 3... with no gap (event_feed.seq).
 * An event gets its place once its transaction has committed, after every place given before,
 * and keeps it: the same on every daemon, so "the last event I saw" is a cursor to resume from.
 */
export type FeedPosition = string

/** One event as the live feed sends it. */
export interface FeedEvent {
  position: FeedPosition
  eventId: string
  routingKey: string
  /** The outbox envelope (the proto `stratavore.v1.Event` as JSON) plus `routing_key`. */
  frame: Record<string, unknown>
}

export interface FeedPage {
  /** In position order; with a pattern, only the events whose routing key matches it. */
  events: FeedEvent[]
  /** How many rows were examined, matching or not; fewer than the limit means the end. */
  scanned: number
  /** The last position examined, to continue from; null when none was. */
  last: FeedPosition | null
}

/**
 * Reads the audit log for the live feed, in its order. Reads never wait for anyone: they see
 * the events placed so far, and a place is only ever given after all lower ones were.
 */
export interface EventFeedSource {
  /**
   * Places every event committed so far (it waits for no running transaction) and returns the
   * last place: every event still to come gets a later one.
   */
  head(): Promise<FeedPosition>
  positionOf(eventId: string): Promise<FeedPosition | null>
  /** The place just before the first placed event that occurred at or after `since`; null when none has. */
  positionBefore(since: Date): Promise<FeedPosition | null>
  /** Up to `limit` rows after `after` (and at or before `until`, when given). */
  read(after: FeedPosition, options: { limit: number, until?: FeedPosition, pattern?: string }): Promise<FeedPage>
  /** How many rows lie after `after` and at or before `until`, counting no further than `cap`. */
  countBetween(after: FeedPosition, until: FeedPosition, cap: number): Promise<number>
}
