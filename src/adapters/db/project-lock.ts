// The per-project transaction-level advisory lock. Launches take it to count the quota, and
// every audit append takes it for the project's chain, so one key space serves both (a
// transaction that already holds it takes it again for free).
import { sql } from 'drizzle-orm'
import type { Db } from './client.js'

// hashtextextended gives a 64-bit key; one key space for every per-project lock.
export const lockProject = async (db: Db, name: string): Promise<void> => {
  await db.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`project:${name}`}, 0))`)
}
