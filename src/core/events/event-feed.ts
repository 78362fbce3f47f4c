// The live event feed of one API instance: a single tail of the audit log shared by every
// subscriber (WebSocket client), in one total order, the feed's places (event_feed.seq, given at
// commit: src/adapters/db/repositories/event-feed.ts). Everything a subscriber receives is in that
// order, so "the last event I saw" is a cursor a client can resume from, on any instance, with
// no gap and no duplicate. An event whose transaction commits late gets a place after everything
// sent before it, so it is sent then, once, and a resumed client gets it the same way.
// Delivering in the bus's order instead would not do: the relay publishes in its own order, so
// a resumed client could miss an event that was published after a later one, or get one twice.
//
// The bus is only a wake-up: this instance consumes its own queue bound with '#', and each
// message (but a heartbeat, which is no audit event) makes the tail read now instead of at the next poll. A message published twice wakes
// it twice and is read once; an event never published is read by the poll.
//
//   tail:  idle ──first subscriber──> running ──last subscriber gone──> idle
//   subscriber:  replaying (live events buffered, bounded) ──replay done──> live
//
// A subscriber joins at the tail's cursor T0: the tail hands it every event after T0, which it
// buffers while it replays (after, T0] from the database page by page; then it sends the
// buffer and goes live. Its own cursor drops whatever it has already sent.
import { errors } from '../errors.js'
import type { BusSubscription, EventFeedSource, EventSubscriber, FeedEvent, FeedPosition } from '../ports.js'
import { checkTopicPattern, topicMatches } from './topic.js'

// Positions are canonical decimal strings of non-negative integers (bigints as Postgres prints
// them): the shorter is smaller, and equal lengths compare as text. This runs once per
// subscriber per event, so it must not parse BigInts.
export const comparePositions = (a: FeedPosition, b: FeedPosition): number =>
  a.length !== b.length ? (a.length < b.length ? -1 : 1) : a === b ? 0 : a < b ? -1 : 1

export interface FeedSink {
  /** Takes one event; called in position order, never twice with the same event. */
  send(event: FeedEvent): void
  /** Resolves when the sink can take more: the replay waits for it between pages. */
  drained(): Promise<void>
}

export interface FeedSubscription {
  /** Resolves once the replay is done and events flow live; rejects with RESYNC_REQUIRED, FEED_OVERFLOW or a read failure. */
  live: Promise<void>
  close(): void
}

export interface EventFeed {
  /**
   * `after`: the event id the client saw last; events after it are replayed, then live ones
   * follow. `since` (instead of `after`): the events that occurred from then on are replayed.
   */
  subscribe(options: { pattern: string, after?: string, since?: Date, sink: FeedSink }): FeedSubscription
  stats(): { subscribers: number, tailing: boolean, busSubscribed: boolean }
  close(): Promise<void>
}

export interface EventFeedOptions {
  source: EventFeedSource
  bus: EventSubscriber
  onError: (err: unknown) => void
  pageSize?: number
  /** A client further behind than this many events gets RESYNC_REQUIRED instead of a replay. */
  maxReplay?: number
  /** Live events held per subscriber while it replays; beyond it the subscriber is dropped. */
  maxBuffered?: number
  pollIntervalMs?: number
  /** First retry when a bus message's event is not read yet; doubles up to the poll. */
  hintRetryMs?: number
  hintTtlMs?: number
  now?: () => number
}

interface Subscriber {
  pattern: string
  sink: FeedSink
  cursor: FeedPosition
  /** Live events held while replaying; null once live. */
  buffer: FeedEvent[] | null
  closed: boolean
  fail(err: Error): void
}

interface Tail {
  ready: Promise<void>
  cursor: FeedPosition | null
  stopped: boolean
  busSubscription: BusSubscription | null
  timer: ReturnType<typeof setTimeout> | null
  running: Promise<void> | null
  again: boolean
  failed: boolean
  /** Event ids the bus announced that the tail has not read yet, with when they came. */
  hints: Map<string, number>
  hintDelay: number
  /** Event ids read lately, so that a duplicate bus message wakes nothing. */
  recent: Set<string>
}

const MAX_HINTS = 10_000
const FANOUT_SLICE_MS = 10
const yieldToLoop = () => new Promise<void>(resolve => setImmediate(resolve))
const MAX_RECENT = 10_000

export const createEventFeed = (options: EventFeedOptions): EventFeed => {
  const { source, bus, onError, pageSize = 500, maxReplay = 50_000, maxBuffered = 5_000 } = options
  const { pollIntervalMs = 1_000, hintRetryMs = 10, hintTtlMs = 10_000, now = Date.now } = options
  const subscribers = new Set<Subscriber>()
  const users = new Set<Subscriber>()
  let tail: Tail | null = null
  let stopping: Promise<void> = Promise.resolve()
  let busSubscribed = false
  let closed = false

  const deliver = (sub: Subscriber, event: FeedEvent) => {
    if (sub.closed || comparePositions(event.position, sub.cursor) <= 0) return
    sub.cursor = event.position
    sub.sink.send(event)
  }

  const fanOut = (event: FeedEvent) => {
    // Subscribers often share a pattern (a dashboard per project): match each pattern once.
    const verdicts = new Map<string, boolean>()
    for (const sub of subscribers) {
      let matches = verdicts.get(sub.pattern)
      if (matches === undefined) verdicts.set(sub.pattern, matches = topicMatches(sub.pattern, event.routingKey))
      if (!matches) continue
      if (!sub.buffer) deliver(sub, event)
      else if (sub.buffer.length < maxBuffered) sub.buffer.push(event)
      else sub.fail(errors.feedOverflow(maxBuffered))
    }
  }

  const tick = async (t: Tail) => {
    t.again = false
    t.failed = false
    try {
      // Places what has committed since the last tick (cheap when nothing has): reads see only
      // placed events.
      const head = await source.head()
      if (t.stopped || comparePositions(head, t.cursor!) <= 0) return
      for (;;) {
        const page = await source.read(t.cursor!, { limit: pageSize })
        if (t.stopped) return
        let sliceStart = Date.now()
        for (const event of page.events) {
          // A page can be hundreds of events for a thousand subscribers: give the loop back
          // between slices so the API (and, in `all`, the relay) keep running meanwhile.
          if (Date.now() - sliceStart >= FANOUT_SLICE_MS) {
            await yieldToLoop()
            if (t.stopped) return
            sliceStart = Date.now()
          }
          t.cursor = event.position
          t.hints.delete(event.eventId)
          t.recent.add(event.eventId)
          if (t.recent.size > MAX_RECENT) t.recent.delete(t.recent.values().next().value!)
          fanOut(event)
        }
        if (page.scanned < pageSize) return
      }
    } catch (err) {
      t.failed = true
      onError(err)
    }
  }

  const arm = (t: Tail, delayMs: number) => {
    if (t.timer) clearTimeout(t.timer)
    // Not unref'd: the tail runs only while someone listens, and stops when the last one leaves.
    t.timer = setTimeout(() => run(t), delayMs)
  }

  const run = (t: Tail) => {
    t.timer = null
    t.running = tick(t).finally(() => {
      t.running = null
      if (t.stopped) return
      const at = now()
      for (const [id, since] of t.hints) if (at - since > hintTtlMs) t.hints.delete(id)
      if (t.failed) return arm(t, pollIntervalMs)
      if (t.again) return arm(t, 0)
      if (t.hints.size === 0) return arm(t, pollIntervalMs)
      // A bus message comes after its event committed, so a tick places and reads it; one still
      // unread is not in this audit log (or not visible yet on this connection): look again
      // soon, then less and less often, until it expires.
      arm(t, t.hintDelay)
      t.hintDelay = Math.min(t.hintDelay * 2, pollIntervalMs)
    })
  }

  const onHint = (t: Tail, eventId: string) => {
    if (t.stopped || t.cursor === null || t.recent.has(eventId) || t.hints.has(eventId)) return
    if (t.hints.size >= MAX_HINTS) t.hints.delete(t.hints.keys().next().value!)
    t.hints.set(eventId, now())
    t.hintDelay = hintRetryMs
    if (t.running) t.again = true
    else arm(t, 0)
  }

  const startTail = (): Tail => {
    const t: Tail = {
      ready: Promise.resolve(), cursor: null, stopped: false, busSubscription: null, timer: null, running: null,
      again: false, failed: false, hints: new Map(), hintDelay: hintRetryMs, recent: new Set(),
    }
    t.ready = (async () => {
      await stopping
      // Without the bus the feed still works, a poll interval behind.
      try {
        // Heartbeats are not in the audit log: as hints they would keep the tail looking for
        // events that never come.
        t.busSubscription = await bus.subscribe('#', message => { if (message.type !== 'runner.heartbeat') onHint(t, message.messageId) })
        busSubscribed = true
      } catch (err) {
        onError(err)
      }
      if (t.stopped) return
      t.cursor = await source.head()
      if (!t.stopped) arm(t, 0)
    })()
    t.ready.catch(() => { if (tail === t) stopTail(t) })
    return t
  }

  const stopTail = (t: Tail) => {
    if (tail === t) tail = null
    t.stopped = true
    if (t.timer) clearTimeout(t.timer)
    stopping = (async () => {
      await t.ready.catch(() => {})
      await t.running
      if (t.busSubscription) await t.busSubscription.close().catch(onError)
      busSubscribed = false
    })()
  }

  const subscribe: EventFeed['subscribe'] = ({ pattern, after, since, sink }) => {
    checkTopicPattern(pattern)
    if (after !== undefined && since !== undefined) throw errors.invalidArgument('give after or since, not both')
    if (closed) throw errors.unavailable('the event feed is closed')
    let fail: (err: Error) => void = () => {}
    const failed = new Promise<never>((_, reject) => { fail = reject })
    failed.catch(() => {})
    const sub: Subscriber = { pattern, sink, cursor: '0', buffer: [], closed: false, fail: err => { fail(err); release() } }
    const release = () => {
      if (sub.closed) return
      sub.closed = true
      sub.buffer = null
      subscribers.delete(sub)
      users.delete(sub)
      if (users.size === 0 && tail) stopTail(tail)
    }
    const step = <T>(promise: Promise<T>) => Promise.race([promise, failed])
    users.add(sub)

    const live = (async () => {
      const t = tail ?? (tail = startTail())
      await step(t.ready)
      if (sub.closed) return
      // Joining and reading the cursor happen together: every event after it reaches the buffer.
      const joinedAt = t.cursor!
      subscribers.add(sub)
      let from = joinedAt
      if (after !== undefined) {
        const position = await step(source.positionOf(after))
        if (!position) throw errors.resyncRequired(`event ${after} is not in the audit log`)
        from = position
      } else if (since !== undefined) {
        from = await step(source.positionBefore(since)) ?? joinedAt
      }
      sub.cursor = from
      if (comparePositions(from, joinedAt) < 0) {
        if (await step(source.countBetween(from, joinedAt, maxReplay + 1)) > maxReplay) {
          throw errors.resyncRequired(`more than ${maxReplay} events happened since ${after !== undefined ? `event ${after}` : since!.toISOString()}`)
        }
        for (;;) {
          const page = await step(source.read(from, { limit: pageSize, until: joinedAt, pattern }))
          // At the client's pace: a page can be megabytes, more than a client that reads is
          // allowed to fall behind live.
          for (const event of page.events) {
            deliver(sub, event)
            await step(sink.drained())
          }
          if (page.scanned < pageSize || !page.last || sub.closed) break
          from = page.last
        }
      }
      // Then what came live meanwhile, also at its pace; live events join the buffer until it is empty.
      for (let i = 0; sub.buffer && i < sub.buffer.length; i++) {
        deliver(sub, sub.buffer[i]!)
        await step(sink.drained())
      }
      sub.buffer = null
    })()
    live.catch(release)
    return { live, close: release }
  }

  return {
    subscribe,
    stats: () => ({ subscribers: users.size, tailing: tail !== null, busSubscribed }),
    async close () {
      closed = true
      for (const sub of [...users]) sub.fail(errors.unavailable('the event feed is closing'))
      if (tail) stopTail(tail)
      await stopping
    },
  }
}
