// The fault tests' invariant checker (shared/reference/reliability-and-performance.md §3.0):
// an independent AMQP consumer that records every delivery per message id, so a test can
// compare what the outbox holds with what actually arrived.
//
// Its queue is durable and named (not exclusive), and the consumer reconnects by itself: a
// broker outage must not lose the deliveries that were already routed to it, or the ledger
// would report losses the relay did not cause. Acks are manual and sent after counting; a
// broker redelivery of a message we already counted (flag `redelivered`) is the ledger's own
// reconnect, not a duplicate publish by the relay, so it is not counted again.
import { randomUUID } from 'node:crypto'
import amqp from 'amqplib'
import type { ChannelModel, ConsumeMessage } from 'amqplib'

export interface LedgerEntry { count: number, body: string, routingKey: string, firstAt: number }

export interface LedgerCheck {
  /** Outbox event ids that never arrived. */
  lost: string[]
  /** Σ(count − 1) over arrived ids: extra deliveries caused by re-publishing. */
  duplicates: number
  /** Ids whose deliveries did not all carry the same body and routing key. */
  inconsistent: string[]
  /** Message ids that arrived but are not in the outbox list given. */
  unknown: string[]
}

export interface Ledger {
  queue: string
  entries: Map<string, LedgerEntry>
  /** Deliveries counted so far, duplicates included. */
  deliveries(): number
  check(expectedIds: Iterable<string>, ignore?: (id: string, entry: LedgerEntry) => boolean): LedgerCheck
  /**
   * Resolves once every message enqueued to the ledger queue before this call has been
   * counted: it enqueues a marker (FIFO behind them) and waits for it. Use it after the relay
   * has drained, so late duplicates are not attributed to the next step of a test.
   */
  sync(timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

type TapTest = { teardown(fn: () => unknown): void }

const MARKER_TYPE = 'ledger.marker'

export const openLedger = async (t: TapTest, { url, exchange }: { url: string, exchange: string }): Promise<Ledger> => {
  const queue = `${exchange}.ledger`
  const entries = new Map<string, LedgerEntry>()
  const inconsistent = new Set<string>()
  let deliveries = 0
  let closed = false
  let connection: ChannelModel | null = null
  let reconnectTimer: NodeJS.Timeout | null = null
  const markers = new Map<string, () => void>()

  const record = (msg: ConsumeMessage) => {
    const id = String(msg.properties.messageId ?? '')
    if (msg.properties.type === MARKER_TYPE) { markers.get(id)?.(); return }
    const body = msg.content.toString('utf8')
    const seen = entries.get(id)
    if (seen && msg.fields.redelivered) return
    deliveries++
    if (!seen) {
      entries.set(id, { count: 1, body, routingKey: msg.fields.routingKey, firstAt: performance.now() })
      return
    }
    seen.count++
    if (seen.body !== body || seen.routingKey !== msg.fields.routingKey) inconsistent.add(id)
  }

  const connect = async () => {
    const conn = await amqp.connect(url)
    // amqplib throws an unhandled 'error' otherwise (connection-forced on stop_app).
    conn.on('error', () => {})
    conn.on('close', () => {
      if (connection !== conn || closed) return
      connection = null
      scheduleReconnect()
    })
    const ch = await conn.createChannel()
    ch.on('error', () => {})
    await ch.assertExchange(exchange, 'topic', { durable: true })
    await ch.assertQueue(queue, { durable: true })
    await ch.bindQueue(queue, exchange, '#')
    await ch.prefetch(1000)
    await ch.consume(queue, msg => {
      if (!msg) return
      record(msg)
      ch.ack(msg)
    })
    connection = conn
  }
  const scheduleReconnect = () => {
    if (closed || reconnectTimer) return
    reconnectTimer = setTimeout(() => {
      reconnectTimer = null
      connect().catch(() => scheduleReconnect())
    }, 250)
  }

  await connect()
  const ledger: Ledger = {
    queue,
    entries,
    deliveries: () => deliveries,
    check (expectedIds, ignore = () => false) {
      const expected = new Set(expectedIds)
      const lost = [...expected].filter(id => !entries.has(id))
      let duplicates = 0
      const unknown: string[] = []
      for (const [id, entry] of entries) {
        if (!expected.has(id)) {
          if (!ignore(id, entry)) unknown.push(id)
          continue
        }
        duplicates += entry.count - 1
      }
      return { lost, duplicates, inconsistent: [...inconsistent], unknown }
    },
    async sync (timeoutMs = 30_000) {
      const id = `marker-${randomUUID()}`
      const seen = new Promise<void>(resolve => markers.set(id, resolve))
      const deadline = Date.now() + timeoutMs
      // Retried across a reconnect: the marker must be confirmed by the broker once.
      for (;;) {
        try {
          const ch = await connection!.createConfirmChannel()
          ch.on('error', () => {})
          ch.sendToQueue(queue, Buffer.from('{}'), { messageId: id, type: MARKER_TYPE, persistent: true })
          await ch.waitForConfirms()
          await ch.close()
          break
        } catch (err) {
          if (Date.now() > deadline) throw new Error(`ledger: could not enqueue a marker: ${(err as Error).message}`)
          await new Promise(resolve => setTimeout(resolve, 200))
        }
      }
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`ledger: the marker did not come back within ${timeoutMs} ms`)), timeoutMs) })
      try { await Promise.race([seen, timeout]) } finally { clearTimeout(timer); markers.delete(id) }
    },
    async close () {
      closed = true
      if (reconnectTimer) clearTimeout(reconnectTimer)
      const conn = connection
      connection = null
      await conn?.close().catch(() => {})
    },
  }
  t.teardown(async () => {
    await ledger.close()
    // The queue is durable so that it survives an outage; remove it (and the relay's topology)
    // once the test is over. Best effort: the broker may be the thing a failed test broke.
    const conn = await amqp.connect(url).catch(() => null)
    if (!conn) return
    conn.on('error', () => {})
    try {
      const ch = await conn.createChannel()
      ch.on('error', () => {})
      await ch.deleteQueue(queue)
      await ch.deleteQueue(`${exchange}.log`)
      await ch.deleteExchange(exchange)
    } catch { /* already gone */ }
    await conn.close().catch(() => {})
  })
  return ledger
}
