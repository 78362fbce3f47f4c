// Webhook notifications end to end: events committed through the event log reach a real HTTP
// receiver once each, with retries, a dead-letter that can be retried by hand, HMAC signatures,
// ntfy and Slack bodies, reminders, and across a daemon restart mid-delivery and two daemons
// sharing the database. Runs on PGlite, and on Postgres with STRATAVORE_TEST_DATABASE_URL.
import t from 'tap'
import { createHmac } from 'node:crypto'
import { sql } from 'drizzle-orm'
import type { Config } from '../../src/config.js'
import type { Context } from '../../src/context.js'
import type { DomainEvent, EventType } from '../../src/core/events/event.js'
import { REMINDER_TYPE } from '../../src/core/notifications/notification.js'
import type { NotificationLoop } from '../../src/core/notifications/notification-loop.js'
import type { Webhook } from '../../src/core/notifications/webhook.js'
import { createNotifier } from '../../workers/notifier.js'
import { buildContext } from '../helpers/app.js'
import { backendName, openTestDatabase } from '../helpers/database.js'
import { commitEvents } from '../helpers/events.js'
import { createProject } from '../helpers/fixtures.js'
import { eventually, startWebhookReceiver, type Arrival } from '../helpers/webhook-receiver.js'

type TapTest = Parameters<typeof buildContext>[0]
const SECRET = 'a-webhook-secret-of-some-length'

// A request that times out after the endpoint took it is sent again (same Idempotency-Key): the
// timeouts here are long, so that a slow machine does not make the receiver see a notification twice.
const settings = (webhooks: Webhook[], extra: Partial<Config['notifications']> = {}) => (config: Config) => {
  config.webhooks = webhooks
  Object.assign(config.notifications, { retry_base_ms: 20, retry_cap_ms: 100, timeout_ms: 15_000, ...extra })
}

/** A notifier loop over the context, started once its cursor exists (events from then on are sent). */
const startNotifier = async (t: TapTest, ctx: Context): Promise<NotificationLoop> => {
  const loop = createNotifier(ctx, { pollIntervalMs: 20 })
  loop.start()
  let stopped = false
  t.teardown(() => stopped ? undefined : loop.stop({ force: true }))
  const stop = loop.stop.bind(loop)
  loop.stop = async options => { stopped = true; await stop(options) }
  await eventually('the notification cursor', async () => rowCount(ctx, sql`select 1 from notification_cursor`).then(n => n === 1))
  return loop
}

const rowCount = async (ctx: Context, query: ReturnType<typeof sql>) => {
  const result = await ctx.database.db.execute(query) as unknown as { rows?: unknown[] } | unknown[]
  return (Array.isArray(result) ? result : result.rows ?? []).length
}

// The producer of runner.activity events is built on another branch; these are written through
// the same event log every state change uses, with the fields that producer documents.
const activity = (ctx: Context, project: string, runnerId: string, state: string, since: Date, seq: number): DomainEvent => ({
  eventId: ctx.ids.next(),
  type: 'runner.activity' as EventType,
  occurredAt: ctx.clock.now(),
  project,
  aggregateType: 'runner',
  aggregateId: runnerId,
  seq,
  actor: 'supervisor',
  data: { runnerId, state, previousState: 'working', source: 'hook', detail: state === 'waiting_permission' ? { tool: 'Bash', command: 'rm -rf build' } : '', since: since.toISOString(), resetsAt: null },
})
const appendAll = (ctx: Context, events: DomainEvent[]) => ctx.uow.run(async tx => { for (const e of events) await tx.events.append(e) })

const bodyOf = (a: Arrival) => JSON.parse(a.body) as Record<string, unknown>
const keysOf = (arrivals: Arrival[]) => arrivals.map(a => a.key).sort()

t.test(`webhook notifications on ${backendName()}`, async t => {
  t.test('each notification reaches the receiver once, signed, with its idempotency key', async t => {
    const receiver = await startWebhookReceiver(t)
    const ctx = await buildContext(t, settings([
      { id: 'all', url: receiver.url('/all'), events: ['runner.launched.*', 'project.#'], secret: SECRET, format: 'json' },
      { id: 'none', url: receiver.url('/none'), events: ['budget.#'], secret: null, format: 'json' },
    ]))
    await startNotifier(t, ctx)
    const project = await createProject(t, ctx)
    const launched = await commitEvents(ctx, Array.from({ length: 5 }, () => ({ project: project.name })))
    await eventually('6 notifications (project.created and 5 launches)', () => receiver.receivedAt('/all').length >= 6)
    const got = receiver.receivedAt('/all')
    t.equal(got.length, 6)
    t.equal(new Set(got.map(a => a.key)).size, 6, 'six distinct keys')
    for (const e of launched) t.ok(got.some(a => a.key === `${e.eventId}:all`), `launch ${e.eventId} arrived`)
    t.equal(receiver.arrivals.filter(a => a.path === '/all').length, 6, 'no request was made twice')
    t.equal(receiver.receivedAt('/none').length, 0, 'a webhook whose patterns match nothing gets nothing')
    for (const a of got) {
      const body = bodyOf(a)
      t.equal(body.id, a.key, 'the body carries the idempotency key')
      t.equal(a.headers['x-stratavore-event'], body.type)
      const ts = String(a.headers['x-stratavore-timestamp'])
      const expected = `sha256=${createHmac('sha256', SECRET).update(`${ts}.${a.body}`).digest('hex')}`
      t.equal(a.headers['x-stratavore-signature'], expected, 'the HMAC signature verifies')
    }
    const launch = bodyOf(got.find(a => a.key === `${launched[0]!.eventId}:all`)!)
    t.match(launch, { kind: 'event', type: 'runner.launched', routing_key: `runner.launched.${project.name}`, project: project.name, event: { event_id: launched[0]!.eventId } })
    await eventually('6 deliveries recorded', async () => (await ctx.notifications.list({ status: 'delivered' })).length === 6)
  })

  t.test('an endpoint that is down gets them after retries once it is back', async t => {
    const receiver = await startWebhookReceiver(t)
    receiver.setRespond((_, attempt) => attempt <= 2 ? 503 : 200)
    const ctx = await buildContext(t, settings([{ id: 'flaky', url: receiver.url('/flaky'), events: ['runner.#'], secret: null, format: 'json' }]))
    await startNotifier(t, ctx)
    const project = await createProject(t, ctx)
    const events = await commitEvents(ctx, [{ project: project.name }, { project: project.name }, { project: project.name }])
    await eventually('3 notifications after retries', () => receiver.receivedAt('/flaky').length >= 3)
    t.same(keysOf(receiver.receivedAt('/flaky')), events.map(e => `${e.eventId}:flaky`).sort())
    t.equal(receiver.arrivals.length, 9, 'two refusals and one success each')
    await eventually('3 deliveries recorded', async () => (await ctx.notifications.list({ status: 'delivered' })).length === 3)
    const rows = await ctx.notifications.list({ status: 'delivered' })
    t.same(rows.map(r => [r.attempts, r.lastStatusCode]), [[3, 200], [3, 200], [3, 200]])
  })

  t.test('an endpoint that always fails ends in the dead-letter, and a retry by hand delivers', async t => {
    const receiver = await startWebhookReceiver(t)
    let up = false
    receiver.setRespond(() => up ? 200 : 500)
    const ctx = await buildContext(t, settings([{ id: 'broken', url: receiver.url('/broken'), events: ['runner.#'], secret: null, format: 'json' }], { max_attempts: 3 }))
    await startNotifier(t, ctx)
    const project = await createProject(t, ctx)
    const [event] = await commitEvents(ctx, [{ project: project.name }])
    await eventually('the delivery to die', async () => (await ctx.notifications.list({ status: 'dead' })).length === 1)
    const [dead] = await ctx.notifications.list({ status: 'dead' })
    t.match(dead, { webhookId: 'broken', eventId: event!.eventId, attempts: 3, lastStatusCode: 500, lastError: /HTTP 500/ })
    t.equal(receiver.arrivals.length, 3)
    await t.rejects(ctx.notifications.retry(ctx.ids.next()), { code: 'DELIVERY_NOT_FOUND' })
    up = true
    const retried = await ctx.notifications.retry(dead!.id)
    t.match(retried, { status: 'pending', attempts: 0 })
    await t.rejects(ctx.notifications.retry(dead!.id), { code: 'DELIVERY_NOT_DEAD' })
    await eventually('the retried delivery', () => receiver.received.length === 1)
    t.equal(receiver.received[0]!.key, `${event!.eventId}:broken`)
  })

  t.test('an endpoint that does not answer holds only its own slots: the others get theirs', async t => {
    const receiver = await startWebhookReceiver(t)
    receiver.setRespond(a => a.path === '/stuck' ? 'hold' : 200)
    const ctx = await buildContext(t, settings([
      { id: 'stuck', url: receiver.url('/stuck'), events: ['runner.#'], secret: null, format: 'json' },
      { id: 'fine', url: receiver.url('/fine'), events: ['runner.#'], secret: null, format: 'json' },
    ], { concurrency: 2 }))
    const loop = await startNotifier(t, ctx)
    const project = await createProject(t, ctx)
    const events = await commitEvents(ctx, Array.from({ length: 6 }, () => ({ project: project.name })))
    await eventually('every notification at the answering endpoint', () => receiver.receivedAt('/fine').length === 6)
    t.same(keysOf(receiver.receivedAt('/fine')), events.map(e => `${e.eventId}:fine`).sort())
    t.equal(receiver.held.length, 2, 'the stuck endpoint has its 2 slots in flight, no more')
    const stopping = loop.stop()
    receiver.release(200)
    await stopping
  })

  t.test('ntfy and Slack bodies', async t => {
    const receiver = await startWebhookReceiver(t)
    const ctx = await buildContext(t, settings([
      { id: 'phone', url: receiver.url('/ntfy/topic'), events: ['runner.activity.*'], secret: null, format: 'ntfy' },
      { id: 'chat', url: receiver.url('/slack'), events: ['runner.activity.*'], secret: null, format: 'slack' },
    ], { remind_after_seconds: 0 }))
    await startNotifier(t, ctx)
    const project = await createProject(t, ctx)
    await appendAll(ctx, [activity(ctx, project.name, 'r-0123456789', 'waiting_permission', new Date(), 1)])
    await eventually('both', () => receiver.received.length >= 2)
    const ntfy = receiver.receivedAt('/ntfy/topic')[0]!
    t.match(ntfy.headers['content-type'], /^text\/plain/)
    t.equal(ntfy.headers.title, 'Runner r-012345 waits for you')
    t.equal(ntfy.headers.priority, 'high')
    t.equal(ntfy.headers.tags, 'runner_activity')
    t.equal(ntfy.body, `project ${project.name}: waiting_permission: tool: Bash, command: rm -rf build`)
    const slack = bodyOf(receiver.receivedAt('/slack')[0]!)
    t.equal(slack.text, `*Runner r-012345 waits for you*\nproject ${project.name}: waiting_permission: tool: Bash, command: rm -rf build`)
    t.match(slack.blocks, [{ type: 'section', text: { type: 'mrkdwn', text: slack.text } }])
  })

  t.test('a runner waiting past remind_after_seconds is reminded once; one whose next activity came first is not', async t => {
    const receiver = await startWebhookReceiver(t)
    const ctx = await buildContext(t, settings([{ id: 'me', url: receiver.url('/me'), events: ['runner.activity.*'], secret: null, format: 'json' }], { remind_after_seconds: 1 }))
    const loop = await startNotifier(t, ctx)
    const project = await createProject(t, ctx)
    const longAgo = new Date(Date.now() - 60_000)
    // r2 answered before anyone looked: its waiting event and the next one commit together.
    await appendAll(ctx, [
      activity(ctx, project.name, 'r2', 'waiting_input', longAgo, 1),
      activity(ctx, project.name, 'r2', 'working', new Date(), 2),
    ])
    const [waiting] = [activity(ctx, project.name, 'r1', 'waiting_input', longAgo, 1)]
    await appendAll(ctx, [waiting!])
    await eventually('the reminder of r1', () => receiver.received.some(a => bodyOf(a).type === REMINDER_TYPE))
    await loop.stop()
    const reminders = receiver.received.filter(a => bodyOf(a).type === REMINDER_TYPE)
    t.equal(reminders.length, 1, 'one reminder')
    const reminder = bodyOf(reminders[0]!)
    t.match(reminder, { kind: 'reminder', routing_key: `runner.activity.${project.name}`, data: { runnerId: 'r1', state: 'waiting_input', activityEventId: waiting!.eventId } })
    t.ok(Number((reminder.data as Record<string, unknown>).waitingSeconds) >= 60)
    t.equal(reminders[0]!.key, `reminder:${waiting!.eventId}:me`)
    t.equal(receiver.received.length, 4, 'the three activity events and one reminder')
    // More passes remind no more.
    const again = createNotifier(ctx, { pollIntervalMs: 20 })
    again.start()
    await eventually('a pass', async () => rowCount(ctx, sql`select 1 from notification_cursor where updated_at > now() - interval '1 hour'`).then(n => n === 1))
    await again.stop()
    t.equal(await rowCount(ctx, sql`select 1 from notification_deliveries where kind = 'reminder'`), 1)
  })

  t.test('across a restart mid-delivery: a cut request goes out again with the same key; a graceful stop finishes its own', async t => {
    const receiver = await startWebhookReceiver(t)
    receiver.setRespond(() => 'hold')
    const database = await openTestDatabase(t)
    // The lease is 2 × timeout + 1 s: a request cut by a crash goes out again after 11 s.
    const adjust = settings([{ id: 'hook', url: receiver.url('/hook'), events: ['runner.#'], secret: null, format: 'json' }], { timeout_ms: 5_000 })
    const first = await buildContext(t, adjust, { database })
    const loopA = await startNotifier(t, first)
    const project = await createProject(t, first)
    const events = await commitEvents(first, [{ project: project.name }, { project: project.name }, { project: project.name }])
    await eventually('3 requests in flight', () => receiver.held.length === 3)
    // A forced stop cuts the requests and leaves their rows leased, as a crash would.
    await loopA.stop({ force: true })
    const cut = receiver.held.splice(0).map(h => h.arrival.key).sort()
    receiver.setRespond(() => 200)
    const second = await buildContext(t, adjust, { database })
    const loopB = await startNotifier(t, second)
    await eventually('the cut requests sent again', () => receiver.received.length === 3)
    const expected = events.map(e => `${e.eventId}:hook`).sort()
    t.same(cut, expected, 'the cut requests were these')
    t.same(keysOf(receiver.received), expected, 'each received once, with the same key')

    // A graceful stop waits for its requests and records them: nothing goes out twice.
    receiver.setRespond(() => 'hold')
    const more = await commitEvents(second, [{ project: project.name }, { project: project.name }])
    await eventually('2 more requests in flight', () => receiver.held.length === 2)
    const stopping = loopB.stop()
    receiver.release(200)
    await stopping
    const third = createNotifier(second, { pollIntervalMs: 20 })
    third.start()
    const after = new Date()
    await eventually('a pass of the next daemon', async () => await rowCount(second, sql`select 1 from notification_cursor where updated_at > ${after.toISOString()}::timestamptz`) === 1)
    await third.stop()
    t.same(keysOf(receiver.received), [...expected, ...more.map(e => `${e.eventId}:hook`)].sort())
    t.equal(receiver.arrivals.length, 8, '3 cut, 3 sent again, 2 sent once')
  })

  t.test('two daemons sharing the database send each notification once', async t => {
    const receiver = await startWebhookReceiver(t)
    const database = await openTestDatabase(t)
    const adjust = settings([
      { id: 'one', url: receiver.url('/one'), events: ['runner.#'], secret: null, format: 'json' },
      { id: 'two', url: receiver.url('/two'), events: ['#'], secret: SECRET, format: 'slack' },
    ])
    const a = await buildContext(t, adjust, { database })
    const b = await buildContext(t, adjust, { database })
    await startNotifier(t, a)
    await startNotifier(t, b)
    const project = await createProject(t, a)
    const events = await Promise.all([
      commitEvents(a, Array.from({ length: 10 }, () => ({ project: project.name }))),
      commitEvents(b, Array.from({ length: 10 }, () => ({ project: project.name }))),
    ]).then(lists => lists.flat())
    await eventually('40 notifications (and project.created at /two)', () => receiver.received.length >= 41)
    t.same(keysOf(receiver.receivedAt('/one')), events.map(e => `${e.eventId}:one`).sort())
    t.equal(receiver.receivedAt('/two').length, 21)
    t.equal(new Set(receiver.receivedAt('/two').map(a => a.key)).size, 21)
    t.equal(receiver.arrivals.length, 41, 'no request was made twice')
  })
})
