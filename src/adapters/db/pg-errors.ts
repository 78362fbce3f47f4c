// Recognises Postgres errors through the layers that wrap them (drizzle wraps driver errors in
// DrizzleQueryError; postgres.js and PGlite name the constraint field differently).

export interface PgErrorInfo { code: string, constraint: string | undefined }

export const pgErrorOf = (err: unknown): PgErrorInfo | null => {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const candidate = e as { code?: unknown, constraint_name?: unknown, constraint?: unknown }
    if (typeof candidate.code === 'string' && /^[0-9A-Z]{5}$/.test(candidate.code)) {
      const constraint = candidate.constraint_name ?? candidate.constraint
      return { code: candidate.code, constraint: typeof constraint === 'string' ? constraint : undefined }
    }
  }
  return null
}

export const UNIQUE_VIOLATION = '23505'
export const FOREIGN_KEY_VIOLATION = '23503'

export const isUniqueViolation = (err: unknown, constraint?: string): boolean => {
  const pg = pgErrorOf(err)
  return pg?.code === UNIQUE_VIOLATION && (constraint === undefined || pg.constraint === constraint)
}

// Connection-level trouble the caller may retry: the server went away, is starting or shutting
// down, or too many clients; client-side socket errors; and an operation past its deadline
// (DATABASE_TIMEOUT, query-guard.ts: the pool is saturated or a cut connection left it hanging).
const UNAVAILABLE_CODES = new Set(['57P01', '57P02', '57P03', '53300', '08000', '08003', '08006', '08001', '08004'])
export const isConnectionError = (err: unknown): boolean => {
  const pg = pgErrorOf(err)
  if (pg) return UNAVAILABLE_CODES.has(pg.code)
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|CONNECT_TIMEOUT|CONNECTION_CLOSED|CONNECTION_ENDED|CONNECTION_DESTROYED|DATABASE_TIMEOUT)$/.test(code)) return true
  }
  return false
}

/** Past its deadline rather than refused: the database is slow or the pool saturated. */
export const isDatabaseTimeout = (err: unknown): boolean => (err as { code?: unknown } | null)?.code === 'DATABASE_TIMEOUT'
