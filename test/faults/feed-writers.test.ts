// F9: the live feed waits only for its own writers. On a shared Postgres cluster, a write
// transaction left open in another database (or by another application, or by Stratavore
// without events) must not hold the feed back; a Stratavore event writer that stalls must not
// either, and its event arrives once it commits: after what was delivered meanwhile, once,
// including for a client that resumes with the last event it saw, on any daemon.
//
// Every open transaction here lasts a few seconds and is ended in a finally: others' tests
// share this cluster.
import t from 'tap'
import { pino } from 'pino'
import postgres from 'postgres'
import { sql } from 'drizzle-orm'
import { openDatabase, type Database } from '../../src/adapters/db/client.js'
import { createContext, type Context } from '../../src/context.js'
import type { FeedSink } from '../../src/core/events/event-feed.js'
import { testConfig } from '../helpers/app.js'
import { createScratchDatabase, testDatabaseUrl } from '../helpers/database.js'
import { commitEvents, domainEvent } from '../helpers/events.js'
import { waitFor } from '../helpers/faults.js'

// How long a delivery may take with a stranger's transaction open: the feed polls every second
// (no relay runs here, so no bus message wakes it), so this is several polls.
const DELIVERY_MS = 5_000

const collector = () => {
  const got: string[] = []
  const sink: FeedSink & { got: string[] } = { got, send: event => { got.push(event.eventId) }, drained: async () => {} }
  return sink
}

/** A daemon on the scratch database: its own connection pool, context and feed. */
const openDaemon = async (t: Parameters<typeof createScratchDatabase>[0], url: string): Promise<{ database: Database, ctx: Context }> => {
  const database = await openDatabase({ kind: 'postgres', url, poolSize: 10 })
  t.teardown(() => database.close())
  await database.migrate()
  const ctx = await createContext(testConfig(t), pino({ level: 'silent' }), { roles: ['api'], database })
  t.teardown(() => ctx.close())
  return { database, ctx }
}

/** Runs `work` with a transaction open on `client`, ended (rolled back) whatever happens. */
const holding = async <T>(client: postgres.Sql, open: (tx: postgres.ReservedSql) => Promise<unknown>, work: () => Promise<T>): Promise<T> => {
  const reserved = await client.reserve()
  try {
    await reserved`begin`
    await open(reserved)
    return await work()
  } finally {
    await reserved`rollback`.catch(() => {})
    reserved.release()
  }
}

t.test('F9: the live feed waits only for its own writers', async t => {
  const adminUrl = testDatabaseUrl()
  if (!adminUrl) {
    if (process.env.CI) t.fail('STRATAVORE_TEST_DATABASE_URL must be set: CI must run the fault tests')
    else t.pass('F9', { skip: 'STRATAVORE_TEST_DATABASE_URL is not set' })
    return
  }
  const url = await createScratchDatabase(t)
  const a = await openDaemon(t, url)
  const b = await openDaemon(t, url)
  // A stranger on the cluster: the `postgres` database (the admin URL's), and one on ours.
  const stranger = postgres(adminUrl, { max: 2, onnotice: () => {}, connection: { application_name: 'f9-stranger' } })
  const neighbour = postgres(url, { max: 2, onnotice: () => {}, connection: { application_name: 'f9-neighbour' } })
  t.teardown(async () => { await stranger.end(); await neighbour.end() })

  const sinkA = collector()
  const sinkB = collector()
  await a.ctx.feed.subscribe({ pattern: '#', sink: sinkA }).live
  await b.ctx.feed.subscribe({ pattern: '#', sink: sinkB }).live
  const delivered = (sink: { got: string[] }, ids: string[], what: string) =>
    waitFor(what, () => ids.every(id => sink.got.includes(id)), { timeoutMs: DELIVERY_MS, detail: () => `got ${sink.got.length} event(s)` })
  const ids = (events: Array<{ eventId: string }>) => events.map(e => e.eventId)

  t.test('a write transaction open in another database does not hold the feed back', async t => {
    await holding(stranger, async tx => {
      await tx`create temp table f9_hold (x int)`
      await tx`insert into f9_hold values (1)`
    }, async () => {
      const events = ids(await commitEvents(a.ctx, [{ project: 'f9a' }, { project: 'f9a', type: 'runner.started' }, { project: 'f9a', type: 'runner.failed' }]))
      await delivered(sinkA, events, 'the events on daemon A while a stranger writes')
      await delivered(sinkB, events, 'the events on daemon B while a stranger writes')
      t.pass('delivered with the stranger\'s transaction still open')
    })
  })

  t.test('a read-only session, and a write on our database that appends no events, hold nothing back', async t => {
    await holding(neighbour, async tx => {
      await tx`select count(*) from events`
    }, () => holding(neighbour, async tx => {
      await tx`create temp table f9_local (x int)`
      await tx`insert into f9_local values (1)`
    }, async () => {
      // Stratavore's own transaction that writes but appends no event, still open.
      let finish: () => void = () => {}
      let begun: () => void = () => {}
      const began = new Promise<void>(resolve => { begun = resolve })
      const running = a.ctx.database.db.transaction(async tx => {
        await tx.execute(sql`create temp table f9_own (x int) on commit drop`)
        begun()
        await new Promise<void>(resolve => { finish = resolve })
      })
      await began
      try {
        const events = ids(await commitEvents(a.ctx, [{ project: 'f9b' }, { project: 'f9b', type: 'runner.stopped' }]))
        await delivered(sinkA, events, 'the events on daemon A while the sessions are open')
        await delivered(sinkB, events, 'the events on daemon B while the sessions are open')
        t.pass('delivered with the sessions and the transaction still open')
      } finally {
        finish()
        await running
      }
    }))
  })

  t.test('a stalled event writer: the others go on, its event follows when it commits, once, on every daemon', async t => {
    const stalled = domainEvent(a.ctx, { project: 'f9-stalled' })
    let finish: () => void = () => {}
    let begun: () => void = () => {}
    const began = new Promise<void>(resolve => { begun = resolve })
    // Through the real event log, in daemon A; it appends, then waits before committing.
    const running = a.ctx.uow.run(async tx => {
      await tx.events.append(stalled)
      begun()
      await new Promise<void>(resolve => { finish = resolve })
    })
    await began
    let meanwhile: string[]
    let lastSeenA: string
    try {
      meanwhile = ids(await commitEvents(b.ctx, [{ project: 'f9c' }, { project: 'f9c', type: 'runner.stopped' }]))
      await delivered(sinkA, meanwhile, 'daemon A: the events committed while a writer stalls')
      await delivered(sinkB, meanwhile, 'daemon B: the events committed while a writer stalls')
      t.notOk(sinkA.got.includes(stalled.eventId) || sinkB.got.includes(stalled.eventId), 'the stalled event is not sent before it commits')
      lastSeenA = sinkA.got.at(-1)!
    } finally {
      finish()
      await running
    }
    await delivered(sinkA, [stalled.eventId], 'daemon A: the stalled event once committed')
    await delivered(sinkB, [stalled.eventId], 'daemon B: the stalled event once committed')
    for (const [name, sink] of [['A', sinkA], ['B', sinkB]] as const) {
      t.equal(new Set(sink.got).size, sink.got.length, `daemon ${name}: no duplicate`)
      t.ok(sink.got.indexOf(stalled.eventId) > sink.got.indexOf(meanwhile.at(-1)!), `daemon ${name}: the late event comes after what was sent meanwhile`)
    }
    t.same(sinkA.got, sinkB.got, 'both daemons sent the same events in the same order')

    // A client that saw everything up to the last event before the late commit resumes from it,
    // on either daemon: it gets the late event once, then what follows.
    const [next] = ids(await commitEvents(a.ctx, [{ project: 'f9d' }]))
    for (const daemon of [a, b]) {
      const resumed = collector()
      const subscription = daemon.ctx.feed.subscribe({ pattern: '#', after: lastSeenA, sink: resumed })
      await subscription.live
      await delivered(resumed, [stalled.eventId, next!], 'the resumed client')
      t.same(resumed.got, [stalled.eventId, next], 'the resumed client gets the late event once, then the next')
      subscription.close()
    }
    await delivered(sinkA, [next!], 'daemon A: the next event')
    t.equal(new Set(sinkA.got).size, sinkA.got.length, 'still no duplicate')
  })
})
