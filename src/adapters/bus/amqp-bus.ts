// RabbitMQ as the event bus. amqplib neither reconnects nor survives an unhandled channel
// error, so this file owns the connection's life: reconnect with capped, jittered backoff,
// redeclare the topology, re-create subscriptions, and never let an 'error' event escape.
//
// Topology: a durable topic exchange (docker.rabbitmq.exchange), and a durable, bounded
// catch-all queue `<exchange>.log` bound with '#', so that every well-formed event is
// routable: with `mandatory`, a message the broker cannot route comes back as a failure
// instead of being confirmed and dropped. Subscribers each get an exclusive auto-delete queue.
import amqp from 'amqplib'
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib'
import type { Logger } from 'pino'
import type { BusMessage, BusSubscription, EventBus, PublishOutcome } from '../../core/ports.js'
import { checkTopicPattern } from '../../core/events/topic.js'
import { framesWritten } from './amqp-internals.js'

export interface AmqpBusOptions {
  url: string
  exchange: string
  logger: Logger
  onHandlerError: (err: unknown) => void
  /** Retained catch-all queue length; the oldest messages are dropped beyond it. */
  logQueueMaxLength?: number
  heartbeatSeconds?: number
  /** How long a batch may wait for its confirms before the channel is given up. */
  confirmTimeoutMs?: number
}

interface Subscription { pattern: string, onMessage: (m: BusMessage) => void, channel: Channel | null, queue: string | null, closed: boolean }

export interface AmqpSubscription extends BusSubscription {
  /** The broker-named queue, once it is bound and consumed; null while disconnected. */
  readonly queue: string | null
}

export interface AmqpBus extends EventBus {
  /** Resolves at the first successful connection. */
  connected: Promise<void>
  subscribe(pattern: string, onMessage: (message: BusMessage) => void): Promise<AmqpSubscription>
}

export class BusUnavailableError extends Error {
  constructor (message: string) { super(message); this.name = 'BusUnavailableError' }
}

// AMQP 0-9-1 short strings (routing key, message id, type) hold at most 255 bytes.
const MAX_SHORTSTR_BYTES = 255

const backoffMs = (attempt: number) => Math.min(10_000, 100 * 1.5 ** attempt) * (0.5 + Math.random() / 2)

export const createAmqpBus = async (options: AmqpBusOptions): Promise<AmqpBus> => {
  const { url, exchange, logger, onHandlerError, logQueueMaxLength = 100_000, heartbeatSeconds = 15, confirmTimeoutMs = 30_000 } = options
  let connection: ChannelModel | null = null
  let publishChannel: ConfirmChannel | null = null
  let closing = false
  let attempt = 0
  let reconnectTimer: NodeJS.Timeout | null = null
  const subscriptions = new Set<Subscription>()
  // Messages the broker returned (unroutable) on the current channel, by message id.
  let returned = new Set<string>()
  let signalConnected: () => void = () => {}
  const connected = new Promise<void>(resolve => { signalConnected = resolve })

  const declareTopology = async (channel: Channel) => {
    await channel.assertExchange(exchange, 'topic', { durable: true })
    await channel.assertQueue(`${exchange}.log`, { durable: true, arguments: { 'x-max-length': logQueueMaxLength, 'x-overflow': 'drop-head' } })
    await channel.bindQueue(`${exchange}.log`, exchange, '#')
  }

  // Gives a connection up: closed, not merely forgotten, or a reconnect would leave it open
  // behind the new one, its subscriptions still consuming (every message delivered twice).
  const abandon = async (conn: ChannelModel) => {
    if (connection === conn) {
      connection = null
      publishChannel = null
      for (const sub of subscriptions) { sub.channel = null; sub.queue = null }
    }
    await conn.close().catch(() => {})
  }

  // A channel-level error (404 for a vanished exchange, 406 for a queue declared with other
  // arguments) closes only its channel: `reopen` gets a new one on the same connection, and
  // when that fails too, the connection is given up for a full reconnect. Deferred to a
  // microtask because amqplib closes every channel before it reports the connection closed:
  // by then a lost connection has been noticed, and its channels are not reopened on it.
  const onChannelLost = (conn: ChannelModel, what: string, reopen: () => Promise<void>) => queueMicrotask(() => {
    if (closing || connection !== conn) return
    reopen().catch(async err => {
      logger.warn({ err }, `cannot reopen the ${what} channel; reconnecting`)
      await abandon(conn)
      scheduleReconnect()
    })
  })

  const openPublishChannel = async (conn: ChannelModel) => {
    const channel = await conn.createConfirmChannel()
    channel.on('error', err => logger.warn({ err }, 'publish channel error'))
    channel.on('return', (msg: ConsumeMessage) => { if (msg.properties.messageId) returned.add(String(msg.properties.messageId)) })
    channel.on('close', () => {
      if (publishChannel !== channel) return
      publishChannel = null
      onChannelLost(conn, 'publish', () => openPublishChannel(conn))
    })
    await declareTopology(channel)
    // After a channel error the exchange may be new (it was deleted under us, and its bindings
    // with it): bind the live subscriptions again before anything is published on it.
    for (const sub of subscriptions) if (sub.channel && sub.queue) await sub.channel.bindQueue(sub.queue, exchange, sub.pattern)
    returned = new Set()
    publishChannel = channel
  }

  const openSubscription = async (conn: ChannelModel, sub: Subscription) => {
    const channel = await conn.createChannel()
    channel.on('error', err => logger.warn({ err, pattern: sub.pattern }, 'subscription channel error'))
    channel.on('close', () => {
      if (sub.channel !== channel) return
      sub.channel = null
      sub.queue = null
      onChannelLost(conn, 'subscription', async () => { if (!sub.closed) await openSubscription(conn, sub) })
    })
    await channel.assertExchange(exchange, 'topic', { durable: true })
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false })
    await channel.bindQueue(queue, exchange, sub.pattern)
    await channel.prefetch(256)
    await channel.consume(queue, msg => {
      if (!msg) return
      try {
        sub.onMessage({
          routingKey: msg.fields.routingKey,
          messageId: String(msg.properties.messageId ?? ''),
          type: String(msg.properties.type ?? ''),
          timestamp: new Date(Number(msg.properties.timestamp ?? 0) * 1000),
          body: JSON.parse(msg.content.toString('utf8')) as Record<string, unknown>,
        })
      } catch (err) {
        onHandlerError(err)
      }
      channel.ack(msg)
    })
    sub.channel = channel
    sub.queue = queue
  }

  const scheduleReconnect = () => {
    if (closing || reconnectTimer) return
    const delay = backoffMs(attempt++)
    logger.warn({ delayMs: Math.round(delay), attempt }, 'bus disconnected; reconnecting')
    reconnectTimer = setTimeout(() => { reconnectTimer = null; void connect() }, delay)
  }

  const connect = async () => {
    try {
      const conn = await amqp.connect(url, { heartbeat: heartbeatSeconds, clientProperties: { connection_name: 'stratavored' } })
      conn.on('error', err => logger.warn({ err }, 'bus connection error'))
      // close() ran while this connection was being made: it had nothing to close yet.
      if (closing) {
        await conn.close().catch(() => {})
        return
      }
      conn.on('close', () => {
        if (connection !== conn) return
        connection = null
        publishChannel = null
        for (const sub of subscriptions) { sub.channel = null; sub.queue = null }
        scheduleReconnect()
      })
      connection = conn
      await openPublishChannel(conn)
      for (const sub of subscriptions) if (!sub.closed) await openSubscription(conn, sub)
      attempt = 0
      logger.info('bus connected')
      signalConnected()
    } catch (err) {
      logger.warn({ err }, 'bus connect failed')
      if (connection) await abandon(connection)
      scheduleReconnect()
    }
  }

  void connect()

  return {
    connected,

    ready: () => publishChannel !== null,

    async publishBatch (messages, hooks) {
      const channel = publishChannel
      if (!channel) throw new BusUnavailableError('not connected to RabbitMQ')
      const sent = messages.map(message => new Promise<PublishOutcome>((resolve, reject) => {
        // Refused here rather than left to amqplib: ConfirmChannel.publish registers the confirm
        // callback before it encodes, so a message it throws on leaves a callback no confirm
        // matches; every later confirm on the channel then lands one message early and the
        // batch's last one never comes (the relay hangs). Found by test/faults/poison-row.
        const oversized = (['routingKey', 'messageId', 'type'] as const).find(f => Buffer.byteLength(message[f]) > MAX_SHORTSTR_BYTES)
        if (oversized) return resolve({ ok: false, reason: 'rejected', error: `${oversized === 'routingKey' ? 'routing key' : oversized} longer than ${MAX_SHORTSTR_BYTES} bytes` })
        try {
          channel.publish(exchange, message.routingKey, Buffer.from(JSON.stringify(message.body)), {
            persistent: true,
            mandatory: true,
            messageId: message.messageId,
            type: message.type,
            timestamp: Math.floor(message.timestamp.getTime() / 1000),
            contentType: 'application/json',
          }, err => {
            // A return (basic.return) precedes the confirm of the same message.
            if (err && /channel closed/i.test(String(err.message))) reject(new BusUnavailableError('the channel closed before the confirm arrived'))
            else if (err) resolve({ ok: false, reason: 'nacked', error: String(err.message ?? err) })
            else if (returned.delete(message.messageId)) resolve({ ok: false, reason: 'returned', error: 'unroutable: no queue is bound for this routing key' })
            else resolve({ ok: true })
          })
        } catch (err) {
          // amqplib throws synchronously for a message it cannot encode (e.g. a routing key
          // over 255 bytes) and for a closed channel.
          if (publishChannel !== channel) reject(new BusUnavailableError('the channel closed while publishing'))
          else resolve({ ok: false, reason: 'rejected', error: (err as Error).message })
        }
      }))
      // Handled from here on, though awaited later: a confirm may fail while the frames flush.
      const confirmed = Promise.all(sent)
      confirmed.catch(() => {})
      let onClose = () => {}
      const closed = new Promise<never>((_, reject) => {
        onClose = () => reject(new BusUnavailableError('the channel closed before every confirm arrived'))
        channel.once('close', onClose)
      })
      closed.catch(() => {})
      // A broker that stops confirming without dropping the connection (a blocked connection,
      // a stuck disk) must not hold the relay's transaction open forever: give up on the
      // channel, so no late confirm can be matched to a later message, and let the caller retry.
      let timer: NodeJS.Timeout | undefined
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(new BusUnavailableError(`no confirm within ${confirmTimeoutMs} ms`))
          channel.close().catch(() => {})
        }, confirmTimeoutMs)
      })
      timedOut.catch(() => {})
      try {
        if (hooks?.afterSend) {
          // Only once the frames have left the process: publish() merely queues them, so a
          // crash test that kills the process here would otherwise kill it before any was sent.
          await Promise.race([framesWritten(channel), closed, timedOut])
          hooks.afterSend()
        }
        return await Promise.race([confirmed, closed, timedOut])
      } finally {
        clearTimeout(timer)
        channel.removeListener('close', onClose)
      }
    },

    async subscribe (pattern, onMessage): Promise<AmqpSubscription> {
      checkTopicPattern(pattern)
      const sub: Subscription = { pattern, onMessage, channel: null, queue: null, closed: false }
      subscriptions.add(sub)
      if (connection) await openSubscription(connection, sub)
      return {
        get queue () { return sub.queue },
        close: async () => {
          sub.closed = true
          subscriptions.delete(sub)
          const channel = sub.channel
          sub.channel = null
          sub.queue = null
          // The queue is auto-delete: it goes with its one consumer, when the channel closes.
          await channel?.close().catch(() => {})
        },
      }
    },

    async close () {
      closing = true
      if (reconnectTimer) clearTimeout(reconnectTimer)
      const conn = connection
      connection = null
      publishChannel = null
      await conn?.close().catch(() => {})
    },
  }
}
