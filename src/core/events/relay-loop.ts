// Runs relay passes until stopped: straight on while batches come back full, otherwise waits
// for a wake-up (LISTEN/NOTIFY, or the in-process signal) or the poll interval, whichever is
// first. NOTIFY is only a hint (notifications sent while disconnected are lost), so the poll
// always runs and a (re)established listener triggers a pass. Errors never end the loop: it
// backs off (capped, jittered) and tries again, so a database or broker outage only delays.
import type { OutboxRelay, RelayResult } from './outbox-relay.js'
import { createWakeSignal } from './wake-signal.js'

export interface RelayLoopOptions {
  relay: OutboxRelay
  batchSize: number
  pollIntervalMs: number
  /** Registers a wake-up callback; returns an unsubscribe function, awaited on stop. */
  onWake?: (wake: () => void) => () => void | Promise<void>
  onBatch?: (result: RelayResult) => void
  onError?: (err: unknown, consecutiveFailures: number) => void
}

export const errorBackoffMs = (failures: number, random = Math.random) => Math.min(10_000, 100 * 1.5 ** failures) * (0.5 + random() / 2)

export const createRelayLoop = ({ relay, batchSize, pollIntervalMs, onWake, onBatch, onError }: RelayLoopOptions) => {
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
        const result = await relay.relayOnce()
        failures = 0
        if (result.claimed > 0) onBatch?.(result)
        if (result.claimed >= batchSize) continue
        await pause(pollIntervalMs)
      } catch (err) {
        failures++
        onError?.(err, failures)
        await pause(errorBackoffMs(failures))
      }
    }
  }

  return {
    start () {
      if (!stopped) return
      stopped = false
      unsubscribe = onWake?.(wake) ?? (() => {})
      running = loop()
    },
    /** Resolves once the pass in flight (if any) has committed or rolled back. */
    async stop () {
      stopped = true
      signal.interrupt()
      await running
      // A listener that cannot unlisten (its connection is gone) has nothing left to undo.
      await Promise.resolve().then(unsubscribe).catch(err => onError?.(err, 0))
    },
    wake,
  }
}
