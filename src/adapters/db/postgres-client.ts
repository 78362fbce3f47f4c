// The Postgres side of client.ts: a postgres.js pool set up so that a connection the server
// cuts (a restart, pg_terminate_backend, a failover) is an expected event. Each query is
// failed or retried by its caller, nothing escapes as an unhandled rejection, the pool
// reconnects within about a second of the server accepting connections again, and no caller
// waits past the query deadline (query-guard.ts).
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import type { Database, Db } from './client.js'
import { sourcePath } from '../../source-root.js'
import { guardClient } from './query-guard.js'
import { schema } from './schema.js'

export const migrationsFolder = sourcePath('drizzle')

// Any constant works; it only has to be the same in every Stratavore process.
const MIGRATION_LOCK_KEY = 0x5354_5241_5641n

// How long a connection attempt may take before its query fails. A request that needs the
// database waits for one attempt (more when more requests than the pool has connections are
// waiting), so this bounds how long the API takes to answer 503 when the database host is
// gone or packets are dropped (a stopped server refuses at once). Generous for a server on
// the same network; `?connect_timeout=N` in the URL overrides it for a slower link.
const DEFAULT_CONNECT_TIMEOUT_SECONDS = 2

export const DEFAULT_QUERY_TIMEOUT_MS = 5_000

// Read from the query string alone: postgres.js accepts multi-host URLs that URL() refuses.
const urlNumber = (url: string, name: string): number | null => {
  const value = Number(new URLSearchParams(url.split('?')[1] ?? '').get(name))
  return Number.isFinite(value) && value > 0 ? value : null
}

// postgres.js waits 0.5–1 × min(3^failures / 100, 20) s before reconnecting a connection whose
// socket failed, counting failures across the pool until one connection succeeds: after a
// Postgres restart or a storm of terminated backends it sat up to 20 s idle while the server
// was back (F7, F8). Doubling from 50 ms, capped at 1 s, with the same jitter.
const reconnectBackoffSeconds = (failures: number) => (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** failures, 1)

// Every client we open. fetch_types is off because postgres.js fetches array types on each new
// connection from a promise nobody handles: a connection cut during that fetch (the first
// thing a reconnected connection does, so the usual case in a storm) was an unhandled rejection,
// which ends the process (F8: 5 of 8 runs). drizzle parses and serializes array columns itself.
// Without fetched types, text[] (oid 1009, our only array type: tags, roles, flags) would reach
// drizzle as its literal, and drizzle's fallback parser drops every backslash ("a\\b" read
// back as "ab"). Parsed here instead: quoted elements unescaped, unquoted NULL as null.
export const parseTextArray = (literal: string): Array<string | null> => {
  const out: Array<string | null> = []
  if (literal === '{}') return out
  let i = 1
  while (i < literal.length) {
    if (literal[i] === '"') {
      let value = ''
      for (i++; literal[i] !== '"'; i++) {
        if (literal[i] === '\\') i++
        value += literal[i]
      }
      out.push(value)
      i++
    } else {
      const start = i
      while (literal[i] !== ',' && literal[i] !== '}') i++
      const raw = literal.slice(start, i)
      out.push(raw === 'NULL' ? null : raw)
    }
    i++
  }
  return out
}

const baseOptions = (connectTimeout: number) => ({
  connect_timeout: connectTimeout,
  fetch_types: false,
  types: { textArray: { to: 1009, from: [1009], serialize: (value: unknown) => value, parse: parseTextArray } },
  backoff: reconnectBackoffSeconds,
  onnotice: () => {},
})

export const openPostgres = async ({ url, poolSize, connectTimeoutSeconds = DEFAULT_CONNECT_TIMEOUT_SECONDS, queryTimeoutMs = DEFAULT_QUERY_TIMEOUT_MS }: {
  url: string, poolSize: number, connectTimeoutSeconds?: number, queryTimeoutMs?: number,
}): Promise<Database> => {
  const connectTimeout = urlNumber(url, 'connect_timeout') ?? connectTimeoutSeconds
  // `?max=N` in the URL sets the pool's size, as postgres.js documents; the option would win.
  const max = urlNumber(url, 'max') ?? poolSize
  const client = postgres(url, {
    ...baseOptions(connectTimeout),
    max,
    idle_timeout: 60,
    connection: {
      application_name: 'stratavored',
      idle_in_transaction_session_timeout: 60_000,
      // Launch admission depends on READ COMMITTED (the advisory lock must come before the
      // snapshot); pinning it per connection also saves a SET TRANSACTION per unit of work.
      default_transaction_isolation: 'read committed',
    },
  })
  const guarded = guardClient(client, { timeoutMs: queryTimeoutMs, poolSize: max })
  const db = drizzlePostgres({ client: guarded.client, schema }) as unknown as Db
  return {
    kind: 'postgres',
    db,
    async migrate (folder = migrationsFolder) {
      // A dedicated connection holds a session advisory lock for the whole run, so two
      // daemons starting together apply each migration once, one after the other.
      const lockClient = postgres(url, { ...baseOptions(connectTimeout), max: 1 })
      try {
        await lockClient`select pg_advisory_lock(${MIGRATION_LOCK_KEY.toString()}::bigint)`
        await migratePostgres(drizzlePostgres({ client: lockClient }), { migrationsFolder: folder })
        await lockClient`select pg_advisory_unlock(${MIGRATION_LOCK_KEY.toString()}::bigint)`
      } finally {
        await lockClient.end({ timeout: 5 })
      }
    },
    async listen (channel, onNotify, onListen) {
      // postgres.js LISTENs on a connection of its own and LISTENs again after it reconnects
      // (then calls onListen); a LISTEN that fails is retried by the caller (workers/outbox-relay.ts).
      const { unlisten } = await client.listen(channel, onNotify, onListen)
      return unlisten
    },
    load: guarded.load,
    // Outside the pool, so that the answer is the server's: a pooled probe can queue behind
    // the very operations that are stuck, or be pipelined onto a connection left hanging.
    async probe () {
      const once = postgres(url, { ...baseOptions(connectTimeout), max: 1, connection: { application_name: 'stratavored' } })
      try { await once`select 1` } finally { await once.end({ timeout: 0 }) }
    },
    async dedicated (fn) {
      const own = postgres(url, { ...baseOptions(connectTimeout), max: 1, connection: { application_name: 'stratavore-dedicated' } })
      try { return await fn(drizzlePostgres({ client: own, schema }) as unknown as Db) } finally { await own.end({ timeout: 5 }) }
    },
    async close () { await client.end({ timeout: 5 }) },
  }
}
