// /api/v1/notifications: the webhook deliveries (admin: their bodies hold every event's data),
// the dead-letter among them, retrying a dead one by hand, and the configured webhooks with
// their secrets masked. Thin handlers over ctx.notifications.
import { Type, type Static } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { redactedWebhooks } from '../../config-notifications.js'
import { DELIVERY_STATUSES } from '../../core/notifications/ports.js'
import { WEBHOOK_FORMATS } from '../../core/notifications/webhook.js'
import { toDeliveryDto } from './mappers.js'
import { problems } from './schemas.js'

const tags = ['notifications']

export const DeliveryDto = Type.Object({
  id: Type.String({ format: 'uuid' }),
  idempotencyKey: Type.String({ description: 'sent as the Idempotency-Key header: `<event id>:<webhook id>`, a reminder `reminder:<event id>:<webhook id>`' }),
  webhookId: Type.String(),
  kind: Type.Union([Type.Literal('event'), Type.Literal('reminder')]),
  eventId: Type.String({ format: 'uuid' }),
  type: Type.String({ description: 'the event type, or runner.activity.reminder' }),
  routingKey: Type.String(),
  status: Type.Union(DELIVERY_STATUSES.map(s => Type.Literal(s))),
  attempts: Type.Integer(),
  maxAttempts: Type.Integer(),
  nextAttemptAt: Type.String({ format: 'date-time' }),
  lastError: Type.Union([Type.String(), Type.Null()]),
  lastStatusCode: Type.Union([Type.Integer(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  deliveredAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  deadAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
}, { $id: 'NotificationDelivery' })
export type DeliveryDto = Static<typeof DeliveryDto>

const WebhookDto = Type.Object({
  id: Type.String(),
  url: Type.String({ description: 'user info and query masked' }),
  events: Type.Array(Type.String()),
  secret: Type.Union([Type.Literal('***'), Type.Null()]),
  format: Type.Union(WEBHOOK_FORMATS.map(f => Type.Literal(f))),
})

const DeliveryListQuery = Type.Object({
  status: Type.Optional(Type.Union(DELIVERY_STATUSES.map(s => Type.Literal(s)))),
  webhook: Type.Optional(Type.String({ maxLength: 64 })),
  before: Type.Optional(Type.String({ format: 'uuid', description: 'the last id of the previous page' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
}, { additionalProperties: false })
const DeliveryParams = Type.Object({ id: Type.String({ format: 'uuid' }) })

export const notificationRoutes = async (app: FastifyInstance) => {
  const { ctx } = app

  app.get<{ Querystring: Static<typeof DeliveryListQuery> }>('/api/v1/notifications/deliveries', {
    schema: {
      tags,
      summary: 'List webhook deliveries, newest first (status=dead: the dead-letter)',
      querystring: DeliveryListQuery,
      response: { 200: Type.Object({ deliveries: Type.Array(Type.Ref(DeliveryDto)) }), ...problems(400, 503) },
    },
  }, async request => {
    const { status, webhook, before, limit } = request.query
    const list = await ctx.notifications.list({ ...(status ? { status } : {}), ...(webhook ? { webhookId: webhook } : {}), ...(before ? { before } : {}), ...(limit ? { limit } : {}) })
    return { deliveries: list.map(toDeliveryDto) }
  })

  app.post<{ Params: Static<typeof DeliveryParams> }>('/api/v1/notifications/deliveries/:id/retry', {
    schema: {
      tags,
      summary: 'Send a dead delivery again (its attempts start over)',
      params: DeliveryParams,
      response: { 200: Type.Object({ delivery: Type.Ref(DeliveryDto) }), ...problems(400, 404, 409, 503) },
    },
  }, async request => ({ delivery: toDeliveryDto(await ctx.notifications.retry(request.params.id)) }))

  app.get('/api/v1/notifications/webhooks', {
    schema: { tags, summary: 'The configured webhooks, secrets masked', response: { 200: Type.Object({ webhooks: Type.Array(WebhookDto) }), ...problems(503) } },
  }, async () => ({ webhooks: redactedWebhooks(ctx.config.webhooks) }))
}
