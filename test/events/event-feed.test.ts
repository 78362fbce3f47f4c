// The live feed's core over a fake audit log (our own port, EventFeedSource) and the
// in-process bus: order, resume, dedupe, late commits, bounds and the tail's life.
import t from 'tap'
import { createInProcessBus } from '../../src/adapters/bus/in-process-bus.js'
import { comparePositions, createEventFeed, type EventFeedOptions, type FeedSink } from '../../src/core/events/event-feed.js'
import { topicMatches } from '../../src/core/events/topic.js'
import type { BusMessage, EventFeedSource, FeedEvent, FeedPosition } from '../../src/core/ports.js'

const waitFor = async (what: string, check: () => boolean, timeoutMs = 5_000) => {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 1))
  }
}

interface Row extends FeedEvent { committed: boolean }

/**
 * An audit log in memory, placed the way event_feed_advance() places it: head() gives every
 * committed row not placed yet the next place (1, 2, 3...), in id order, and waits for nobody.
 */
const fakeLog = () => {
  const rows: Row[] = []
  const placed: Row[] = []
  let nextId = 1
  let reads = 0
  const advance = () => {
    for (const row of rows) if (row.committed && !row.position) placed.push(Object.assign(row, { position: String(placed.length + 1) }))
    return String(placed.length)
  }
  const between = (after: FeedPosition, until?: FeedPosition) =>
    placed.filter(r => comparePositions(r.position, after) > 0 && (!until || comparePositions(r.position, until) <= 0))
  const source: EventFeedSource & { reads(): number } = {
    reads: () => reads,
    head: async () => advance(),
    positionOf: async id => {
      const row = rows.find(r => r.eventId === id && r.committed)
      if (row && !row.position) advance()
      return row?.position ?? null
    },
    positionBefore: async () => null,
    async read (after, { limit, until, pattern }) {
      reads++
      const window = between(after, until).slice(0, limit)
      const events = window.filter(r => !pattern || topicMatches(pattern, r.routingKey)).map(({ committed: _, ...e }) => e)
      return { events, scanned: window.length, last: window.at(-1)?.position ?? null }
    },
    countBetween: async (after, until, cap) => Math.min(cap, between(after, until).length),
  }
  /** Starts a transaction writing one event; it has no place until it commits and head() runs. */
  const begin = (routingKey: string) => {
    const id = nextId++
    const row: Row = { position: '', eventId: `e${id}`, routingKey, frame: { event_id: `e${id}`, routing_key: routingKey }, committed: false }
    rows.push(row)
    return { row, commit: () => { row.committed = true; return row } }
  }
  const commit = (routingKey: string) => begin(routingKey).commit()
  return { source, begin, commit, rows }
}

const message = (row: FeedEvent): BusMessage => ({ routingKey: row.routingKey, messageId: row.eventId, type: 'x', timestamp: new Date(), body: row.frame })

const collector = () => {
  const got: string[] = []
  let drainedGate: Promise<void> = Promise.resolve()
  const sink: FeedSink & { got: string[], gate(p: Promise<void>): void } = {
    got,
    send: event => { got.push(event.eventId) },
    drained: () => drainedGate,
    gate: p => { drainedGate = p },
  }
  return sink
}

const setup = (t: { teardown(fn: () => unknown): void }, options: Partial<EventFeedOptions> = {}) => {
  const log = fakeLog()
  const bus = createInProcessBus({ onHandlerError: err => { throw err } })
  const errors: unknown[] = []
  // A long poll: only bus messages (or a test's explicit wait) drive reads, unless a test shortens it.
  const feed = createEventFeed({ source: log.source, bus, onError: err => errors.push(err), pollIntervalMs: 60_000, pageSize: 3, ...options })
  t.teardown(async () => { await feed.close(); await bus.close() })
  const publish = (...rows: FeedEvent[]) => bus.publishBatch(rows.map(message))
  return { log, bus, feed, errors, publish }
}

t.test('live events arrive in position order, filtered, once each even when published twice', async t => {
  const { log, feed, publish } = setup(t)
  const sink = collector()
  const sub = feed.subscribe({ pattern: 'runner.*.p1', sink })
  await sub.live
  const a = log.commit('runner.launched.p1')
  const b = log.commit('runner.launched.p2')
  const c = log.commit('runner.stopped.p1')
  await publish(a, b, c, a, c)
  await waitFor('p1 events', () => sink.got.length >= 2)
  await publish(c, a)
  const d = log.commit('runner.failed.p1')
  await publish(d)
  await waitFor('the last event', () => sink.got.includes(d.eventId))
  t.same(sink.got, [a.eventId, c.eventId, d.eventId])
  sub.close()
})

t.test('an event that commits late is not waited for: it comes once it commits, after what was sent meanwhile, once', async t => {
  const { log, feed, publish } = setup(t)
  const sink = collector()
  await feed.subscribe({ pattern: '#', sink }).live
  const slow = log.begin('runner.launched.p1') // an older transaction still running
  const fast = log.commit('runner.launched.p1')
  await publish(fast)
  await waitFor('the later commit', () => sink.got.includes(fast.eventId))
  t.same(sink.got, [fast.eventId], 'not held back by the running transaction')
  slow.commit()
  await publish(slow.row, fast)
  await waitFor('the late event', () => sink.got.length === 2)
  t.same(sink.got, [fast.eventId, slow.row.eventId], 'the late event after what was sent, once')
  // A client that had seen `fast` resumes from it and gets the late event, once.
  const resumed = collector()
  await feed.subscribe({ pattern: '#', after: fast.eventId, sink: resumed }).live
  const next = log.commit('runner.stopped.p1')
  await publish(next)
  await waitFor('the next event', () => resumed.got.includes(next.eventId))
  t.same(resumed.got, [slow.row.eventId, next.eventId])
})

t.test('an event never published still arrives, by the poll', async t => {
  const { log, feed } = setup(t, { pollIntervalMs: 20 })
  const sink = collector()
  await feed.subscribe({ pattern: '#', sink }).live
  const a = log.commit('project.created.p1')
  await waitFor('the unpublished event', () => sink.got.includes(a.eventId))
})

t.test('resume: the replay, then the events that arrived during it, with no gap and no duplicate', async t => {
  const { log, feed, publish } = setup(t)
  const history = Array.from({ length: 10 }, (_, i) => log.commit(`runner.launched.p${i % 2}`))
  const watcher = collector()
  await feed.subscribe({ pattern: '#', sink: watcher }).live
  const sink = collector()
  // Hold the replay after its first page while live events keep coming.
  let open: () => void = () => {}
  sink.gate(new Promise(resolve => { open = resolve }))
  const sub = feed.subscribe({ pattern: 'runner.*.p0', after: history[1]!.eventId, sink })
  await waitFor('the first replayed page', () => sink.got.length > 0)
  const live = Array.from({ length: 6 }, (_, i) => log.commit(`runner.stopped.p${i % 2}`))
  await publish(...live, ...live)
  await waitFor('the tail to hand out the live events', () => watcher.got.length === live.length)
  open()
  await sub.live
  const later = log.commit('runner.failed.p0')
  await publish(later)
  const expected = [...history.slice(2), ...live, later].filter(r => r.routingKey.endsWith('.p0')).map(r => r.eventId)
  await waitFor('every p0 event after the cursor', () => sink.got.length >= expected.length)
  t.same(sink.got, expected)
})

t.test('a client whose cursor is ahead of this tail skips what it has seen', async t => {
  const { log, feed, publish } = setup(t)
  const sink = collector()
  const first = collector()
  await feed.subscribe({ pattern: '#', sink: first }).live // starts the tail before the events exist
  const rows = [log.commit('a.b'), log.commit('a.b'), log.commit('a.b')]
  const sub = feed.subscribe({ pattern: '#', after: rows[1]!.eventId, sink })
  await sub.live
  await publish(...rows)
  await waitFor('the tail to pass the rows', () => first.got.length === 3)
  t.same(sink.got, [rows[2]!.eventId])
})

t.test('resync instead of replay: an unknown cursor, or a backlog over the cap', async t => {
  const { log, feed } = setup(t, { maxReplay: 5 })
  const first = log.commit('a.b')
  for (let i = 0; i < 6; i++) log.commit('a.b')
  await t.rejects(feed.subscribe({ pattern: '#', after: 'nope', sink: collector() }).live, { code: 'RESYNC_REQUIRED' })
  await t.rejects(feed.subscribe({ pattern: '#', after: first.eventId, sink: collector() }).live, { code: 'RESYNC_REQUIRED' })
  await feed.subscribe({ pattern: '#', after: log.rows[1]!.eventId, sink: collector() }).live
})

t.test('a subscriber that cannot take its replay is dropped once the live buffer passes its bound', async t => {
  const { log, feed, publish } = setup(t, { maxBuffered: 4 })
  const history = Array.from({ length: 5 }, () => log.commit('a.b'))
  const sink = collector()
  sink.gate(new Promise(() => {})) // never drains
  const sub = feed.subscribe({ pattern: '#', after: history[0]!.eventId, sink })
  await waitFor('the first page', () => sink.got.length > 0)
  const live = Array.from({ length: 5 }, () => log.commit('a.b'))
  await publish(...live)
  await t.rejects(sub.live, { code: 'FEED_OVERFLOW' })
  t.equal(feed.stats().subscribers, 0, 'released')
})

t.test('the tail holds one bus subscription while anyone listens, and none after', async t => {
  const { feed } = setup(t)
  t.same(feed.stats(), { subscribers: 0, tailing: false, busSubscribed: false })
  const subs = [feed.subscribe({ pattern: '#', sink: collector() }), feed.subscribe({ pattern: 'a.*', sink: collector() })]
  await Promise.all(subs.map(s => s.live))
  t.same(feed.stats(), { subscribers: 2, tailing: true, busSubscribed: true })
  subs[0]!.close()
  t.equal(feed.stats().tailing, true)
  subs[1]!.close()
  await waitFor('the bus subscription to be released', () => !feed.stats().busSubscribed)
  t.same(feed.stats(), { subscribers: 0, tailing: false, busSubscribed: false })
  const again = feed.subscribe({ pattern: '#', sink: collector() })
  await again.live
  t.same(feed.stats(), { subscribers: 1, tailing: true, busSubscribed: true }, 'starts again on demand')
  await feed.close()
  t.same(feed.stats(), { subscribers: 0, tailing: false, busSubscribed: false })
  t.throws(() => feed.subscribe({ pattern: '#', sink: collector() }), { code: 'UNAVAILABLE' })
})

t.test('positions order as numbers, beyond 2^53', async t => {
  t.equal(comparePositions('9007199254740993', '9007199254740992'), 1)
  t.equal(comparePositions('2', '10'), -1)
  t.equal(comparePositions('7', '7'), 0)
})

t.test('heartbeats on the bus wake nothing: they are not in the audit log', async t => {
  const { log, bus, feed } = setup(t)
  const sink = collector()
  await feed.subscribe({ pattern: '#', sink }).live
  await new Promise(resolve => setTimeout(resolve, 50)) // the tail's first read
  const before = log.source.reads()
  await bus.publishBatch(Array.from({ length: 20 }, (_, i) => ({
    routingKey: `runner.heartbeat.r${i}`, messageId: `hb${i}`, type: 'runner.heartbeat', timestamp: new Date(), body: {},
  })))
  await new Promise(resolve => setTimeout(resolve, 100))
  t.equal(log.source.reads(), before, 'no read for a heartbeat')
  const row = log.commit('runner.launched.p1')
  await bus.publishBatch([message(row)])
  await waitFor('the event', () => sink.got.length === 1)
  t.same(sink.got, [row.eventId], 'an event still wakes it')
})
