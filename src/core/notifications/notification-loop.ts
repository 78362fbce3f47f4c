// Runs the fan-out and the deliveries until stopped: a pass on each wake-up (an outbox NOTIFY,
// a request ending) or every poll interval. Errors never end the loop: it backs off, capped,
// and tries again, so a database outage only delays notifications.
//
// stop() is graceful: no new claims, then every request in flight ends (each within its
// timeout) and its outcome is written. stop({ force: true }) cuts them instead; their rows stay
// leased and any daemon sends them again once the lease ends.
import { errorBackoffMs } from '../events/relay-loop.js'
import { createWakeSignal } from '../events/wake-signal.js'
import type { Log } from '../ports.js'
import type { NotificationDeliverer } from './notification-delivery.js'
import type { NotificationFanOut } from './notification-fanout.js'

export interface NotificationLoopOptions {
  fanOut: NotificationFanOut
  delivery: NotificationDeliverer
  pollIntervalMs: number
  log: Log
  onWake?: (wake: () => void) => () => void | Promise<void>
}

export const createNotificationLoop = ({ fanOut, delivery, pollIntervalMs, log, onWake }: NotificationLoopOptions) => {
  let stopped = true
  let running: Promise<void> | null = null
  const signal = createWakeSignal(() => stopped)
  const { wake, pause } = signal
  let unsubscribe: () => void | Promise<void> = () => {}


  const loop = async () => {
    let failures = 0
    while (!stopped) {
      try {
        signal.clear()
        const result = await fanOut.fanOutOnce()
        if (result.deliveries > 0) log.debug(result, 'notifications fanned out')
        if (stopped) break
        await delivery.deliverOnce()
        failures = 0
        await pause(pollIntervalMs)
      } catch (err) {
        failures++
        ;(failures === 1 ? log.warn : log.debug).call(log, { err, failures }, 'notification pass failed; backing off')
        await pause(errorBackoffMs(failures))
      }
    }
  }

  delivery.onSettled(wake)

  return {
    start () {
      if (!stopped) return
      stopped = false
      unsubscribe = onWake?.(wake) ?? (() => {})
      running = loop()
    },
    async stop ({ force = false }: { force?: boolean } = {}) {
      stopped = true
      signal.interrupt()
      await running
      if (force) await delivery.abort()
      else await delivery.drain()
      await Promise.resolve().then(unsubscribe).catch(err => log.warn({ err }, 'notifications: could not stop listening'))
    },
    wake,
  }
}

export type NotificationLoop = ReturnType<typeof createNotificationLoop>
