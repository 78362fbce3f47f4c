// Tampering with the audit log the way an attacker holding the database's superuser (or the
// table owner's) role would: the append-only trigger (drizzle/0006) first has to go.
import { sql } from 'drizzle-orm'
import type { Db } from '../../src/adapters/db/client.js'

export const disableAuditGuard = async (db: Db): Promise<void> => {
  await db.execute(sql`alter table events disable trigger events_append_only`)
}

export const enableAuditGuard = async (db: Db): Promise<void> => {
  await db.execute(sql`alter table events enable trigger events_append_only`)
}
