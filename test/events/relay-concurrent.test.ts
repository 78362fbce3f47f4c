// Several relays at once (README "Events": they skip each other's rows). Three relays drain one
// backlog together, each built the way a `stratavored relay` process builds itself: its own
// context, its own database pool (on Postgres), its own AMQP connection, and the worker's
// startRelay. A ledger counts the deliveries of each event id. With no fault there is no excuse
// for a duplicate: every row must arrive exactly once, and more than one relay must have worked.
//
// On PGlite the relays share the one connection, so their passes take turns. On Postgres (the
// CI pass with STRATAVORE_TEST_DATABASE_URL) their claims overlap, and the test checks that they
// did: without overlapping transactions it would prove nothing about FOR UPDATE SKIP LOCKED.
import t, { type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import { pino } from 'pino'
import { and, isNull, sql } from 'drizzle-orm'
import { createInProcessBus } from '../../src/adapters/bus/in-process-bus.js'
import { openDatabase, type Database } from '../../src/adapters/db/client.js'
import { outbox } from '../../src/adapters/db/schema.js'
import type { Config } from '../../src/config.js'
import { createContext } from '../../src/context.js'
import type { EventBus } from '../../src/core/ports.js'
import { startRelay } from '../../workers/outbox-relay.js'
import { testConfig } from '../helpers/app.js'
import { openTestAmqpBus, requireRabbit, testAmqpUrl, uniqueExchange } from '../helpers/bus.js'
import { backendName, createScratchDatabase, testDatabaseUrl } from '../helpers/database.js'
import { waitFor } from '../helpers/faults.js'
import { openLedger } from '../helpers/ledger.js'

const BACKLOG = 3000
const RELAYS = 3
const BATCH = 50

const logger = pino({ level: process.env.STRATAVORE_TEST_LOG_LEVEL ?? 'silent' })

/** The test's database, and how each relay gets its own connection(s) to it. */
const openShared = async (t: Test): Promise<{ database: Database, openForRelay(): Promise<Database> }> => {
  const url = testDatabaseUrl() ? await createScratchDatabase(t) : null
  const database = url ? await openDatabase({ kind: 'postgres', url, poolSize: 4 }) : await openDatabase({ kind: 'pglite', dataDir: null })
  t.teardown(() => database.close())
  await database.migrate()
  return {
    database,
    // An in-memory PGlite is one connection inside this process: the relays can only share it
    // (and must not close it). On Postgres each relay has a pool of its own, as a process would.
    openForRelay: async () => url ? openDatabase({ kind: 'postgres', url, poolSize: 2 }) : { ...database, close: async () => {} },
  }
}

const seedBacklog = async (database: Database, n: number): Promise<string[]> => {
  const ids = Array.from({ length: n }, () => randomUUID())
  for (let i = 0; i < n; i += 500) {
    await database.db.insert(outbox).values(ids.slice(i, i + 500).map((eventId, j) => ({
      eventId, eventType: 'runner.launched', routingKey: 'runner.launched.relay-test', aggregateType: 'runner', aggregateId: `r-${i + j}`, seq: 1, payload: { n: i + j },
    })))
  }
  return ids
}

const pendingRows = async (database: Database) => {
  const [row] = await database.db.select({ n: sql<number>`count(*)`.mapWith(Number) }).from(outbox).where(and(isNull(outbox.deliveredAt), isNull(outbox.deadAt)))
  return row?.n ?? 0
}

/** Counts, per relay, the messages its bus confirmed. Closing is left to the test, which owns the bus. */
const tallied = (bus: EventBus, tally: { confirmed: number }): EventBus => ({
  ready: () => bus.ready(),
  async publishBatch (messages, hooks) {
    const outcomes = await bus.publishBatch(messages, hooks)
    tally.confirmed += outcomes.filter(o => o.ok).length
    return outcomes
  },
  subscribe: (pattern, onMessage) => bus.subscribe(pattern, onMessage),
  close: async () => {},
})

/**
 * Counts the transactions in flight on a relay's database handle, across relays, to show that
 * their claims overlapped. Only the relay runs transactions on these handles once started.
 */
const countingTransactions = (database: Database, overlap: { inFlight: number, max: number }): Database => ({
  ...database,
  db: new Proxy(database.db, {
    get (target, property) {
      if (property !== 'transaction') return Reflect.get(target, property, target)
      return async (...args: Parameters<Database['db']['transaction']>) => {
        overlap.max = Math.max(overlap.max, ++overlap.inFlight)
        try { return await target.transaction(...args) } finally { overlap.inFlight-- }
      }
    },
  }),
})

/**
 * Starts one relay per bus, all in the same tick once every context is built (a relay that
 * started early would drain a share of the backlog alone), and returns what each confirmed.
 */
const startRelays = async (t: Test, shared: Awaited<ReturnType<typeof openShared>>, buses: EventBus[]) => {
  const config: Config = testConfig(t, c => { c.relay.batch_size = BATCH; c.relay.poll_interval_ms = 100 })
  const overlap = { inFlight: 0, max: 0 }
  const relays = await Promise.all(buses.map(async bus => {
    const tally = { confirmed: 0 }
    const database = countingTransactions(await shared.openForRelay(), overlap)
    // One config object: one data dir, so one audit key for every relay (as operators share it).
    const ctx = await createContext(config, logger, { roles: ['relay'], database, bus: tallied(bus, tally) })
    t.teardown(() => ctx.close())
    return { ctx, tally }
  }))
  const parts = (await Promise.all(relays.map(r => startRelay(r.ctx)))).flat()
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    await Promise.all(parts.map(p => p.stop()))
  }
  t.teardown(stop)
  return { relays, overlap, stop }
}

type Check = { lost: number, duplicates: number, unknown: number }
const checkCounts = (expected: string[], counts: Map<string, number>): Check => {
  const ids = new Set(expected)
  let duplicates = 0
  let unknown = 0
  for (const [id, n] of counts) {
    if (ids.has(id)) duplicates += n - 1
    else unknown++
  }
  return { lost: expected.filter(id => !counts.has(id)).length, duplicates, unknown }
}

const assertShared = (t: Test, run: Awaited<ReturnType<typeof startRelays>>) => {
  const confirmed = run.relays.map(r => r.tally.confirmed)
  t.comment(`messages confirmed per relay: ${confirmed.join(', ')}; at most ${run.overlap.max} relay transaction(s) at once`)
  t.equal(confirmed.reduce((a, b) => a + b, 0), BACKLOG, 'the relays confirmed the backlog once between them')
  t.ok(confirmed.filter(n => n > 0).length > 1, 'more than one relay did work')
  if (backendName() === 'postgres') t.ok(run.overlap.max > 1, 'the relays held claims at the same time')
}

t.test(`${RELAYS} relays on ${backendName()} drain one backlog`, async t => {
  t.test('with the in-process bus: every row delivered exactly once', async t => {
    const shared = await openShared(t)
    const bus = createInProcessBus({ onHandlerError: err => { throw err } })
    t.teardown(() => bus.close())
    const counts = new Map<string, number>()
    await bus.subscribe('#', m => counts.set(m.messageId, (counts.get(m.messageId) ?? 0) + 1))
    const ids = await seedBacklog(shared.database, BACKLOG)

    const run = await startRelays(t, shared, Array.from({ length: RELAYS }, () => bus))
    await waitFor('the relays to drain the backlog', async () => await pendingRows(shared.database) === 0 && counts.size >= BACKLOG, {
      timeoutMs: 60_000, detail: async () => `${await pendingRows(shared.database)} pending, ${counts.size} delivered`,
    })
    await run.stop()
    t.same(checkCounts(ids, counts), { lost: 0, duplicates: 0, unknown: 0 }, `${BACKLOG} events: 0 lost, 0 duplicates`)
    assertShared(t, run)
  })

  t.test('with RabbitMQ: every row reaches a consumer exactly once', async t => {
    if (!requireRabbit(t)) return
    const shared = await openShared(t)
    const exchange = uniqueExchange()
    // Declares the exchange and the ledger's queue (deleting both at teardown) before any publish.
    const ledger = await openLedger(t, { url: testAmqpUrl()!, exchange })
    const buses = await Promise.all(Array.from({ length: RELAYS }, async () => (await openTestAmqpBus(t, { exchange })).bus))
    const ids = await seedBacklog(shared.database, BACKLOG)

    const run = await startRelays(t, shared, buses)
    await waitFor('the relays to drain the backlog to the ledger', async () => await pendingRows(shared.database) === 0 && ledger.entries.size >= BACKLOG, {
      timeoutMs: 120_000, detail: async () => `${await pendingRows(shared.database)} pending, ${ledger.entries.size} at the ledger`,
    })
    await run.stop()
    // Anything still on its way to the ledger (a duplicate) is counted before the check.
    await ledger.sync()
    const counts = new Map([...ledger.entries].map(([id, entry]) => [id, entry.count]))
    t.same(checkCounts(ids, counts), { lost: 0, duplicates: 0, unknown: 0 }, `${BACKLOG} events: 0 lost, 0 duplicates`)
    t.same(ledger.check(ids).inconsistent, [], 'each event arrived with its own routing key and body')
    assertShared(t, run)
  })
})
