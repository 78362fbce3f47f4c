// RabbitMQ for tests: STRATAVORE_TEST_AMQP_URL names the broker. Each test gets its own
// exchange (and so its own catch-all queue), deleted at teardown. Without the variable a
// RabbitMQ test is skipped on a developer's machine and fails in CI, where it must run.
import amqp from 'amqplib'
import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { createAmqpBus, type AmqpBus } from '../../src/adapters/bus/amqp-bus.js'
import { openTcpProxy } from './tcp-proxy.js'

type TapTest = { teardown(fn: () => unknown): void, pass(...args: any[]): unknown, fail(...args: any[]): unknown }

export const testAmqpUrl = (): string | null => process.env.STRATAVORE_TEST_AMQP_URL || null

/** Returns false (after failing in CI, or skipping elsewhere) when no broker is configured. */
export const requireRabbit = (t: TapTest): boolean => {
  if (testAmqpUrl()) return true
  if (process.env.CI) t.fail('STRATAVORE_TEST_AMQP_URL is not set: CI must run the RabbitMQ tests')
  else t.pass('RabbitMQ tests', { skip: 'STRATAVORE_TEST_AMQP_URL is not set (RabbitMQ tests are skipped outside CI)' })
  return false
}

export const uniqueExchange = (prefix = 'stv-test') => `${prefix}-${randomBytes(5).toString('hex')}`

/**
 * A bus on a fresh exchange, or on `exchange` when several buses must share one (several
 * relays); the exchange and its catch-all queue are deleted at teardown only when made here.
 * `url` (a proxy's, say) replaces the broker's for the bus alone.
 */
export const openTestAmqpBus = async (t: TapTest, { exchange, url: busUrl }: { exchange?: string, url?: string } = {}): Promise<{ bus: AmqpBus, exchange: string, url: string }> => {
  const url = testAmqpUrl()!
  const owned = !exchange
  const name = exchange ?? uniqueExchange()
  const bus = await createAmqpBus({ url: busUrl ?? url, exchange: name, logger: pino({ level: process.env.STRATAVORE_TEST_LOG_LEVEL ?? 'silent' }), onHandlerError: err => { throw err } })
  // Registered before waiting for the connection, so a bus that never connects still stops
  // its reconnect timer.
  t.teardown(async () => {
    await bus.close()
    if (!owned) return
    const conn = await amqp.connect(url)
    const ch = await conn.createChannel()
    await ch.deleteQueue(`${name}.log`)
    await ch.deleteExchange(name)
    await conn.close()
  })
  await Promise.race([bus.connected, new Promise((_, reject) => setTimeout(() => reject(new Error(`RabbitMQ at ${url} did not accept a connection in 10 s`)), 10_000).unref())])
  return { bus, exchange: name, url }
}

export interface AmqpProxy {
  /** The broker's URL with the proxy's address. */
  url: string
  /** Cuts every connection through the proxy (both sides), as a network failure would; returns how many. */
  drop(): number
  /** Connections through the proxy still open. */
  open(): number
  /** Connections accepted so far. */
  accepted(): number
}

/**
 * A TCP proxy in front of the test broker, so a test can drop its own bus's connection without
 * touching anyone else's (`rabbitmqctl close_all_connections` would close every client of the
 * shared broker). It keeps accepting, so the bus can reconnect through it.
 */
export const openAmqpProxy = async (t: TapTest): Promise<AmqpProxy> => {
  const target = new URL(testAmqpUrl()!)
  const proxy = await openTcpProxy(t, { host: target.hostname, port: Number(target.port || 5672) })
  const url = new URL(target)
  url.hostname = proxy.host
  url.port = String(proxy.port)
  return { url: url.toString(), drop: proxy.drop, open: proxy.open, accepted: proxy.accepted }
}
