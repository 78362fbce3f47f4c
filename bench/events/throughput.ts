// L9: relay throughput on a backlog. The real `stratavored relay` drains N pending outbox rows
// (claim with SKIP LOCKED, publish with confirms, mark delivered, commit, per batch) into
// RabbitMQ, against a raw baseline: amqplib publishing the same N messages (same exchange,
// queues, flags and bodies) with confirms, one window of batch-size messages at a time, and no
// Postgres at all. The ratio is what the outbox costs over the broker's own limit.
import { randomUUID } from 'node:crypto'
import amqp from 'amqplib'
import { asc, eq, sql } from 'drizzle-orm'
import { outbox } from '../../src/adapters/db/schema.js'
import { cpuMeter } from '../launch/cpu.js'
import { BENCH_AGENT, type EventsRig } from './rig.js'

export interface BacklogMessage { routingKey: string, messageId: string, type: string, timestamp: Date, body: Record<string, unknown> }

const rowsOf = (result: unknown) => (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Array<Record<string, unknown>>

/**
 * Leaves exactly `n` pending outbox rows: real runner.launched envelopes (from launches through
 * the use case) copied with fresh event ids, since the relay only reads the outbox row.
 */
export const fillBacklog = async (rig: EventsRig, n: number): Promise<BacklogMessage[]> => {
  const db = rig.ctx.database.db
  const projects = await rig.projects(4)
  for (let i = 0; i < 20; i++) await rig.ctx.runners.launch({ project: projects[i % projects.length]!, agent: BENCH_AGENT }, 'bench')
  const templates = await db.select().from(outbox).where(eq(outbox.eventType, 'runner.launched'))
  await db.update(outbox).set({ deliveredAt: sql`now()` }).where(sql`${outbox.deliveredAt} is null`)
  for (let i = 0; i < n; i += 1000) {
    await db.insert(outbox).values(Array.from({ length: Math.min(1000, n - i) }, (_, k) => {
      const t = templates[(i + k) % templates.length]!
      const eventId = randomUUID()
      return { eventId, eventType: t.eventType, routingKey: t.routingKey, aggregateType: t.aggregateType, aggregateId: t.aggregateId, seq: t.seq, payload: { ...t.payload, event_id: eventId } }
    }))
  }
  await db.execute(sql`analyze outbox`)
  const pending = await db.select().from(outbox).where(sql`${outbox.deliveredAt} is null`).orderBy(asc(outbox.id))
  return pending.map(r => ({ routingKey: r.routingKey, messageId: r.eventId, type: r.eventType, timestamp: r.createdAt, body: r.payload }))
}

export interface ThroughputRun {
  events: number
  seconds: number
  events_per_second: number
  /** Messages in our own queue bound '#' afterwards: must equal `events` (nothing lost, nothing twice). */
  queued: number
  relay_cpu_ms_per_1k_events?: number | null
  postgres_cpu_ms_per_1k_events?: number | null
}

const openChannel = async (rig: EventsRig) => {
  const conn = await amqp.connect(rig.amqpUrl)
  conn.on('error', () => {})
  const ch = await conn.createConfirmChannel()
  ch.on('error', () => {})
  const queue = `${rig.exchange}.bench`
  await rig.declareQueues(ch, queue)
  await ch.purgeQueue(queue)
  await ch.purgeQueue(`${rig.exchange}.log`)
  return { conn, ch, queue }
}

const per1k = (ms: number | null | undefined, n: number) => ms === null || ms === undefined ? null : Number((ms / n * 1000).toFixed(1))

export const relayThroughput = async (rig: EventsRig, { events, batchSize, adminUrl }: { events: number, batchSize: number, adminUrl: string }): Promise<ThroughputRun> => {
  const { conn, ch, queue } = await openChannel(rig)
  const db = rig.ctx.database.db
  const meter = cpuMeter(adminUrl, rig.scratch.name)
  try {
    const pgStart = await meter.mark()
    const relay = rig.spawnRelay({ STRATAVORE_RELAY_BATCH_SIZE: String(batchSize) })
    try {
      // The clock starts at the relay's own 'relay started' line (its first pass begins there),
      // so process start-up and migrations are not counted.
      const startedAt = await relay.started
      const cpuAtStart = relay.cpuMs()
      // Polled through the pending-rows partial index, so the probe itself costs almost nothing.
      const deadline = Date.now() + 600_000
      while (rowsOf(await db.execute(sql`select exists (select 1 from outbox where delivered_at is null and dead_at is null) as pending`))[0]!.pending) {
        if (Date.now() > deadline) throw new Error('the relay did not drain the backlog within 10 minutes')
        await new Promise(resolve => setTimeout(resolve, 20))
      }
      const seconds = (Date.now() - startedAt) / 1000
      const cpuAtEnd = relay.cpuMs()
      const pgEnd = await meter.mark()
      const { messageCount } = await ch.checkQueue(queue)
      const relayCpu = cpuAtStart === null || cpuAtEnd === null ? null : cpuAtEnd - cpuAtStart
      const pgPerEvent = meter.summarize(pgStart, pgEnd, events).postgres_cpu_ms_per_launch
      return {
        events,
        seconds: Number(seconds.toFixed(3)),
        events_per_second: Math.round(events / seconds),
        queued: messageCount,
        relay_cpu_ms_per_1k_events: per1k(relayCpu, events),
        // Backends of the scratch database (the relay's and our probe's), read from /proc.
        postgres_cpu_ms_per_1k_events: pgPerEvent === null ? null : Number((pgPerEvent * 1000).toFixed(1)),
      }
    } finally {
      await relay.stop()
    }
  } finally {
    await meter.close().catch(() => {})
    await conn.close().catch(() => {})
  }
}

export const rawThroughput = async (rig: EventsRig, { messages, window }: { messages: BacklogMessage[], window: number }): Promise<ThroughputRun> => {
  const { conn, ch, queue } = await openChannel(rig)
  try {
    const cpuStart = process.cpuUsage()
    const start = performance.now()
    for (let i = 0; i < messages.length; i += window) {
      await Promise.all(messages.slice(i, i + window).map(m => new Promise<void>((resolve, reject) => {
        ch.publish(rig.exchange, m.routingKey, Buffer.from(JSON.stringify(m.body)), {
          persistent: true, mandatory: true, messageId: m.messageId, type: m.type,
          timestamp: Math.floor(m.timestamp.getTime() / 1000), contentType: 'application/json',
        }, err => err ? reject(err) : resolve())
      })))
    }
    const seconds = (performance.now() - start) / 1000
    const cpu = process.cpuUsage(cpuStart)
    const { messageCount } = await ch.checkQueue(queue)
    return {
      events: messages.length,
      seconds: Number(seconds.toFixed(3)),
      events_per_second: Math.round(messages.length / seconds),
      queued: messageCount,
      // This process's CPU; the comparable figure to relay_cpu_ms_per_1k_events.
      relay_cpu_ms_per_1k_events: per1k((cpu.user + cpu.system) / 1000, messages.length),
    }
  } finally {
    await conn.close().catch(() => {})
  }
}
