// `stratavored relay`: publishes outbox rows to the bus (RabbitMQ, or the in-process bus in
// the embedded default), and sends webhook notifications (workers/notifier.ts). Several relays
// may run at once; each claims rows the others skip.
import type { Logger } from 'pino'
import { OUTBOX_CHANNEL } from '../src/adapters/db/unit-of-work.js'
import type { Context } from '../src/context.js'
import { createOutboxRelay } from '../src/core/events/outbox-relay.js'
import { createRelayLoop, errorBackoffMs } from '../src/core/events/relay-loop.js'
import type { Part } from '../src/process/lifecycle.js'
import { startNotifier } from './notifier.js'

/**
 * LISTENs until it holds, and returns how to stop. LISTEN only spares the relay a poll
 * interval, but a relay whose first LISTEN failed (the database restarting as it starts, no
 * connection slot free) would otherwise poll for the rest of its life: it is retried with the
 * loop's capped, jittered backoff. Once established, the driver re-establishes it after a
 * reconnect by itself (and calls onListen, which wakes the loop).
 */
const listenUntilStopped = (listen: () => Promise<() => Promise<void>>, log: Logger): (() => Promise<void>) => {
  let stopped = false
  let failures = 0
  let timer: NodeJS.Timeout | undefined
  let unlisten: (() => Promise<void>) | null = null
  let attempt: Promise<void> = Promise.resolve()
  const tryListen = () => {
    attempt = listen().then(stop => {
      unlisten = stop
      if (failures > 0) log.info({ failures }, 'LISTEN established')
    }, (err: unknown) => {
      failures++
      ;(failures === 1 ? log.warn : log.debug).call(log, { err, failures }, 'LISTEN failed; polling until a retry holds')
      if (!stopped) timer = setTimeout(tryListen, errorBackoffMs(failures))
    })
  }
  tryListen()
  return async () => {
    stopped = true
    clearTimeout(timer)
    await attempt
    await unlisten?.()
  }
}

export const startRelay = async (ctx: Context): Promise<Part[]> => {
  const { batch_size: batchSize, poll_interval_ms: pollIntervalMs } = ctx.config.relay
  const log = ctx.logger.child({ component: 'relay' })
  const fault = ctx.config.debug.fault_point
  const relay = createOutboxRelay({
    uow: ctx.uow, publisher: ctx.bus, clock: ctx.clock, ids: ctx.ids, batchSize, instruments: ctx.metrics.instruments,
    // Synchronous, so nothing of the pass runs after the point: at relay.after_publish the bus
    // calls it once the batch's frames are with the kernel and before it reads any confirm.
    ...(fault ? { faultPoint: point => { if (point === fault) process.kill(process.pid, 'SIGKILL') } } : {}),
  })
  const loop = createRelayLoop({
    relay,
    batchSize,
    pollIntervalMs,
    onWake: wake => listenUntilStopped(() => ctx.database.listen(OUTBOX_CHANNEL, wake, wake), log),
    onBatch: r => {
      if (r.retried + r.dead > 0) log.warn(r, 'relay batch had refusals')
      else log.debug(r, 'relay batch')
    },
    onError: (err, failures) => (failures === 1 ? log.warn : log.debug).call(log, { err, failures }, 'relay pass failed; backing off'),
  })
  loop.start()
  log.info({ batchSize, pollIntervalMs }, 'relay started')
  // The relay role also sends the webhook notifications (notifications.webhooks).
  return [{ name: 'relay', stop: () => loop.stop() }, ...startNotifier(ctx)]
}
