// What the live feed reads: the audit log (`events`) in the feed's order, with each row's
// envelope and routing key from its outbox row. The order is event_feed.seq: a place each row
// gets once its transaction has committed, given by event_feed_advance() (drizzle/0006_event_feed.sql)
// one caller at a time, so a read of `seq > n` sees a prefix of the order and never a hole that
// fills later. A position is that seq.
//
// Nothing here waits for a running transaction, ours or anyone's on the cluster: an event
// written by a transaction still running has no place yet, and gets the next free one when it
// commits, after everything already sent. (The order used to be (tx_id, id) up to the cluster's
// xmin, which any write transaction in any database held back: F9.)
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

const after = (p: FeedPosition) => sql`f.seq > ${p}::bigint`
const atOrBefore = (p: FeedPosition) => sql`f.seq <= ${p}::bigint`

interface Row { seq: string, eventId: string, routingKey: string, frame: Record<string, unknown> | null }

// An outbox row is the envelope as published. Should one be gone, the envelope is rebuilt from
// the audit row, which has everything but `seq` (proto3 JSON leaves it out: 0 means unknown).
export const routingKeyColumn = sql`coalesce(o.routing_key, p.event_type || '.' || coalesce(p.project, ''))`
export const envelopeColumn = sql`coalesce(o.payload, jsonb_build_object(
  'version', 1, 'event_id', p.event_id, 'type', p.event_type,
  'occurred_at', to_char(p.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  'project', coalesce(p.project, ''), 'aggregate_type', p.entity_type, 'aggregate_id', p.entity_id,
  'actor', p.actor, 'data', p.data))`

export const createEventFeedSource = (db: Db): EventFeedSource => {
  const head = async (): Promise<FeedPosition> => {
    const [row] = rowsOf<{ head: string }>(await db.execute(sql`select event_feed_advance()::text as head`))
    return row!.head
  }
  const placeOf = async (eventId: string) => rowsOf<{ seq: string | null }>(await db.execute(sql`
    select f.seq::text as seq from events e left join event_feed f on f.audit_id = e.id where e.event_id = ${eventId}`))[0]

  return {
    head,

    async positionOf (eventId) {
      if (!UUID.test(eventId)) return null
      let row = await placeOf(eventId)
      // Committed but not placed yet (the client had its id from elsewhere than the feed).
      if (row && row.seq === null) {
        await head()
        row = await placeOf(eventId)
      }
      return row?.seq ?? null
    },

    // The exact first place, not the earliest time's: commit order and clocks may disagree
    // by a little. events_occurred_idx bounds the rows looked at to the period asked for.
    async positionBefore (since) {
      const [row] = rowsOf<{ position: string | null }>(await db.execute(sql`
        select (min(f.seq) - 1)::text as position
        from events e join event_feed f on f.audit_id = e.id
        where e.occurred_at >= ${since.toISOString()}::timestamptz`))
      return row?.position ?? null
    },

    async read (from, { limit, until, pattern }) {
      const bounds: SQL[] = [after(from)]
      if (until) bounds.push(atOrBefore(until))
      // The window is taken first, matching or not, so that a selective pattern still costs at
      // most `limit` rows per read; only matching rows carry their envelope back.
      // The empty key has no words (as RabbitMQ splits it), so no leading dot either.
      const matches = pattern && pattern !== '#' ? sql`coalesce('.' || nullif(${routingKeyColumn}, ''), '') ~ ${topicPatternRegex(pattern)}` : sql`true`
      const rows = rowsOf<Row>(await db.execute(sql`
        with p as (
          select f.seq, e.event_id, e.event_type, e.entity_type, e.entity_id, e.project, e.actor, e.occurred_at, e.data
          from event_feed f join events e on e.id = f.audit_id
          where ${sql.join(bounds, sql` and `)}
          order by f.seq
          limit ${limit}
        )
        select p.seq::text as seq, p.event_id as "eventId", ${routingKeyColumn} as "routingKey",
               case when ${matches} then ${envelopeColumn} || jsonb_build_object('routing_key', ${routingKeyColumn}) end as frame
        from p left join outbox o on o.event_id = p.event_id
        order by p.seq`))
      const events: FeedEvent[] = []
      for (const row of rows) {
        if (row.frame) events.push({ position: row.seq, eventId: row.eventId, routingKey: row.routingKey, frame: row.frame })
      }
      return { events, scanned: rows.length, last: rows.at(-1)?.seq ?? null }
    },

    async countBetween (from, until, cap) {
      const [row] = rowsOf<{ n: number }>(await db.execute(sql`
        select count(*)::int as n from (select 1 from event_feed f where ${after(from)} and ${atOrBefore(until)} limit ${cap}) s`))
      return Number(row!.n)
    },
  }
}
