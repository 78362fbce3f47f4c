// F4: RabbitMQ stopped (rabbitmqctl stop_app) for a while under steady load. A real
// `stratavored api` takes launches over HTTP and a real `stratavored relay` publishes; both
// hold AMQP connections that the broker drops. Expected (reliability-and-performance.md §3.2
// F4): the API keeps answering 201 (the outbox grows), neither process exits, the backlog
// drains within 30 s of the broker's return, 0 lost, duplicates at most the in-flight batch.
//
// STRATAVORE_FAULT_BROKER_OUTAGE_SECONDS sets the outage (60 in CI, 15 elsewhere by default);
// STRATAVORE_FAULT_RATE the launches per second (100).
import t from 'tap'
import { waitHealthy } from '../helpers/daemon.js'
import { envNumber, holdWhileUp, openRig, requireServices, waitFor } from '../helpers/faults.js'
import { rabbit } from '../helpers/services.js'
import { launchOverHttp, startWriter } from '../helpers/writer.js'

const OUTAGE_S = envNumber('STRATAVORE_FAULT_BROKER_OUTAGE_SECONDS', 15, 60)
const RATE = envNumber('STRATAVORE_FAULT_RATE', 100)
const BATCH = 50
const DRAIN_TARGET_S = 30

t.test(`RabbitMQ stopped for ${OUTAGE_S} s under ${RATE} launches/s`, async t => {
  if (!requireServices(t)) return
  const rig = await openRig(t, { batchSize: BATCH })
  const broker = rabbit(rig.amqpUrl)
  const projects = await rig.projects(10)
  const api = await rig.spawn('api')
  await waitHealthy(api)
  const relay = await rig.spawn('relay')
  const writer = startWriter({ ratePerSecond: RATE, maxWrites: Math.ceil(RATE * (OUTAGE_S + 120)), maxInFlight: 64, write: launchOverHttp(api, projects) })
  t.teardown(() => writer.stop())

  await waitFor('events to flow to the ledger before the outage', () => rig.ledger.entries.size >= RATE, { timeoutMs: 30_000 })
  const before = writer.stats()
  await broker.stop(t)
  const stoppedAt = performance.now()
  t.comment(`broker stopped after ${before.ok} launches`)
  const lastWindowS = Math.min(5, OUTAGE_S / 2)
  await holdWhileUp((OUTAGE_S - lastWindowS) * 1000, [api, relay])
  const late = writer.stats()
  await holdWhileUp(lastWindowS * 1000, [api, relay])
  const during = writer.stats()
  const backlog = await rig.backlog()
  t.equal(during.errors, 0, `no launch failed during the outage (errors ${JSON.stringify(during.errorsByKind)})`)
  t.ok(during.ok > late.ok, `the API was still accepting at the end of the outage (${during.ok - late.ok} in its last ${lastWindowS} s)`)
  t.comment(`${during.ok - before.ok} launches accepted during the outage; ${during.skipped} not sent for want of a free slot; slowest ${Math.round(during.maxLatencyMs)} ms`)
  t.ok(backlog.pending >= (during.ok - before.ok) * 0.9, `the outbox held the backlog (${backlog.pending} pending)`)

  await broker.start()
  const backAt = performance.now()
  const writes = await writer.stop()
  await rig.drained((DRAIN_TARGET_S + 60) * 1000)
  const drainS = (performance.now() - backAt) / 1000
  await rig.ledger.sync()
  t.ok(drainS <= DRAIN_TARGET_S, `the backlog drained ${drainS.toFixed(1)} s after the broker was back (target ≤ ${DRAIN_TARGET_S} s; outage ${((backAt - stoppedAt) / 1000).toFixed(1)} s)`)
  t.equal(api.exit, null, 'the API process stayed up')
  t.equal(relay.exit, null, 'the relay process stayed up')
  t.equal(writes.errors, 0, `every launch was accepted (${writes.ok})`)

  const check = rig.ledger.check(await rig.outboxIds())
  t.same(check.lost, [], `0 lost of ${rig.ledger.entries.size}`)
  t.ok(check.duplicates <= BATCH, `${check.duplicates} duplicate(s): at most the batch in flight (${BATCH})`)
  t.same(check.inconsistent, [], 'duplicates carry the same event id, routing key and body')
  t.same(check.unknown, [])
  t.equal((await rig.backlog()).dead, 0, 'the outage spent no row\'s attempts')
  const reconnects = relay.logs().filter(l => l.msg === 'bus disconnected; reconnecting').map(l => Number(l.delayMs))
  t.ok(reconnects.length > 0 && reconnects.every(d => d <= 10_000), `the relay reconnected with capped backoff (${reconnects.length} attempts, max ${Math.max(...reconnects)} ms)`)

  await api.stop()
  await relay.stop()
  t.same([api.exit, relay.exit], [{ code: 0, signal: null }, { code: 0, signal: null }], 'both stop cleanly afterwards')
})
