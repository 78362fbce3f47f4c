// The dead-letter over REST: GET /api/v1/notifications/deliveries?status=dead and the retry by
// hand, admin only; bad input is a 4xx that changes nothing.
import t from 'tap'
import type { Context } from '../../src/context.js'
import { bearer, build } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'

const addDead = async (ctx: Context) => {
  const id = ctx.ids.next()
  await ctx.repos.notifications.enqueue([{
    id, idempotencyKey: `${ctx.ids.next()}:hook`, webhookId: 'hook', kind: 'event', eventId: ctx.ids.next(), eventType: 'runner.failed',
    routingKey: 'runner.failed.p', payload: { type: 'runner.failed', project: 'p', occurred_at: new Date().toISOString(), data: {} }, maxAttempts: 1,
  }])
  const [claimed] = await ctx.repos.notifications.claim('hook', 1, ctx.ids.next(), 60_000)
  await ctx.repos.notifications.markFailed(claimed!.id, (await leaseOf(ctx, claimed!.id)), { error: 'HTTP 500', statusCode: 500, retryInMs: 0, dead: true })
  return id
}
// The lease id is not returned by claim; the test reads it back as the deliverer keeps it.
const leaseOf = async (ctx: Context, id: string) => {
  const { sql } = await import('drizzle-orm')
  const result = await ctx.database.db.execute(sql`select lease_id::text as lease from notification_deliveries where id = ${id}::uuid`) as unknown as { rows?: Array<{ lease: string }> } | Array<{ lease: string }>
  return (Array.isArray(result) ? result : result.rows!)[0]!.lease
}

t.test(`notification deliveries over REST on ${backendName()}`, async t => {
  const { app, ctx } = await build(t, config => {
    config.webhooks = [{ id: 'hook', url: 'https://user:pw@hooks.example.com/x?token=abc', events: ['runner.#'], secret: 'a-secret-of-enough-length', format: 'slack' }]
  })
  const id = await addDead(ctx)

  const dead = await app.inject({ method: 'GET', url: '/api/v1/notifications/deliveries?status=dead' })
  t.equal(dead.statusCode, 200)
  t.match(dead.json().deliveries, [{ id, webhookId: 'hook', status: 'dead', attempts: 1, lastStatusCode: 500, lastError: 'HTTP 500', type: 'runner.failed' }])
  t.same((await app.inject({ method: 'GET', url: '/api/v1/notifications/deliveries?status=delivered' })).json().deliveries, [])
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/notifications/deliveries?status=lost' })).statusCode, 400)

  const viewer = await ctx.tokens.create({ name: 'viewer-1', role: 'viewer' }, 'test')
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/notifications/deliveries', headers: bearer(viewer.secret) })).statusCode, 403)
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/notifications/deliveries/${id}/retry`, headers: bearer(viewer.secret) })).statusCode, 403)

  t.equal((await app.inject({ method: 'POST', url: '/api/v1/notifications/deliveries/not-a-uuid/retry' })).statusCode, 400)
  const missing = await app.inject({ method: 'POST', url: `/api/v1/notifications/deliveries/${ctx.ids.next()}/retry` })
  t.match(missing, { statusCode: 404 })
  t.equal(missing.json().code, 'DELIVERY_NOT_FOUND')

  const retried = await app.inject({ method: 'POST', url: `/api/v1/notifications/deliveries/${id}/retry` })
  t.equal(retried.statusCode, 200)
  t.match(retried.json().delivery, { id, status: 'pending', attempts: 0, deadAt: null })
  const again = await app.inject({ method: 'POST', url: `/api/v1/notifications/deliveries/${id}/retry` })
  t.equal(again.statusCode, 409)
  t.equal(again.json().code, 'DELIVERY_NOT_DEAD')

  const webhooks = await app.inject({ method: 'GET', url: '/api/v1/notifications/webhooks' })
  t.equal(webhooks.statusCode, 200)
  t.same(webhooks.json().webhooks, [{ id: 'hook', url: 'https://***@hooks.example.com/x?***', events: ['runner.#'], secret: '***', format: 'slack' }])
})
