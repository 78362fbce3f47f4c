// Records what a live agent says it is doing (its hooks, its stream events) as the runner's
// activity. Signals of one runner are written one at a time, in the order they came, each
// timed when it arrived; a write the database refuses for now is tried again a few times, so
// a state change is not lost to a blip. The process's generation fences every write.
import { isWaiting, type ActivitySignal } from '../runners/activity.js'
import type { Instruments } from '../instruments.js'
import type { Clock, Log } from '../ports.js'
import type { Tracked } from './node-supervisor.js'
import type { SupervisionPort } from './supervision-port.js'

const ATTEMPTS = 4
const RETRY_BASE_MS = 250

export const createActivityReporter = ({ transitions, clock, log, instruments }: {
  transitions: Pick<SupervisionPort, 'activity'>
  clock: Clock
  log: Log
  instruments: Pick<Instruments, 'humanWait'>
}) => {
  const chains = new Map<string, Promise<void>>()

  const write = async (t: Tracked, signal: ActivitySignal, since: Date) => {
    for (let attempt = 1; ; attempt++) {
      if (t.fenced) return
      try {
        const changed = await transitions.activity(t.runner, t.generation, signal, since)
        const previous = changed?.previous
        // The time a person took to answer: from the wait's start to the change that ended it.
        if (changed && previous && isWaiting(previous.state) && previous.since && !isWaiting(changed.runner.activity.state)) {
          instruments.humanWait(t.runner.projectName, (since.getTime() - previous.since.getTime()) / 1000)
        }
        return
      } catch (err) {
        if (attempt >= ATTEMPTS) {
          log.warn({ err, runnerId: t.runner.id, state: signal.state }, 'could not record the runner\'s activity')
          return
        }
        await new Promise(resolve => setTimeout(resolve, RETRY_BASE_MS * 2 ** (attempt - 1)))
      }
    }
  }

  return {
    report (t: Tracked, signal: ActivitySignal) {
      const since = clock.now()
      const id = t.runner.id
      const next = (chains.get(id) ?? Promise.resolve()).then(() => write(t, signal, since))
      chains.set(id, next)
      void next.finally(() => { if (chains.get(id) === next) chains.delete(id) })
    },
    /** Resolves once every signal of the runner received so far is written (or given up). */
    settled: (runnerId: string): Promise<void> => chains.get(runnerId) ?? Promise.resolve(),
  }
}
