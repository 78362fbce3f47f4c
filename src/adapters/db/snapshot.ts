// The SQL of backup and restore (src/adapters/backup/), written over the catalog rather than a
// list of tables, so that every table a migration adds is in every backup without a change here.
//
// Backup: one REPEATABLE READ, READ ONLY transaction on a connection of its own, so every table
// is read from one snapshot; rows leave as row_to_json text through a cursor, never all held.
// Restore: one transaction; rows go back through jsonb_populate_recordset, so Postgres turns the
// text into each column's type (the JSON is never parsed in JavaScript, and no bigint loses
// precision). Two kinds of column belong to the cluster that wrote them and are not copied: an
// xid8 (the writing transaction, events.tx_id) becomes the restoring transaction's id, and a
// pg_snapshot (event_feed_state) the restoring transaction's snapshot, so the live feed neither
// replays restored rows nor skips new ones.
import { sql } from 'drizzle-orm'
import { rowsOf, type Db } from './client.js'

export interface SnapshotColumn { name: string, type: string }
export interface SnapshotTable { name: string, columns: SnapshotColumn[] }
export interface AppliedMigration { hash: string, createdAt: string }

// Tables a migration writes a row into (0007_event_feed: the feed's position). Restore replaces
// that row, and the check for an empty database does not count it.
const SEEDED_BY_MIGRATIONS = new Set(['event_feed_state'])

/** Every table of the public schema, each after the tables its foreign keys point to. */
export const listTables = async (db: Db): Promise<SnapshotTable[]> => {
  const tables = rowsOf<{ name: string, columns: string }>(await db.execute(sql`
    select c.relname as name,
      (select json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod)) order by a.attnum)::text
         from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped) as columns
    from pg_class c
    where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') and not c.relispartition
    order by c.relname`))
  const edges = rowsOf<{ child: string, parent: string }>(await db.execute(sql`
    select ch.relname as child, pa.relname as parent
    from pg_constraint k join pg_class ch on ch.oid = k.conrelid join pg_class pa on pa.oid = k.confrelid
    where k.contype = 'f' and ch.relnamespace = 'public'::regnamespace and ch.oid <> pa.oid`))
  const parents = new Map<string, string[]>()
  for (const { child, parent } of edges) parents.set(child, [...(parents.get(child) ?? []), parent])
  const ordered: SnapshotTable[] = []
  const placed = new Set<string>()
  const place = (name: string, path: string[]) => {
    if (placed.has(name) || path.includes(name)) return
    for (const parent of parents.get(name) ?? []) place(parent, [...path, name])
    placed.add(name)
    const table = tables.find(t => t.name === name)
    if (table) ordered.push({ name, columns: JSON.parse(table.columns) as SnapshotColumn[] })
  }
  for (const { name } of tables) place(name, [])
  return ordered
}

/** The migrations applied to this database, oldest first; empty before the first. */
export const appliedMigrations = async (db: Db): Promise<AppliedMigration[]> => {
  const [exists] = rowsOf<{ present: boolean }>(await db.execute(sql`select to_regclass('drizzle.__drizzle_migrations') is not null as present`))
  if (!exists?.present) return []
  return rowsOf<AppliedMigration>(await db.execute(sql`
    select hash, created_at::text as "createdAt" from drizzle.__drizzle_migrations order by id`))
}

export const serverVersion = async (db: Db): Promise<string> =>
  rowsOf<{ version: string }>(await db.execute(sql`select version() as version`))[0]!.version

/** The audit keys the log's rows name, so a restore can say which key it needs. */
export const auditKeyIds = async (db: Db): Promise<string[]> =>
  rowsOf<{ id: string }>(await db.execute(sql`select distinct key_id as id from events where key_id is not null order by 1`)).map(r => r.id)

/** Runs `fn` in one read-only snapshot of the whole database. */
export const inSnapshot = <T>(db: Db, fn: (tx: Db) => Promise<T>): Promise<T> =>
  db.transaction(tx => fn(tx as unknown as Db), { isolationLevel: 'repeatable read', accessMode: 'read only' })

/** The rows of `table` as JSON text, 500 at a time, through a cursor of the snapshot's transaction (FETCH takes no parameter). */
export async function * tableRows (tx: Db, table: SnapshotTable): AsyncGenerator<string[]> {
  await tx.execute(sql`declare backup_rows no scroll cursor for select row_to_json(t)::text as row from ${sql.identifier(table.name)} t`)
  try {
    for (;;) {
      const rows = rowsOf<{ row: string }>(await tx.execute(sql`fetch 500 from backup_rows`))
      if (rows.length === 0) return
      yield rows.map(r => r.row)
    }
  } finally {
    await tx.execute(sql`close backup_rows`)
  }
}

/** Tables that hold rows, leaving out what the migrations themselves wrote. */
export const nonEmptyTables = async (db: Db, tables: SnapshotTable[]): Promise<string[]> => {
  const full: string[] = []
  for (const table of tables) {
    if (SEEDED_BY_MIGRATIONS.has(table.name)) continue
    const [row] = rowsOf<{ any: boolean }>(await db.execute(sql`select exists (select 1 from ${sql.identifier(table.name)}) as any`))
    if (row?.any) full.push(table.name)
  }
  return full
}

const columnValue = (column: SnapshotColumn) => {
  if (column.type === 'xid8') return sql`pg_current_xact_id()`
  if (column.type === 'pg_snapshot') return sql`pg_current_snapshot()`
  return sql`r.${sql.identifier(column.name)}`
}

/** Inserts rows (JSON objects as text) into `table`, which must be the target's own description of it. */
export const insertRows = async (tx: Db, table: SnapshotTable, rows: string[]): Promise<void> => {
  if (rows.length === 0) return
  const name = sql.identifier(table.name)
  const columns = sql.join(table.columns.map(c => sql.identifier(c.name)), sql`, `)
  const values = sql.join(table.columns.map(columnValue), sql`, `)
  await tx.execute(sql`insert into ${name} (${columns}) select ${values} from jsonb_populate_recordset(null::${name}, ${`[${rows.join(',')}]`}::jsonb) r`)
}

/** Before a restore writes a migration-seeded table, the migration's row goes. */
export const clearSeededTable = async (tx: Db, table: SnapshotTable): Promise<void> => {
  if (SEEDED_BY_MIGRATIONS.has(table.name)) await tx.execute(sql`delete from ${sql.identifier(table.name)}`)
}

/** Moves every sequence owned by a column of `table` past the largest value restored. */
export const resetSequences = async (tx: Db, table: SnapshotTable): Promise<void> => {
  for (const column of table.columns) {
    const [owned] = rowsOf<{ seq: string | null }>(await tx.execute(sql`select pg_get_serial_sequence(${`public.${quoteIdent(table.name)}`}, ${column.name}) as seq`))
    if (!owned?.seq) continue
    const col = sql.identifier(column.name)
    await tx.execute(sql`select setval(${owned.seq}::regclass, coalesce((select max(${col}) from ${sql.identifier(table.name)}), 1),
      (select max(${col}) is not null from ${sql.identifier(table.name)}))`)
  }
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`

/** The database's clock, in ms since the epoch (`stratavore doctor` compares it with the daemon's). */
export const databaseClockMs = async (db: Db): Promise<number> =>
  Number(rowsOf<{ ms: string }>(await db.execute(sql`select (extract(epoch from clock_timestamp()) * 1000)::bigint::text as ms`))[0]!.ms)
