// The wait between passes of a polling loop (the relay, the notifier): the poll interval, cut
// short by a wake-up. A wake-up that comes during a pass is kept, so the next wait ends at once
// and the change that woke it is not left for a whole interval.
export const createWakeSignal = (stopped: () => boolean) => {
  let woken = false
  let wakeNow: (() => void) | null = null
  return {
    wake () {
      woken = true
      wakeNow?.()
    },
    /** A pass begins: wake-ups before it are answered by it. */
    clear () { woken = false },
    /** Ends a wait in progress now (a stop). */
    interrupt () { wakeNow?.() },
    pause: (ms: number) => new Promise<void>(resolve => {
      if (woken || stopped()) { woken = false; resolve(); return }
      const timer = setTimeout(done, ms)
      function done () { clearTimeout(timer); wakeNow = null; woken = false; resolve() }
      wakeNow = done
    }),
  }
}
