// How a loop that retries logs its failures: the first of a streak at warn with the error (and
// its stack), the rest at debug without one, and the end of the streak at info with how many
// there were. During a database outage a loop that runs every half second would otherwise
// write a stack trace every half second; the streak says the same in two lines.
import type { Log } from './ports.js'

export interface FailureStreak {
  failed(err: unknown, fields?: object): void
  succeeded(): void
}

export const createFailureStreak = (log: Log, what: string): FailureStreak => {
  let failures = 0
  return {
    failed (err, fields = {}) {
      failures++
      if (failures === 1) log.warn({ err, ...fields }, `${what} failed; retrying`)
      else log.debug({ error: err instanceof Error ? err.message : String(err), failures, ...fields }, `${what} failed again`)
    },
    succeeded () {
      if (failures > 0) log.info({ failures }, `${what} works again`)
      failures = 0
    },
  }
}
