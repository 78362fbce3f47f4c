// What the live feed reads: the audit log (`events`) in commit-safe order, with each row's
// envelope and routing key from its outbox row. It never reads rows of a transaction that might
// still be running or that began after one that still is (the Emmett technique): a row may
// commit after a row with a later id, so `id > last` alone would skip it.
//
// A position is (tx_id, id): tx_id is the writing transaction (pg_current_xact_id()), and every
// row read has tx_id below the reading snapshot's xmin. Rows not yet safe are read later, by
// the next poll; nothing in between can be lost, because a transaction that has not finished
// has a tx_id at or above xmin.
import { sql, type SQL } from 'drizzle-orm'
import type { EventFeedSource, FeedEvent, FeedPosition } from '../../../core/ports.js'
import { rowsOf, type Db } from '../client.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * An AMQP topic pattern as a POSIX regular expression over '.' || routing_key ('' for the empty key): a word is
 * `\.word`, `*` is one word `\.[^.]*` and `#` is any number of words `(\.[^.]*)*`. Words of a
 * checked pattern hold only letters, digits, '_' and '-', which need no escaping.
 */
export const topicPatternRegex = (pattern: string): string =>
  `^${pattern.split('.').map(w => w === '#' ? '(\\.[^.]*)*' : w === '*' ? '\\.[^.]*' : `\\.${w}`).join('')}$`

const after = (p: FeedPosition) => sql`(e.tx_id, e.id) > (${p.txId}::xid8, ${p.id}::bigint)`
const atOrBefore = (p: FeedPosition) => sql`(e.tx_id, e.id) <= (${p.txId}::xid8, ${p.id}::bigint)`
const safe = sql`e.tx_id < pg_snapshot_xmin(pg_current_snapshot())`

interface Row { txId: string, id: string, eventId: string, routingKey: string, frame: Record<string, unknown> | null }

// An outbox row is the envelope as published. Should one be gone, the envelope is rebuilt from
// the audit row, which has everything but `seq` (proto3 JSON leaves it out: 0 means unknown).
const routingKey = sql`coalesce(o.routing_key, p.event_type || '.' || coalesce(p.project, ''))`
const envelope = sql`coalesce(o.payload, jsonb_build_object(
  'version', 1, 'event_id', p.event_id, 'type', p.event_type,
  'occurred_at', to_char(p.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  'project', coalesce(p.project, ''), 'aggregate_type', p.entity_type, 'aggregate_id', p.entity_id,
  'actor', p.actor, 'data', p.data))`

export const createEventFeedSource = (db: Db): EventFeedSource => ({
  async head () {
    const [row] = rowsOf<{ xmin: string }>(await db.execute(sql`select pg_snapshot_xmin(pg_current_snapshot())::text as xmin`))
    // Every row still to become visible belongs to a transaction at or above xmin, and has an
    // id above 0: so it sorts after (xmin, 0).
    return { txId: row!.xmin, id: '0' }
  },

  async positionOf (eventId) {
    if (!UUID.test(eventId)) return null
    const [row] = rowsOf<FeedPosition>(await db.execute(sql`
      select e.tx_id::text as "txId", e.id::text as id from events e where e.event_id = ${eventId}`))
    return row ?? null
  },

  async read (from, { limit, until, pattern }) {
    const bounds: SQL[] = [after(from), safe]
    if (until) bounds.push(atOrBefore(until))
    // The window is taken first, matching or not, so that a selective pattern still costs at
    // most `limit` rows per read; only matching rows carry their envelope back.
    // The empty key has no words (as RabbitMQ splits it), so no leading dot either.
    const matches = pattern && pattern !== '#' ? sql`coalesce('.' || nullif(${routingKey}, ''), '') ~ ${topicPatternRegex(pattern)}` : sql`true`
    const rows = rowsOf<Row>(await db.execute(sql`
      with p as (
        select e.id, e.tx_id, e.event_id, e.event_type, e.entity_type, e.entity_id, e.project, e.actor, e.occurred_at, e.data
        from events e
        where ${sql.join(bounds, sql` and `)}
        order by e.tx_id, e.id
        limit ${limit}
      )
      select p.tx_id::text as "txId", p.id::text as id, p.event_id as "eventId", ${routingKey} as "routingKey",
             case when ${matches} then ${envelope} || jsonb_build_object('routing_key', ${routingKey}) end as frame
      from p left join outbox o on o.event_id = p.event_id
      order by p.tx_id, p.id`))
    const events: FeedEvent[] = []
    for (const row of rows) {
      if (row.frame) events.push({ position: { txId: row.txId, id: row.id }, eventId: row.eventId, routingKey: row.routingKey, frame: row.frame })
    }
    const last = rows.at(-1)
    return { events, scanned: rows.length, last: last ? { txId: last.txId, id: last.id } : null }
  },

  async countBetween (from, until, cap) {
    const [row] = rowsOf<{ n: number }>(await db.execute(sql`
      select count(*)::int as n from (select 1 from events e where ${after(from)} and ${atOrBefore(until)} limit ${cap}) s`))
    return Number(row!.n)
  },
})
