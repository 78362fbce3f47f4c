import t from 'tap'
import { eq, isNotNull, isNull, sql } from 'drizzle-orm'
import amqp from 'amqplib'
import { outbox } from '../../src/adapters/db/schema.js'
import { createInProcessBus } from '../../src/adapters/bus/in-process-bus.js'
import { createOutboxRelay } from '../../src/core/events/outbox-relay.js'
import { createRelayLoop } from '../../src/core/events/relay-loop.js'
import type { BusMessage, EventBus, EventPublisher } from '../../src/core/ports.js'
import type { Context } from '../../src/context.js'
import { buildContext } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { openTestAmqpBus, requireRabbit } from '../helpers/bus.js'
import { createProject } from '../helpers/fixtures.js'

const waitFor = async (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setImmediate(resolve))
  }
}
const pending = async (ctx: Context) => (await ctx.repos.outbox.backlog()).pending

const makeEvents = async (t: Parameters<typeof createProject>[0], ctx: Context, n: number) => {
  const project = await createProject(t, ctx, { maxConcurrentRunners: n })
  for (let i = 0; i < n; i++) await ctx.runners.launch({ project: project.name, agent: 'generic-test' }, 'test')
  return project
}

const relayWith = (ctx: Context, publisher: EventPublisher, batchSize = 50) =>
  createOutboxRelay({ uow: ctx.uow, publisher, clock: ctx.clock, ids: ctx.ids, batchSize, retryBaseSeconds: 0, retryMaxSeconds: 0 })

t.test(`relay on ${backendName()} with the in-process bus`, async t => {
  const bus = createInProcessBus({ onHandlerError: err => { throw err } })
  const ctx = await buildContext(t)
  t.teardown(() => bus.close())
  const seen = new Map<string, BusMessage>()
  await bus.subscribe('#', m => seen.set(m.messageId, m))

  t.test('every committed event is published once, with its event id, and marked delivered', async t => {
    await makeEvents(t, ctx, 30)
    const total = await pending(ctx)
    const loop = createRelayLoop({ relay: relayWith(ctx, bus, 7), batchSize: 7, pollIntervalMs: 50 })
    loop.start()
    await waitFor('the backlog to drain', async () => await pending(ctx) === 0)
    await waitFor('every message to arrive', () => seen.size >= total)
    await loop.stop()
    const rows = await ctx.database.db.select().from(outbox)
    for (const row of rows) {
      const message = seen.get(row.eventId)
      t.ok(message, `${row.eventType} ${row.eventId} arrived`)
      t.equal(message?.routingKey, row.routingKey)
      t.same(message?.body, row.payload)
      t.ok(row.deliveredAt)
    }
  })

  t.test('a poison row is dead-lettered with an alert and never blocks the rows behind it', async t => {
    await ctx.database.db.insert(outbox).values({
      eventId: ctx.ids.next(), eventType: 'runner.launched', routingKey: `runner.launched.${'x'.repeat(300)}`, aggregateType: 'runner',
      aggregateId: 'poison', seq: 1, payload: { poison: true }, maxAttempts: 3,
    })
    await makeEvents(t, ctx, 5)
    const relay = relayWith(ctx, bus, 100)
    const results = [await relay.relayOnce(), await relay.relayOnce(), await relay.relayOnce()]
    t.equal(results[0]!.delivered, 7, 'the good rows (project.created, quota_changed, 5 launches) went out in the first pass despite the poison row')
    t.equal(results.reduce((n, r) => n + r.dead, 0), 1, 'the poison row died after its attempts')
    const [poison] = await ctx.database.db.select().from(outbox).where(eq(outbox.aggregateId, 'poison'))
    t.match(poison, { attempts: 3, deliveredAt: null, lastError: /rejected: routing key longer than 255 bytes/ })
    t.ok(poison!.deadAt)
    const [alert] = await ctx.database.db.select().from(outbox).where(eq(outbox.routingKey, 'system.alert.error'))
    t.match(alert!.payload, { type: 'system.alert', data: { severity: 'error', event_id: poison!.eventId, attempts: 3 } })
    await relay.relayOnce()
    await waitFor('the alert to be published', () => seen.has(alert!.eventId))
  })

  t.test('a bus outage rolls the batch back without spending attempts', async t => {
    await makeEvents(t, ctx, 3)
    let fail = true
    const flaky: EventPublisher = {
      ready: () => true,
      publishBatch: async messages => {
        if (fail) throw new Error('connection lost mid-batch')
        return bus.publishBatch(messages)
      },
    }
    const relay = relayWith(ctx, flaky)
    await t.rejects(relay.relayOnce(), /connection lost/)
    const untouched = await ctx.database.db.select().from(outbox).where(isNull(outbox.deliveredAt))
    t.ok(untouched.length >= 6)
    t.ok(untouched.filter(r => r.aggregateId !== 'poison').every(r => r.attempts === 0), 'no attempt was counted')
    await t.rejects(relayWith(ctx, { ready: () => false, publishBatch: flaky.publishBatch }).relayOnce(), /not connected/)
    fail = false
    await relay.relayOnce()
    t.equal(await pending(ctx), 0)
  })

  t.test('NOTIFY wakes a waiting relay without waiting for the poll', async t => {
    const loop = createRelayLoop({
      relay: relayWith(ctx, bus), batchSize: 50, pollIntervalMs: 60_000,
      onWake: wake => { const stop = ctx.database.listen('stratavore_outbox', wake, wake); return async () => { await (await stop)() } },
    })
    loop.start()
    t.teardown(() => loop.stop())
    await waitFor('the first pass', async () => await pending(ctx) === 0)
    await makeEvents(t, ctx, 2)
    await waitFor('the woken relay to publish the new events (the poll is a minute away)', async () => await pending(ctx) === 0)
  })
})

t.test(`relay on ${backendName()} with RabbitMQ`, async t => {
  if (!requireRabbit(t)) return
  const { bus, exchange, url } = await openTestAmqpBus(t)
  const ctx = await buildContext(t)
  const conn = await amqp.connect(url)
  t.teardown(() => conn.close())
  const ch = await conn.createChannel()
  const { queue } = await ch.assertQueue('', { exclusive: true })
  await ch.bindQueue(queue, exchange, 'runner.#')
  const ledger = new Map<string, number>()
  const props = new Map<string, amqp.MessageProperties>()
  await ch.consume(queue, msg => {
    if (!msg) return
    const id = String(msg.properties.messageId)
    ledger.set(id, (ledger.get(id) ?? 0) + 1)
    props.set(id, msg.properties)
  }, { noAck: true })

  await makeEvents(t, ctx, 25)
  const loop = createRelayLoop({ relay: relayWith(ctx, bus as EventBus, 10), batchSize: 10, pollIntervalMs: 50 })
  loop.start()
  await waitFor('the backlog to drain', async () => await pending(ctx) === 0)
  const rows = await ctx.database.db.select().from(outbox).where(sql`${outbox.routingKey} like 'runner.%'`)
  await waitFor('every runner event at the consumer', () => rows.every(r => ledger.has(r.eventId)))
  await loop.stop()
  t.equal(rows.length, 25)
  t.ok(rows.every(r => ledger.get(r.eventId) === 1), 'each exactly once')
  const sample = props.get(rows[0]!.eventId)!
  t.match(sample, { messageId: rows[0]!.eventId, deliveryMode: 2, contentType: 'application/json', type: 'runner.launched' })

  t.test('an unroutable message (catch-all queue unbound) is returned and retried, not lost', async t => {
    await ch.unbindQueue(`${exchange}.log`, exchange, '#')
    await makeEvents(t, ctx, 1) // project.created + project.quota_changed + runner.launched; only runner.* is bound
    const relay = relayWith(ctx, bus as EventBus, 50)
    const result = await relay.relayOnce()
    t.equal(result.delivered, 1, 'the runner event had a queue')
    t.equal(result.retried, 2, 'the project events came back unroutable')
    const refused = await ctx.database.db.select().from(outbox).where(isNotNull(outbox.lastError))
    t.ok(refused.every(r => /returned: unroutable/.test(r.lastError!) && r.deliveredAt === null))
    await ch.bindQueue(`${exchange}.log`, exchange, '#')
    await waitFor('the retried rows to go out', async () => { await relay.relayOnce(); return await pending(ctx) === 0 })
  })
})
