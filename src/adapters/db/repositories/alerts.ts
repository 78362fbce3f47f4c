// Alert conditions' state. Each change of state is one conditional statement that returns the
// rows it changed, with their new event seq: only those get a system.alert event, so two
// evaluators running at once (two reconcilers) never announce a condition twice.
//
//   (none) ──holds──> firing ──no longer holds──> resolved ──holds again──> firing ...
import { sql } from 'drizzle-orm'
import type { AlertRepository, AlertTransition } from '../../../core/alerts/ports.js'
import { rowsOf, type Db } from '../client.js'

type Row = Omit<AlertTransition, 'firedAt'> & { firedAt: Date | string }

const returning = sql`returning key, name, severity, state, summary, data, event_seq as seq, fired_at as "firedAt"`
const toTransition = (r: Row): AlertTransition => ({ ...r, seq: Number(r.seq), firedAt: new Date(r.firedAt) })

export const createAlertRepository = (db: Db): AlertRepository => ({
  async fire (conditions) {
    if (conditions.length === 0) return []
    const input = JSON.stringify(conditions.map(c => ({ key: c.key, name: c.name, severity: c.severity, summary: c.summary, data: c.data })))
    // In key order, so two evaluators lock the rows in one order.
    const rows = rowsOf<Row>(await db.execute(sql`
      insert into alerts (key, name, severity, state, summary, data, fired_at, event_seq)
        select key, name, severity, 'firing', summary, data, now(), 1
        from jsonb_to_recordset(${input}::jsonb) as c(key text, name text, severity text, summary text, data jsonb)
        order by key
      on conflict (key) do update set
        state = 'firing', severity = excluded.severity, summary = excluded.summary, data = excluded.data,
        fired_at = now(), resolved_at = null, event_seq = alerts.event_seq + 1
        where alerts.state = 'resolved'
      ${returning}`))
    return rows.map(toTransition)
  },

  async resolveExcept (names, holding) {
    if (names.length === 0) return []
    const rows = rowsOf<Row>(await db.execute(sql`
      update alerts set state = 'resolved', resolved_at = now(), event_seq = event_seq + 1
      where state = 'firing'
        and name in (select jsonb_array_elements_text(${JSON.stringify(names)}::jsonb))
        and key not in (select jsonb_array_elements_text(${JSON.stringify(holding)}::jsonb))
      ${returning}`))
    return rows.map(toTransition)
  },

  async recordEpisode (condition, firedAt) {
    const { key, name, severity, summary, data } = condition
    const [row] = rowsOf<Row>(await db.execute(sql`
      insert into alerts (key, name, severity, state, summary, data, fired_at, resolved_at, event_seq)
        values (${key}, ${name}, ${severity}, 'resolved', ${summary}, ${JSON.stringify(data)}::jsonb, ${firedAt.toISOString()}::timestamptz, now(), 2)
      on conflict (key) do update set
        state = 'resolved', severity = excluded.severity, summary = excluded.summary, data = excluded.data,
        fired_at = excluded.fired_at, resolved_at = now(), event_seq = alerts.event_seq + 2
      ${returning}`))
    if (!row) return []
    // Two events: the firing one (seq - 1) and the resolved one (seq).
    const resolved = toTransition(row)
    return [{ ...resolved, state: 'firing', seq: resolved.seq - 1 }, resolved]
  },

  async firing () {
    const rows = rowsOf<Row>(await db.execute(sql`
      select key, name, severity, state, summary, data, event_seq as seq, fired_at as "firedAt" from alerts where state = 'firing' order by key`))
    return rows.map(toTransition)
  },
})
