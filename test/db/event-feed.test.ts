// The live feed's reads of the audit log (src/adapters/db/repositories/event-feed.ts) on a real
// database: places given at commit, SQL topic filtering identical to the bus's, paging, and
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
  // Places what has committed, then reads it.
  const readPlaced = async (from: FeedPosition) => {
    await source.head()
    return source.read(from, { limit: 100 })
  }

  t.test('reads in the order of commits, filters in SQL, pages, and counts', async t => {
    const start = await source.head()
    const events = await commitEvents(ctx, [
      { project: 'p1' }, { project: 'p2' }, { project: 'p1', type: 'runner.stopped' }, { project: 'p1', type: 'project.created' }, { project: 'p1' },
    ])
    const all = await readPlaced(start)
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
    const before = await source.positionBefore(events[0]!.occurredAt)
    t.ok(before !== null && comparePositions(before, all.events[0]!.position) < 0, 'since the first event\'s time: a place before it')
    t.same((await source.read(before!, { limit: 100 })).events.map(e => e.eventId).slice(-5), events.map(e => e.eventId), 'a read from it has them all')
    t.equal(await source.positionBefore(new Date(Date.now() + 3_600_000)), null, 'nothing occurred since a future time')
    t.equal(await source.countBetween(start, all.events[4]!.position, 100), 5)
    t.equal(await source.countBetween(start, all.events[4]!.position, 3), 3, 'counting stops at the cap')
    t.equal(await source.head(), all.events[4]!.position, 'the head is the last event placed')
  })

  t.test('an envelope is rebuilt from the audit row when its outbox row is gone', async t => {
    const start = await source.head()
    const [event] = await commitEvents(ctx, [{ project: 'p3', type: 'runner.stopped', data: { reason: 'done' } }])
    await ctx.database.db.delete(outbox).where(eq(outbox.eventId, event!.eventId))
    await source.head()
    const { events } = await source.read(start, { limit: 10, pattern: 'runner.stopped.p3' })
    t.same(events[0]?.frame, {
      version: 1, event_id: event!.eventId, type: 'runner.stopped', occurred_at: event!.occurredAt.toISOString(), project: 'p3',
      aggregate_type: 'runner', aggregate_id: event!.aggregateId, actor: 'test', data: { reason: 'done' }, routing_key: 'runner.stopped.p3',
    })
  })

  t.test('a running transaction is not waited for: its row is placed when it commits, after the rows placed meanwhile', { skip: backendName() === 'pglite' ? 'PGlite has one connection: no two transactions overlap' : false }, async t => {
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
    try {
      const [fast] = await commitEvents(ctx, [{ project: 'fast' }])
      const before = await readPlaced(start)
      t.same(before.events.map(e => e.eventId), [fast!.eventId], 'the later commit is read at once')
      t.equal(await source.positionOf(slow.eventId), null, 'the running one has no place')
    } finally {
      finish()
      await running
    }
    const after = await readPlaced(start)
    t.equal(after.events[1]?.eventId, slow.eventId, 'then it comes, after the one placed meanwhile')
    t.equal(after.events.length, 2)
    t.equal(await source.positionOf(slow.eventId), after.events[1]!.position)
  })

  t.test('concurrent writers committing out of order, three tails placing and reading at once: each reads the one order, whole', { skip: backendName() === 'pglite' ? 'PGlite has one connection: no two transactions overlap' : false }, async t => {
    const start = await source.head()
    const written: string[] = []
    let writing = true
    const writers = Array.from({ length: 6 }, async (_, w) => {
      for (let i = 0; i < 12; i++) {
        const batch = Array.from({ length: 1 + (i % 3) }, () => domainEvent(ctx, { project: `w${w}` }))
        // Hold some transactions open a little after appending, so commits overtake each other.
        await ctx.uow.run(async tx => {
          await tx.events.appendMany(batch)
          if (i % 2 === 0) await new Promise(resolve => setTimeout(resolve, (w * 7 + i * 3) % 20))
        })
        written.push(...batch.map(e => e.eventId))
      }
    })
    const done = Promise.all(writers).finally(() => { writing = false })
    const tails = Array.from({ length: 3 }, async () => {
      const seen: Array<{ id: string, position: string }> = []
      let cursor = start
      for (;;) {
        const last = !writing
        const head = await source.head()
        while (comparePositions(cursor, head) < 0) {
          const page = await source.read(cursor, { limit: 7 })
          seen.push(...page.events.map(e => ({ id: e.eventId, position: e.position })))
          cursor = page.last ?? cursor
          if (page.scanned === 0) break
        }
        if (last) return seen
        await new Promise(resolve => setTimeout(resolve, 1))
      }
    })
    await done
    const [one, two, three] = await Promise.all(tails)
    const all = await source.read(start, { limit: 1000 })
    t.equal(all.events.length, written.length, 'every event placed')
    t.same([...all.events.map(e => e.eventId)].sort(), [...written].sort(), 'each once')
    t.same(all.events.map(e => e.position), all.events.map((_, i) => String(BigInt(start) + BigInt(i) + 1n)), 'places without a gap')
    for (const seen of [one!, two!, three!]) t.same(seen, all.events.map(e => ({ id: e.eventId, position: e.position })), 'a tail read the whole order, in order')
  })

  t.test('an event committed but not placed yet is placed when a client names it', async t => {
    const [event] = await commitEvents(ctx, [{ project: 'named' }])
    const position = await source.positionOf(event!.eventId)
    t.ok(position)
    t.equal(position, await source.head(), 'it is the last place')
  })
})
