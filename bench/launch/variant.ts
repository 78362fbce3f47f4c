// What run.ts needs from a system under test: a URL that accepts POST /api/v1/runners with
// {project, agent}, a count of what was written (to check every 201 left its rows), and close().

export interface BenchProject { name: string, path: string, maxConcurrentRunners: number }

export interface VariantOptions {
  databaseUrl: string
  poolSize: number
  projects: BenchProject[]
  /** Where the Stratavore variant's request log goes (the raw baseline logs nothing). */
  logLevel: string
  logDestination: 'null' | 'stderr'
}

/** Rows written by launches: runners, and runner.launched events in the outbox and the audit log. */
export interface Ledger { runners: number, outbox: number, events: number }

export interface Variant {
  url: string
  /** What every request carries: the Stratavore variants authenticate, as every client must. */
  headers: Record<string, string>
  ledger(): Promise<Ledger>
  close(): Promise<void>
}
