// Makes the audit log (events) append-only for the daemon's own role, as far as Postgres lets
// a role do that to itself. Migration 0006 puts a trigger on the table that refuses UPDATE,
// DELETE and TRUNCATE from anyone; here, at every start, a role that owns the table and is no
// superuser also revokes those privileges from itself, so even with the trigger disabled its
// plain DELETE is refused. What neither stops: a superuser (privileges are not checked for
// one), or the owner undoing both on purpose (GRANT back, DISABLE or DROP the trigger, DROP
// the table). A role that is not the owner cannot revoke what the owner granted it: the DBA
// must. The answer says which case this is; checkpoints (src/core/audit/checkpoint.ts) are
// what shows rows that went missing anyway.
import { sql } from 'drizzle-orm'
import { rowsOf, type Db } from './client.js'

export interface AuditGuard {
  role: string
  superuser: boolean
  owner: boolean
  /** The append-only trigger is there and enabled. */
  trigger: boolean
  /** This role holds UPDATE, DELETE or TRUNCATE on events (always true for a superuser). */
  canRewrite: boolean
}

const state = async (db: Db): Promise<AuditGuard> => {
  const [row] = rowsOf<AuditGuard>(await db.execute(sql`
    select current_user::text as role,
      coalesce((select rolsuper from pg_roles where rolname = current_user), false) as superuser,
      pg_get_userbyid(c.relowner) = current_user as owner,
      exists (select 1 from pg_trigger t where t.tgrelid = c.oid and t.tgname = 'events_append_only' and t.tgenabled <> 'D') as trigger,
      has_table_privilege(c.oid, 'UPDATE') or has_table_privilege(c.oid, 'DELETE') or has_table_privilege(c.oid, 'TRUNCATE') as "canRewrite"
    from pg_class c where c.oid = 'events'::regclass`))
  return row!
}

/** Revokes UPDATE, DELETE and TRUNCATE on events from the current role when it can; idempotent. */
export const guardAuditLog = async (db: Db): Promise<AuditGuard> => {
  const before = await state(db)
  if (before.superuser || !before.owner || !before.canRewrite) return before
  await db.execute(sql`revoke update, delete, truncate on events from current_user`)
  return state(db)
}
