// What the core reports about its own work, for /metrics: an adapter records it (prom-client,
// src/adapters/metrics/instruments.ts); without one nothing is recorded. Each process reports
// what it did itself, so Prometheus may sum these over daemons without counting anything twice.
export interface Instruments {
  /** A runner's first start reached running this long after its launch (database clock). */
  runnerRunning(launchToRunningSeconds: number): void
  /** Starts timing one heartbeat batch's ingest; call the result when it has committed. */
  heartbeatIngest(): () => void
  /** A relay claimed a row this long after its writing transaction (database clock). */
  outboxClaimed(ageSeconds: number): void
  /** The broker confirmed a row this long after its writing transaction. */
  eventPublished(commitToPublishSeconds: number): void
  /** A runner's agent waited this long for a person (a permission, a question) before it went on. */
  humanWait(project: string, seconds: number): void
}

export const noInstruments: Instruments = {
  runnerRunning: () => {},
  heartbeatIngest: () => () => {},
  outboxClaimed: () => {},
  eventPublished: () => {},
  humanWait: () => {},
}
