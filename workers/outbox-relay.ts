// `stratavored relay`: publishes outbox rows to the bus (RabbitMQ, or the in-process bus in
// the embedded default). Several relays may run at once; each claims rows the others skip.
import { OUTBOX_CHANNEL } from '../src/adapters/db/unit-of-work.js'
import type { Context } from '../src/context.js'
import { createOutboxRelay } from '../src/core/events/outbox-relay.js'
import { createRelayLoop } from '../src/core/events/relay-loop.js'
import type { Part } from '../src/process/lifecycle.js'

export const startRelay = async (ctx: Context): Promise<Part[]> => {
  const { batch_size: batchSize, poll_interval_ms: pollIntervalMs } = ctx.config.relay
  const log = ctx.logger.child({ component: 'relay' })
  const fault = ctx.config.debug.fault_point
  const relay = createOutboxRelay({
    uow: ctx.uow, publisher: ctx.bus, clock: ctx.clock, ids: ctx.ids, batchSize,
    ...(fault ? { faultPoint: point => { if (point === fault) process.kill(process.pid, 'SIGKILL') } } : {}),
  })
  let unlisten: () => Promise<void> = async () => {}
  const loop = createRelayLoop({
    relay,
    batchSize,
    pollIntervalMs,
    onWake: wake => {
      const listening = ctx.database.listen(OUTBOX_CHANNEL, wake, wake)
        .then(stop => { unlisten = stop })
        .catch(err => log.warn({ err }, 'LISTEN failed; polling only'))
      return async () => { await listening; await unlisten() }
    },
    onBatch: r => {
      if (r.retried + r.dead > 0) log.warn(r, 'relay batch had refusals')
      else log.debug(r, 'relay batch')
    },
    onError: (err, failures) => (failures === 1 ? log.warn : log.debug).call(log, { err, failures }, 'relay pass failed; backing off'),
  })
  loop.start()
  log.info({ batchSize, pollIntervalMs }, 'relay started')
  return [{ name: 'relay', stop: () => loop.stop() }]
}
