// Webhook notifications' rows (schema.ts: notification_cursor, notification_deliveries,
// notification_reminders). The fan-out runs under the cursor row's lock; deliveries are
// claimed with FOR UPDATE SKIP LOCKED and leased, so daemons sharing the database split the
// work and never send one delivery at the same time.
import { sql } from 'drizzle-orm'
import type { DeliveryStatus, LoggedEvent, NotificationDelivery, NotificationRepository, PendingReminder } from '../../../core/notifications/ports.js'
import { rowsOf, type Db } from '../client.js'
import { envelopeColumn, routingKeyColumn } from './event-feed.js'

const COLUMNS: Array<[string, string]> = [
  ['id', 'id'], ['idempotency_key', 'idempotencyKey'], ['webhook_id', 'webhookId'], ['kind', 'kind'], ['event_id', 'eventId'],
  ['event_type', 'eventType'], ['routing_key', 'routingKey'], ['payload', 'payload'], ['status', 'status'], ['attempts', 'attempts'],
  ['max_attempts', 'maxAttempts'], ['next_attempt_at', 'nextAttemptAt'], ['last_error', 'lastError'], ['last_status_code', 'lastStatusCode'],
  ['created_at', 'createdAt'], ['delivered_at', 'deliveredAt'], ['dead_at', 'deadAt'],
]
// The columns, qualified by a table alias when one is given.
const deliveryColumnsOf = (alias?: string) => sql.join(COLUMNS.map(([column, field]) =>
  sql`${alias ? sql`${sql.identifier(alias)}.` : sql``}${sql.identifier(column)} as ${sql.identifier(field)}`), sql`, `)
const deliveryColumns = deliveryColumnsOf()

type Raw = Record<string, unknown>
const date = (v: unknown) => v === null || v === undefined ? null : new Date(v as string)
const toDelivery = (r: Raw): NotificationDelivery => ({
  id: String(r.id),
  idempotencyKey: String(r.idempotencyKey),
  webhookId: String(r.webhookId),
  kind: r.kind as NotificationDelivery['kind'],
  eventId: String(r.eventId),
  eventType: String(r.eventType),
  routingKey: String(r.routingKey),
  payload: (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload) as Record<string, unknown>,
  status: r.status as DeliveryStatus,
  attempts: Number(r.attempts),
  maxAttempts: Number(r.maxAttempts),
  nextAttemptAt: date(r.nextAttemptAt)!,
  lastError: (r.lastError as string | null) ?? null,
  lastStatusCode: r.lastStatusCode === null || r.lastStatusCode === undefined ? null : Number(r.lastStatusCode),
  createdAt: date(r.createdAt)!,
  deliveredAt: date(r.deliveredAt),
  deadAt: date(r.deadAt),
})

export const createNotificationRepository = (db: Db): NotificationRepository => ({
  async initCursor (position) {
    await db.execute(sql`insert into notification_cursor (one, position) values (true, ${position}::bigint) on conflict (one) do nothing`)
  },

  async lockCursor () {
    const [row] = rowsOf<{ position: string }>(await db.execute(sql`select position::text as position from notification_cursor for update skip locked`))
    return row?.position ?? null
  },

  async moveCursor (position) {
    await db.execute(sql`update notification_cursor set position = ${position}::bigint, updated_at = now()`)
  },

  async readEvents (after, until, limit) {
    const rows = rowsOf<Raw>(await db.execute(sql`
      with p as (
        select f.seq, e.event_id, e.event_type, e.entity_type, e.entity_id, e.project, e.actor, e.occurred_at, e.data
        from event_feed f join events e on e.id = f.audit_id
        where f.seq > ${after}::bigint and f.seq <= ${until}::bigint
        order by f.seq
        limit ${limit}
      )
      select p.seq::text as position, p.event_id as "eventId", p.event_type as type, ${routingKeyColumn} as "routingKey",
             coalesce(p.project, '') as project, p.entity_id as "aggregateId", p.occurred_at as "occurredAt", p.data,
             ${envelopeColumn} || jsonb_build_object('routing_key', ${routingKeyColumn}) as envelope
      from p left join outbox o on o.event_id = p.event_id
      order by p.seq`))
    return rows.map((r): LoggedEvent => ({
      position: String(r.position),
      eventId: String(r.eventId),
      type: String(r.type),
      routingKey: String(r.routingKey),
      project: String(r.project),
      aggregateId: String(r.aggregateId),
      occurredAt: new Date(r.occurredAt as string),
      data: (r.data ?? {}) as Record<string, unknown>,
      envelope: r.envelope as Record<string, unknown>,
    }))
  },

  async enqueue (deliveries) {
    if (deliveries.length === 0) return 0
    const input = JSON.stringify(deliveries.map(d => ({
      id: d.id, idempotency_key: d.idempotencyKey, webhook_id: d.webhookId, kind: d.kind, event_id: d.eventId,
      event_type: d.eventType, routing_key: d.routingKey, payload: d.payload, max_attempts: d.maxAttempts,
    })))
    const rows = rowsOf(await db.execute(sql`
      insert into notification_deliveries (id, idempotency_key, webhook_id, kind, event_id, event_type, routing_key, payload, max_attempts)
        select id, idempotency_key, webhook_id, kind, event_id, event_type, routing_key, payload, max_attempts
        from jsonb_to_recordset(${input}::jsonb) as x(id uuid, idempotency_key text, webhook_id text, kind text, event_id uuid,
          event_type text, routing_key text, payload jsonb, max_attempts int)
      on conflict (idempotency_key) do nothing
      returning id`))
    return rows.length
  },

  async scheduleReminder (r) {
    await db.execute(sql`
      insert into notification_reminders (runner_id, event_id, project, state, data, since, due_at)
      values (${r.runnerId}, ${r.eventId}, ${r.project}, ${r.state}, ${JSON.stringify(r.data)}::jsonb, ${r.since.toISOString()}::timestamptz, ${r.dueAt.toISOString()}::timestamptz)
      on conflict (runner_id) do update set event_id = excluded.event_id, project = excluded.project, state = excluded.state,
        data = excluded.data, since = excluded.since, due_at = excluded.due_at, fired_at = null`)
  },

  async cancelReminder (runnerId) {
    await db.execute(sql`delete from notification_reminders where runner_id = ${runnerId}`)
  },

  async takeDueReminders (limit) {
    const rows = rowsOf<Raw>(await db.execute(sql`
      with picked as materialized (
        select runner_id from notification_reminders where fired_at is null and due_at <= now()
        order by due_at limit ${limit} for update skip locked)
      update notification_reminders r set fired_at = now()
      from picked where r.runner_id = picked.runner_id
      returning r.runner_id as "runnerId", r.event_id as "eventId", r.project, r.state, r.data, r.since,
        extract(epoch from now() - r.since)::float8 as "waitingSeconds"`))
    return rows.map((r): PendingReminder => ({
      runnerId: String(r.runnerId),
      eventId: String(r.eventId),
      project: String(r.project),
      state: String(r.state),
      data: (r.data ?? {}) as Record<string, unknown>,
      since: new Date(r.since as string),
      waitingSeconds: Number(r.waitingSeconds),
    }))
  },

  async claim (webhookId, limit, leaseId, leaseMs) {
    // Due pending rows, and rows whose sender died mid-request (lease ended), oldest due first.
    // The rows are picked in a CTE of their own: as `where id in (select … limit n)` the
    // subquery may run more than once and the update take more than n rows (seen on PGlite).
    const rows = rowsOf<Raw>(await db.execute(sql`
      with picked as materialized (
        select id from notification_deliveries
        where webhook_id = ${webhookId}
          and ((status = 'pending' and next_attempt_at <= now()) or (status = 'sending' and lease_until < now()))
        order by case when status = 'pending' then next_attempt_at else lease_until end, id
        limit ${limit} for update skip locked)
      update notification_deliveries d set status = 'sending', lease_id = ${leaseId}::uuid,
        lease_until = now() + make_interval(secs => ${leaseMs / 1000})
      from picked where d.id = picked.id
      returning ${deliveryColumnsOf('d')}`))
    return rows.map(toDelivery)
  },

  async markDelivered (id, leaseId, statusCode) {
    const rows = rowsOf(await db.execute(sql`
      update notification_deliveries set status = 'delivered', delivered_at = now(), last_status_code = ${statusCode},
        attempts = attempts + 1, lease_id = null, lease_until = null
      where id = ${id}::uuid and status = 'sending' and lease_id = ${leaseId}::uuid
      returning id`))
    return rows.length > 0
  },

  async markFailed (id, leaseId, { error, statusCode, retryInMs, dead }) {
    const rows = rowsOf(await db.execute(sql`
      update notification_deliveries set
        status = ${dead ? 'dead' : 'pending'}, attempts = attempts + 1, last_error = ${error.slice(0, 2000)},
        last_status_code = ${statusCode}, next_attempt_at = now() + make_interval(secs => ${retryInMs / 1000}),
        dead_at = ${dead ? sql`now()` : sql`null`}, lease_id = null, lease_until = null
      where id = ${id}::uuid and status = 'sending' and lease_id = ${leaseId}::uuid
      returning id`))
    return rows.length > 0
  },

  async list ({ status, webhookId, before, limit }) {
    const conditions = [sql`true`]
    if (status) conditions.push(sql`status = ${status}`)
    if (webhookId) conditions.push(sql`webhook_id = ${webhookId}`)
    if (before) conditions.push(sql`id < ${before}::uuid`)
    const rows = rowsOf<Raw>(await db.execute(sql`
      select ${deliveryColumns} from notification_deliveries where ${sql.join(conditions, sql` and `)} order by id desc limit ${limit}`))
    return rows.map(toDelivery)
  },

  async find (id) {
    const [row] = rowsOf<Raw>(await db.execute(sql`select ${deliveryColumns} from notification_deliveries where id = ${id}::uuid`))
    return row ? toDelivery(row) : null
  },

  async retryDead (id) {
    const [row] = rowsOf<Raw>(await db.execute(sql`
      update notification_deliveries set status = 'pending', attempts = 0, next_attempt_at = now(), dead_at = null
      where id = ${id}::uuid and status = 'dead'
      returning ${deliveryColumns}`))
    return row ? toDelivery(row) : null
  },
})
