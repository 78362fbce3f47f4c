// F5 (reliability-and-performance.md §3.2): broker-side channel errors. A 404 (the exchange
// deleted under the bus) or a 406 (a queue declared with other arguments) closes a channel, not
// the connection: the bus must get a new channel, declare its topology again (and bind its
// subscriptions again, since deleting an exchange deletes its bindings), and the relay must
// lose nothing; a channel it cannot reopen costs the connection, which is then closed rather
// than left open behind its replacement.
import t from 'tap'
import amqp from 'amqplib'
import { outbox } from '../../src/adapters/db/schema.js'
import { BusUnavailableError } from '../../src/adapters/bus/amqp-bus.js'
import { createOutboxRelay } from '../../src/core/events/outbox-relay.js'
import { createRelayLoop } from '../../src/core/events/relay-loop.js'
import type { BusMessage } from '../../src/core/ports.js'
import { buildContext } from '../helpers/app.js'
import { openAmqpProxy, openTestAmqpBus, requireRabbit, testAmqpUrl } from '../helpers/bus.js'
import { backendName } from '../helpers/database.js'
import { waitFor } from '../helpers/faults.js'
import { createProject } from '../helpers/fixtures.js'

type TapTest = Parameters<typeof requireRabbit>[0]

/** The test's own connection to the broker, for doing things to the bus's topology. */
const admin = async (t: TapTest) => {
  const conn = await amqp.connect(testAmqpUrl()!)
  conn.on('error', () => {})
  t.teardown(() => conn.close())
  const channel = await conn.createChannel()
  return { conn, channel }
}

/** Every message in `queue`, taken off it: message id → how many times it was there. */
const drainQueue = async (channel: amqp.Channel, queue: string) => {
  const counts = new Map<string, number>()
  for (let msg = await channel.get(queue, { noAck: true }); msg; msg = await channel.get(queue, { noAck: true })) {
    const id = String(msg.properties.messageId)
    counts.set(id, (counts.get(id) ?? 0) + 1)
  }
  return counts
}

t.test(`a 404 on ${backendName()}: the relay's batch fails once, the topology comes back, nothing is lost`, async t => {
  if (!requireRabbit(t)) return
  const { bus, exchange } = await openTestAmqpBus(t)
  const ctx = await buildContext(t)
  const { channel } = await admin(t)
  const subscribed = new Set<string>()
  await bus.subscribe('runner.#', m => subscribed.add(m.messageId))
  const errors: unknown[] = []
  const relay = createOutboxRelay({ uow: ctx.uow, publisher: bus, clock: ctx.clock, ids: ctx.ids, batchSize: 10 })
  const loop = createRelayLoop({ relay, batchSize: 10, pollIntervalMs: 50, onError: err => errors.push(err) })
  loop.start()
  t.teardown(() => loop.stop())
  const project = await createProject(t, ctx, { maxConcurrentRunners: 10 })
  const launch = () => ctx.runners.launch({ project: project.name, agent: 'generic-test' }, 'test')
  const drained = (what: string) => waitFor(what, async () => (await ctx.repos.outbox.backlog()).pending === 0, { timeoutMs: 20_000 })

  for (let i = 0; i < 3; i++) await launch()
  await drained('the first events to go out')
  t.same(errors, [], 'no error before the fault')

  await channel.deleteExchange(exchange)
  for (let i = 0; i < 3; i++) await launch()
  await drained('the events written after the exchange was deleted to go out')
  t.ok(errors.length >= 1, `the batch published to the missing exchange failed (${errors.length} failed pass(es))`)
  t.ok(errors[0] instanceof BusUnavailableError, `as the bus being unavailable, which costs no attempt: ${String(errors[0])}`)
  t.ok(bus.ready(), 'the bus has a publish channel again')
  await t.resolves(channel.checkExchange(exchange), 'the exchange was declared again')

  const rows = await ctx.database.db.select({ eventId: outbox.eventId, routingKey: outbox.routingKey, attempts: outbox.attempts }).from(outbox)
  t.ok(rows.every(r => r.attempts === 0), 'no row was charged an attempt')
  // The catch-all queue survives its exchange and is bound again with the topology: it holds
  // every event once (a message sent to a missing exchange is dropped whole, never routed).
  const logged = await drainQueue(channel, `${exchange}.log`)
  t.same(rows.filter(r => logged.get(r.eventId) !== 1).map(r => r.eventId), [], `each of the ${rows.length} events reached the catch-all queue exactly once`)
  const runnerEvents = rows.filter(r => r.routingKey.startsWith('runner.')).map(r => r.eventId)
  await waitFor('every runner event at the subscription', () => runnerEvents.every(id => subscribed.has(id)), { timeoutMs: 10_000 })
    .catch(() => t.fail(`the subscription missed ${runnerEvents.filter(id => !subscribed.has(id)).length} of ${runnerEvents.length} runner events: its binding was not restored`))
})

const message = (i: number): BusMessage => ({ routingKey: 'runner.launched.demo', messageId: `m-${i}`, type: 'runner.launched', timestamp: new Date(), body: { i } })

t.test('a 406 on reopening the channel: the connection is closed, then replaced', async t => {
  if (!requireRabbit(t)) return
  const proxy = await openAmqpProxy(t)
  const { bus, exchange } = await openTestAmqpBus(t, { url: proxy.url })
  const { channel } = await admin(t)
  const got: string[] = []
  const subscription = await bus.subscribe('runner.#', m => got.push(m.messageId))
  t.equal(proxy.open(), 1, 'the bus has one connection')

  // The exchange goes (the next publish gets a 404) and the catch-all queue comes back with
  // other arguments than the bus declares (so does its redeclaration: a 406).
  await channel.deleteExchange(exchange)
  await channel.deleteQueue(`${exchange}.log`)
  await channel.assertQueue(`${exchange}.log`, { durable: true, arguments: { 'x-max-length': 1 } })
  await t.rejects(bus.publishBatch([message(0)]), BusUnavailableError, 'the publish to the missing exchange fails as the bus being unavailable')
  await waitFor('the bus to give up the channel and try a new connection', () => proxy.accepted() >= 2, { timeoutMs: 10_000 })

  await channel.deleteQueue(`${exchange}.log`)
  await waitFor('the bus to reconnect', () => bus.ready() && subscription.queue !== null, { timeoutMs: 20_000 })
  t.equal(proxy.open(), 1, 'one connection open: the one given up was closed, not left behind the new one')
  t.same(await bus.publishBatch([message(1), message(2)]), [{ ok: true }, { ok: true }], 'publishes are confirmed again')
  await waitFor('the subscription to receive them', () => got.includes('m-2'), { timeoutMs: 10_000 })
  t.same(got, ['m-1', 'm-2'], 'once each, on the new connection')
})
