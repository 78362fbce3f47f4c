// `stratavore doctor`, the daemon's half (GET /api/v1/doctor, admin): every check that needs
// the daemon's host, config or connections. The CLI adds its own (its config, reaching the
// daemon) and prints one line per check. All run at once; each has a deadline, so a hung
// broker or agent CLI is a failed line, not a hung doctor.
import type { Config } from '../../config.js'
import type { AuditService } from '../../core/audit/audit-service.js'
import type { Database } from '../db/client.js'
import { auditCheck, brokerCheck, clockCheck, databaseCheck, migrationCheck } from './daemon-checks.js'
import { runCheck, type DoctorCheck } from './doctor-check.js'
import { agentChecks, fileModeChecks, portChecks } from './host-checks.js'

export type { DoctorCheck } from './doctor-check.js'

export const runDoctor = async ({ config, database, audit }: { config: Config, database: Database, audit: AuditService }): Promise<DoctorCheck[]> => {
  const groups = await Promise.all([
    runCheck('database', () => databaseCheck(database)),
    runCheck('migrations', () => migrationCheck(database)),
    runCheck('broker', () => brokerCheck(config)),
    runCheck('clock', () => clockCheck(database)),
    runCheck('agents', () => agentChecks(config), 20_000),
    runCheck('file modes', async () => fileModeChecks(config)),
    runCheck('ports', () => portChecks(config)),
    runCheck('audit', () => auditCheck(audit), 60_000),
  ])
  return groups.flat()
}
