// Wraps the postgres.js client that drizzle drives, so that no caller waits on the database
// longer than a deadline, and so that the pool's load can be read without a connection.
//
// Why a deadline of our own: postgres.js leaves some queries unsettled when their connection is
// cut (upstream porsager/postgres#1193, #1089: a query queued on a transaction's connection, a
// query caught in a reconnect), and a query waiting for a pooled connection waits as long as
// the pool is full. Each operation the daemon starts (one statement, or one whole transaction
// including its wait for a connection) therefore gets `timeoutMs`; past it the caller gets a
// DATABASE_TIMEOUT error, which every surface treats as the database being unavailable (503,
// the database gate), and the statement running for it is cancelled so that its connection
// (and the locks it holds) come back. A transaction whose deadline passed never commits: its
// next statement fails, and so does the work function, so postgres.js rolls it back.
//
// drizzle also prepares nothing by default (a Parse/Describe round trip and a re-plan per
// statement); our statements are a fixed set of shapes, so every one is prepared and cached per
// connection.
import type postgres from 'postgres'

export const DATABASE_TIMEOUT = 'DATABASE_TIMEOUT'

/** What the pool is doing now, measured without touching it. */
export interface PoolLoad {
  /** Connections in the pool. */
  size: number
  /** Operations started and not settled (nor past their deadline). */
  inFlight: number
  /** Age of the oldest of them, ms (0 when none). */
  oldestMs: number
  /** Every connection is taken and the oldest operation has waited or run SATURATED_AFTER_MS. */
  saturated: boolean
}

// Launches take ~100 ms at p99 under load: an operation a second old with every connection
// busy means requests are queuing for connections.
const SATURATED_AFTER_MS = 1_000

export const databaseTimeout = (timeoutMs: number): Error =>
  Object.assign(new Error(`the database did not answer within ${timeoutMs} ms`), { code: DATABASE_TIMEOUT })

type SqlClient = postgres.Sql | postgres.TransactionSql
type Query = postgres.PendingQuery<postgres.Row[]>

interface Guard {
  timeoutMs: number
  track(started: number): () => void
}

// A lazy thenable, as postgres.js queries are: it starts on the first then(); drizzle calls
// values() before awaiting.
class GuardedQuery implements PromiseLike<unknown> {
  #run: Promise<unknown> | null = null
  constructor (readonly query: Query, private readonly start: (query: Query) => Promise<unknown>) {}
  values () { this.query.values(); return this }
  then<A = unknown, B = never> (onfulfilled?: ((value: unknown) => A | PromiseLike<A>) | null, onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    this.#run ??= this.start(this.query)
    return this.#run.then(onfulfilled, onrejected)
  }
}

/** `work`, or DATABASE_TIMEOUT after timeoutMs (calling onExpire then); tracked as in flight until one of them. */
const withDeadline = <T>(guard: Guard, work: () => Promise<T>, onExpire: () => void): Promise<T> => new Promise<T>((resolve, reject) => {
  const done = guard.track(performance.now())
  const timer = setTimeout(() => {
    done()
    onExpire()
    reject(databaseTimeout(guard.timeoutMs))
  }, guard.timeoutMs)
  work().then(resolve, reject).finally(() => { clearTimeout(timer); done() })
})

// A query still queued for a connection is dropped from the queue; a running one gets a cancel
// request, on a connection of its own. query.cancel() discards the promise of that request,
// whose rejection (the server unreachable: the usual case here) would then be unhandled; so the
// query's canceller is called directly and its failure ignored: the deadline has answered already.
const cancelQuietly = (query: Query) => {
  const q = query as unknown as { canceller?: ((query: Query) => Promise<void>) | null }
  const cancel = q.canceller
  if (!cancel) return
  q.canceller = null
  cancel(query).catch(() => {})
}

const unsafeOf = (target: SqlClient) =>
  (query: string, params?: postgres.ParameterOrJSON<never>[], options?: postgres.UnsafeQueryOptions) =>
    // eslint-disable-next-line no-restricted-syntax -- drizzle's own parameterized statements pass through here
    target.unsafe(query, params, { ...options, prepare: true }) as unknown as Query

interface TransactionState { expired: boolean, current: Query | null }

/** The transaction's client: statements are prepared, and refused once the deadline passed. */
const guardTransaction = (tx: postgres.TransactionSql, state: TransactionState, timeoutMs: number): postgres.TransactionSql => new Proxy(tx, {
  get (target, property, receiver) {
    if (property === 'unsafe') {
      const unsafe = unsafeOf(target)
      return (...args: Parameters<typeof unsafe>) => new GuardedQuery(unsafe(...args), query => {
        if (state.expired) return Promise.reject(databaseTimeout(timeoutMs))
        state.current = query
        return Promise.resolve(query).finally(() => { if (state.current === query) state.current = null })
      })
    }
    if (property === 'savepoint') {
      return (work: (sp: postgres.TransactionSql) => unknown) => target.savepoint(sp => work(guardTransaction(sp, state, timeoutMs)))
    }
    return Reflect.get(target, property, receiver)
  },
})

/** The pool's client for drizzle, and its load. */
export const guardClient = (client: postgres.Sql, { timeoutMs, poolSize }: { timeoutMs: number, poolSize: number }): { client: postgres.Sql, load(): PoolLoad } => {
  const started = new Set<{ at: number }>()
  const guard: Guard = {
    timeoutMs,
    track (at) {
      const op = { at }
      started.add(op)
      return () => { started.delete(op) }
    },
  }
  const guarded = new Proxy(client, {
    get (target, property, receiver) {
      if (property === 'unsafe') {
        const unsafe = unsafeOf(target)
        return (...args: Parameters<typeof unsafe>) => new GuardedQuery(unsafe(...args), query =>
          withDeadline(guard, () => Promise.resolve(query), () => cancelQuietly(query)))
      }
      if (property === 'begin') {
        return (...args: unknown[]) => {
          const work = args.pop() as (tx: postgres.TransactionSql) => Promise<unknown>
          const state: TransactionState = { expired: false, current: null }
          return withDeadline(guard,
            () => target.begin(...(args as [string]), async tx => {
              const result = await work(guardTransaction(tx, state, timeoutMs))
              // The deadline passed while the last statement ran: roll back rather than commit.
              if (state.expired) throw databaseTimeout(timeoutMs)
              return result
            }),
            () => {
              state.expired = true
              if (state.current) cancelQuietly(state.current)
            })
        }
      }
      return Reflect.get(target, property, receiver)
    },
  })
  return {
    client: guarded,
    load () {
      const now = performance.now()
      let oldest = now
      for (const op of started) oldest = Math.min(oldest, op.at)
      const oldestMs = Math.round(now - oldest)
      return { size: poolSize, inFlight: started.size, oldestMs, saturated: started.size >= poolSize && oldestMs >= SATURATED_AFTER_MS }
    },
  }
}
