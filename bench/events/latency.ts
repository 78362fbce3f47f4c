// L10: commit → consumer latency at a steady rate. Real path: a runner launch through the use
// case commits (outbox row + NOTIFY) → the `stratavored relay` process wakes, claims, publishes
// with confirms → RabbitMQ → a consumer (own queue bound '#', manual acks, prefetch 256).
// Latency is the consumer's receipt minus the moment launch() resolved (after COMMIT), both on
// this process's performance.now(): one observer clock. A message can beat the commit's reply
// to us (the relay was woken by the commit itself); such samples count as 0 ms and are counted.
//
// Raw baseline: the same message bodies published at the same rate with confirms to the same
// exchange and consumed the same way, with no Postgres; latency from publish() to receipt.
import amqp from 'amqplib'
import { and, asc, eq, inArray, sql } from 'drizzle-orm'
import { outbox } from '../../src/adapters/db/schema.js'
import { BENCH_AGENT, type EventsRig } from './rig.js'

export interface LatencyRun {
  rate_per_second: number
  duration_s: number
  count: number
  /** Sent in the window but never received within the grace period. */
  missing: number
  /** Received before the commit's reply reached us (counted as 0 ms). */
  early: number
  p50_ms: number | null
  p90_ms: number | null
  p99_ms: number | null
  max_ms: number | null
  mean_ms: number | null
  /** Raw only: publish() → broker confirm (persistent messages are confirmed after fsync). */
  confirm?: { p50_ms: number | null, p99_ms: number | null }
  /** Relay only: its passes in the window, from delivered_at (each pass's transaction start). */
  passes?: { count: number, rows_per_pass_mean: number | null, interval_p50_ms: number | null, interval_p99_ms: number | null }
}

const percentile = (sorted: number[], p: number) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))]! : NaN
const ms = (n: number) => Number.isFinite(n) ? Number(n.toFixed(2)) : null

export const summarizeLatency = (samples: number[], rate: number, durationS: number, missing: number): LatencyRun => {
  const early = samples.filter(s => s < 0).length
  const sorted = samples.map(s => Math.max(0, s)).sort((a, b) => a - b)
  return {
    rate_per_second: rate,
    duration_s: durationS,
    count: sorted.length,
    missing,
    early,
    p50_ms: ms(percentile(sorted, 50)),
    p90_ms: ms(percentile(sorted, 90)),
    p99_ms: ms(percentile(sorted, 99)),
    max_ms: ms(sorted.at(-1) ?? NaN),
    mean_ms: ms(sorted.reduce((a, b) => a + b, 0) / sorted.length),
  }
}

/** Calls `send(i)` at `rate` per second (open loop) for warm-up + window; returns which i were in the window. */
const pace = async (rate: number, warmupS: number, durationS: number, send: (i: number, measured: boolean) => void) => {
  const total = Math.round(rate * (warmupS + durationS))
  const warm = Math.round(rate * warmupS)
  const start = performance.now()
  let i = 0
  while (i < total) {
    const due = Math.min(total, Math.floor((performance.now() - start) / 1000 * rate) + 1)
    while (i < due) { send(i, i >= warm); i++ }
    // Sleep to the next due send; setTimeout's ~1 ms granularity is fine at 100/s.
    await new Promise(resolve => setTimeout(resolve, Math.max(0, start + i * 1000 / rate - performance.now())))
  }
}

const openConsumer = async (rig: EventsRig, onMessage: (msg: amqp.ConsumeMessage, at: number) => void) => {
  const conn = await amqp.connect(rig.amqpUrl)
  conn.on('error', () => {})
  const ch = await conn.createChannel()
  ch.on('error', () => {})
  await ch.assertExchange(rig.exchange, 'topic', { durable: true })
  const { queue } = await ch.assertQueue('', { exclusive: true, durable: false })
  await ch.bindQueue(queue, rig.exchange, '#')
  await ch.prefetch(256)
  await ch.consume(queue, msg => {
    if (!msg) return
    onMessage(msg, performance.now())
    ch.ack(msg)
  })
  return conn
}

/** Polls until `done()` or the grace period ends (what is still missing is reported, not thrown). */
const until = async (done: () => boolean, graceMs: number) => {
  const deadline = Date.now() + graceMs
  while (!done() && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
}

/** The relay's passes that delivered these runners' events: delivered_at is now() of the pass's transaction. */
const relayPasses = async (rig: EventsRig, runnerIds: string[]) => {
  const db = rig.ctx.database.db
  const rows = await db.select({ at: outbox.deliveredAt, n: sql<number>`count(*)`.mapWith(Number) }).from(outbox)
    .where(and(eq(outbox.eventType, 'runner.launched'), inArray(outbox.aggregateId, runnerIds))).groupBy(outbox.deliveredAt).orderBy(asc(outbox.deliveredAt))
  const starts = rows.filter(r => r.at).map(r => r.at!.getTime())
  const gaps = starts.slice(1).map((t, i) => t - starts[i]!).sort((a, b) => a - b)
  return {
    count: rows.length,
    rows_per_pass_mean: ms(runnerIds.length / rows.length),
    interval_p50_ms: ms(percentile(gaps, 50)),
    interval_p99_ms: ms(percentile(gaps, 99)),
  }
}

export const relayLatency = async (rig: EventsRig, { rate, warmupS, durationS }: { rate: number, warmupS: number, durationS: number }): Promise<LatencyRun> => {
  const projects = await rig.projects(10)
  const committed = new Map<string, number>() // runner id -> launch() resolved
  const received = new Map<string, number>() // runner id -> consumer receipt
  const conn = await openConsumer(rig, (msg, at) => {
    const body = JSON.parse(msg.content.toString('utf8')) as { type?: string, aggregate_id?: string }
    if (body.type === 'runner.launched' && body.aggregate_id && !received.has(body.aggregate_id)) received.set(body.aggregate_id, at)
  })
  // The daemon's defaults: batch 200, 1 s poll, woken by NOTIFY.
  const relay = rig.spawnRelay()
  let failed: unknown = null
  try {
    await relay.started
    let inFlight = 0
    await pace(rate, warmupS, durationS, (i, measured) => {
      inFlight++
      rig.ctx.runners.launch({ project: projects[i % projects.length]!, agent: BENCH_AGENT }, 'bench')
        .then(runner => { if (measured) committed.set(runner.id, performance.now()) }, err => { failed ??= err })
        .finally(() => { inFlight-- })
    })
    await until(() => inFlight === 0, 30_000)
    if (failed) throw failed
    await until(() => [...committed.keys()].every(id => received.has(id)), 30_000)
  } finally {
    await relay.stop()
    await conn.close().catch(() => {})
  }
  const samples = [...committed].filter(([id]) => received.has(id)).map(([id, at]) => received.get(id)! - at)
  return { ...summarizeLatency(samples, rate, durationS, committed.size - samples.length), passes: await relayPasses(rig, [...committed.keys()]) }
}

export const rawLatency = async (rig: EventsRig, { rate, warmupS, durationS, bodies }: { rate: number, warmupS: number, durationS: number, bodies: Array<Record<string, unknown>> }): Promise<LatencyRun> => {
  const sent = new Map<string, number>()
  const received = new Map<string, number>()
  const confirms: number[] = []
  const consumer = await openConsumer(rig, (msg, at) => { received.set(String(msg.properties.messageId), at) })
  const conn = await amqp.connect(rig.amqpUrl)
  conn.on('error', () => {})
  const ch = await conn.createConfirmChannel()
  ch.on('error', () => {})
  let failed: unknown = null
  try {
    await pace(rate, warmupS, durationS, (i, measured) => {
      const body = bodies[i % bodies.length]!
      const id = `raw-${i}`
      const at = performance.now()
      if (measured) sent.set(id, at)
      ch.publish(rig.exchange, `runner.launched.${String(body.project ?? 'raw')}`, Buffer.from(JSON.stringify({ ...body, event_id: id })), {
        persistent: true, mandatory: true, messageId: id, type: 'runner.launched', timestamp: Math.floor(Date.now() / 1000), contentType: 'application/json',
      }, err => {
        if (err) failed ??= err
        else if (measured) confirms.push(performance.now() - at)
      })
    })
    await ch.waitForConfirms()
    if (failed) throw failed
    await until(() => [...sent.keys()].every(id => received.has(id)), 30_000)
  } finally {
    await conn.close().catch(() => {})
    await consumer.close().catch(() => {})
  }
  const samples = [...sent].filter(([id]) => received.has(id)).map(([id, at]) => received.get(id)! - at)
  const sortedConfirms = confirms.sort((a, b) => a - b)
  return { ...summarizeLatency(samples, rate, durationS, sent.size - samples.length), confirm: { p50_ms: ms(percentile(sortedConfirms, 50)), p99_ms: ms(percentile(sortedConfirms, 99)) } }
}
