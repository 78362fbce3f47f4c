// Doctor checks of what the daemon depends on: the database (reachable, its version, the
// schema current), the broker (a connection of the check's own, its version), the clock
// against the database's, and the audit log.
import { readMigrationFiles } from 'drizzle-orm/migrator'
import type { Config } from '../../config.js'
import type { AuditService } from '../../core/audit/audit-service.js'
import type { Database } from '../db/client.js'
import { migrationsFolder } from '../db/postgres-client.js'
import { appliedMigrations, databaseClockMs, serverVersion } from '../db/snapshot.js'
import { fail, ok, warn, type DoctorCheck } from './doctor-check.js'

// Heartbeats and TTLs are timed by the database's clock, but tokens, sessions and TLS by the
// daemon's: beyond a second they disagree visibly, beyond 30 s expiry goes wrong.
const SKEW_WARN_MS = 1_000
const SKEW_FAIL_MS = 30_000
// Enough to cover a laptop's whole log; past it, the line says it was partial.
const AUDIT_ROWS = 20_000

export const databaseCheck = async (database: Database): Promise<DoctorCheck> => {
  const started = performance.now()
  const version = await serverVersion(database.db)
  const ms = Math.round(performance.now() - started)
  return ok('database', `${database.kind === 'pglite' ? 'embedded PGlite' : 'Postgres'}: ${version.split(/ on |,/)[0]} (answered in ${ms} ms)`)
}

export const migrationCheck = async (database: Database): Promise<DoctorCheck> => {
  const ours = readMigrationFiles({ migrationsFolder }).map(m => m.hash)
  const applied = (await appliedMigrations(database.db)).map(m => m.hash)
  if (applied.length > ours.length || !applied.every((h, i) => h === ours[i])) {
    return fail('migrations', `the database has migrations this release does not know (${applied.length} applied, ${ours.length} here): a newer stratavored ran on it`)
  }
  if (applied.length < ours.length) return fail('migrations', `${ours.length - applied.length} of ${ours.length} not applied; restart stratavored to apply them`)
  return ok('migrations', `current (${ours.length} applied)`)
}

export const clockCheck = async (database: Database): Promise<DoctorCheck> => {
  const before = Date.now()
  const server = await databaseClockMs(database.db)
  const after = Date.now()
  const skew = Math.round(server - (before + after) / 2)
  const text = `the database's clock is ${Math.abs(skew)} ms ${skew >= 0 ? 'ahead of' : 'behind'} this host's (±${Math.ceil((after - before) / 2)} ms)`
  if (Math.abs(skew) > SKEW_FAIL_MS) return fail('clock', `${text}; synchronise both with NTP`)
  return (Math.abs(skew) > SKEW_WARN_MS ? warn : ok)('clock', text)
}

export const brokerCheck = async (config: Config): Promise<DoctorCheck> => {
  if (!config.amqpUrl) return ok('broker', 'the in-process bus (no RabbitMQ configured)')
  const amqp = await import('amqplib')
  const conn = await amqp.connect(config.amqpUrl, { timeout: 5_000, clientProperties: { connection_name: 'stratavore-doctor' } })
  try {
    const props = (conn as unknown as { connection: { serverProperties?: Record<string, unknown> } }).connection.serverProperties ?? {}
    return ok('broker', `${String(props.product ?? 'AMQP broker')} ${String(props.version ?? '')} at ${new URL(config.amqpUrl).host}`.trim())
  } finally {
    await conn.close().catch(() => {})
  }
}

export const auditCheck = async (audit: AuditService): Promise<DoctorCheck> => {
  const result = await audit.verify({ limit: AUDIT_ROWS })
  if (result.firstBroken) {
    const b = result.firstBroken
    return fail('audit', `chain ${b.chain} breaks at row ${b.chainSeq} (${b.reason}); see GET /api/v1/audit/verify`)
  }
  if (result.findings.length > 0) return fail('audit', `against the newest checkpoint: ${result.findings.map(f => f.reason).join(', ')}; see GET /api/v1/audit/verify`)
  const checkpoint = result.checkpoint ? `, checkpoint of ${result.checkpoint.at.toISOString()} holds` : ', no checkpoint yet'
  return ok('audit', `${result.checkedRows} rows in ${result.chains} chains verify${result.complete ? '' : ` (the first ${AUDIT_ROWS}; GET /api/v1/audit/verify walks them all)`}${checkpoint}`)
}
