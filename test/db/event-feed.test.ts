// The live feed's reads of the audit log (src/adapters/db/repositories/event-feed.ts) on a real
// database: commit-safe positions, SQL topic filtering identical to the bus's, paging, and
// envelopes rebuilt from the audit row when the outbox row is gone.
import t from 'tap'
import { eq } from 'drizzle-orm'
import { createEventFeedSource, topicPatternRegex } from '../../src/adapters/db/repositories/event-feed.js'
import { outbox } from '../../src/adapters/db/schema.js'
import { comparePositions } from '../../src/core/events/event-feed.js'
import { topicMatches } from '../../src/core/events/topic.js'
import type { FeedPosition } from '../../src/core/ports.js'
import { buildContext } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { commitEvents, domainEvent } from '../helpers/events.js'

t.test('topic patterns become regular expressions that select exactly what the bus would', async t => {
  const patterns = ['#', '*', 'a', 'a.*', 'a.#', '#.c', '*.b.*', 'a.#.c', '#.#', '*.#', 'a.*.#.c', 'runner.*.p-1', 'runner.#']
  const keys = ['', 'a', 'a.b', 'a.b.c', 'a.x.y.c', 'b', 'x.b.y', 'runner.launched.p-1', 'runner.launched.p-10', 'a..c', 'c', 'runner']
  for (const pattern of patterns) {
    const regex = new RegExp(topicPatternRegex(pattern))
    for (const key of keys) t.equal(regex.test(key === '' ? '' : `.${key}`), topicMatches(pattern, key), `${pattern} ~ ${JSON.stringify(key)}`)
  }
})

t.test(`event feed reads on ${backendName()}`, async t => {
  const ctx = await buildContext(t)
  const source = createEventFeedSource(ctx.database.db)
  // xmin is cluster-wide: on a shared Postgres another session's write transaction can hold
  // back rows committed here for a moment. Wait until `n` rows after `from` are safe to read.
  const readSafe = async (from: FeedPosition, n: number, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const page = await source.read(from, { limit: 100 })
      if (page.scanned >= n) return page
      if (Date.now() > deadline) throw new Error(`only ${page.scanned} of ${n} events became safe to read in ${timeoutMs} ms`)
      await new Promise(resolve => setTimeout(resolve, 5))
    }
  }

  t.test('reads in commit-safe order, filters in SQL, pages, and counts', async t => {
    const start = await source.head()
    const events = await commitEvents(ctx, [
      { project: 'p1' }, { project: 'p2' }, { project: 'p1', type: 'runner.stopped' }, { project: 'p1', type: 'project.created' }, { project: 'p1' },
    ])
    const all = await readSafe(start, 5)
    t.same(all.events.map(e => e.eventId), events.map(e => e.eventId), 'every event, in commit order')
    t.equal(all.scanned, 5)
    for (let i = 1; i < all.events.length; i++) t.equal(comparePositions(all.events[i - 1]!.position, all.events[i]!.position), -1)
    const first = all.events[0]!
    t.match(first.frame, { event_id: events[0]!.eventId, type: 'runner.launched', project: 'p1', seq: 1, routing_key: 'runner.launched.p1', version: 1 })
    t.equal(first.routingKey, 'runner.launched.p1')

    const p1 = await source.read(start, { limit: 100, pattern: 'runner.*.p1' })
    t.same(p1.events.map(e => e.eventId), [events[0]!, events[2]!, events[4]!].map(e => e.eventId))
    t.equal(p1.scanned, 5, 'the window counts rows that do not match')

    const page = await source.read(start, { limit: 2, pattern: 'runner.*.p2' })
    t.same(page.events.map(e => e.eventId), [events[1]!.eventId])
    t.same(page.last, all.events[1]!.position, 'a page ends at the last row examined')
    const until = await source.read(page.last!, { limit: 100, until: all.events[3]!.position })
    t.same(until.events.map(e => e.eventId), [events[2]!.eventId, events[3]!.eventId], 'bounded by `until`, inclusive')

    t.same(await source.positionOf(events[2]!.eventId), all.events[2]!.position)
    t.equal(await source.positionOf(ctx.ids.next()), null)
    t.equal(await source.positionOf('not-a-uuid'), null)
    t.equal(await source.countBetween(start, all.events[4]!.position, 100), 5)
    t.equal(await source.countBetween(start, all.events[4]!.position, 3), 3, 'counting stops at the cap')
    t.equal(comparePositions(await source.head(), all.events[4]!.position), 1, 'the head is past every committed event')
  })

  t.test('an envelope is rebuilt from the audit row when its outbox row is gone', async t => {
    const start = await source.head()
    const [event] = await commitEvents(ctx, [{ project: 'p3', type: 'runner.stopped', data: { reason: 'done' } }])
    await ctx.database.db.delete(outbox).where(eq(outbox.eventId, event!.eventId))
    await readSafe(start, 1)
    const { events } = await source.read(start, { limit: 10, pattern: 'runner.stopped.p3' })
    t.same(events[0]?.frame, {
      version: 1, event_id: event!.eventId, type: 'runner.stopped', occurred_at: event!.occurredAt.toISOString(), project: 'p3',
      aggregate_type: 'runner', aggregate_id: event!.aggregateId, actor: 'test', data: { reason: 'done' }, routing_key: 'runner.stopped.p3',
    })
  })

  t.test('a row whose transaction began before a still-running one is not read until that one ends', { skip: backendName() === 'pglite' ? 'PGlite has one connection: no two transactions overlap' : false }, async t => {
    const start = await source.head()
    let finish: () => void = () => {}
    let begun: () => void = () => {}
    const began = new Promise<void>(resolve => { begun = resolve })
    const slow = domainEvent(ctx, { project: 'slow' })
    const running = ctx.uow.run(async tx => {
      await tx.events.append(slow)
      begun()
      await new Promise<void>(resolve => { finish = resolve })
    })
    await began
    const [fast] = await commitEvents(ctx, [{ project: 'fast' }])
    const before = await source.read(start, { limit: 10 })
    t.same(before.events.map(e => e.eventId), [], 'the later commit waits behind the running transaction')
    t.equal(comparePositions(await source.head(), (await source.positionOf(fast!.eventId))!), -1, 'and so does the head')
    finish()
    await running
    const after = await readSafe(start, 2)
    t.same(after.events.map(e => e.eventId), [slow.eventId, fast!.eventId], 'then both, the older transaction first')
  })
})
