// /api/v1/tokens: named API tokens (admin only). The secret is in the 201 body and nowhere
// else, ever. Thin handlers over ctx.tokens.
import { Type, type Static } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { GRANTABLE_ROLES, TOKEN_NAME_PATTERN } from '../../core/auth/token-service.js'
import { toTokenDto } from './mappers.js'
import { problems } from './schemas.js'

const tags = ['tokens']

export const TokenDto = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String({ description: 'the subject: what audit rows and events record as the actor' }),
  role: Type.Union(GRANTABLE_ROLES.map(r => Type.Literal(r))),
  description: Type.String(),
  createdBy: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
}, { $id: 'ApiToken' })
export type TokenDto = Static<typeof TokenDto>

const CreateTokenBody = Type.Object({
  name: Type.String({ pattern: TOKEN_NAME_PATTERN, maxLength: 63 }),
  role: Type.Union(GRANTABLE_ROLES.map(r => Type.Literal(r))),
  description: Type.Optional(Type.String({ maxLength: 1024 })),
  ttlSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 10 * 365 * 86_400, description: 'lifetime from now; none: until revoked' })),
}, { additionalProperties: false })
const TokenListQuery = Type.Object({ includeRevoked: Type.Optional(Type.Boolean({ default: false })) }, { additionalProperties: false })
const TokenParams = Type.Object({ id: Type.String({ format: 'uuid' }) })

export const tokenRoutes = async (app: FastifyInstance) => {
  const { ctx } = app

  app.post<{ Body: Static<typeof CreateTokenBody> }>('/api/v1/tokens', {
    schema: {
      tags,
      summary: 'Create a token (the secret is shown once)',
      body: CreateTokenBody,
      response: { 201: Type.Object({ token: Type.Ref(TokenDto), secret: Type.String({ description: 'send as Authorization: Bearer <secret>' }) }), ...problems(400, 409, 413, 415, 503) },
    },
  }, async (request, reply) => {
    const { token, secret } = await ctx.tokens.create(request.body, request.actor)
    return reply.code(201).header('cache-control', 'no-store').send({ token: toTokenDto(token), secret })
  })

  app.get<{ Querystring: Static<typeof TokenListQuery> }>('/api/v1/tokens', {
    schema: { tags, summary: 'List tokens (never their secrets)', querystring: TokenListQuery, response: { 200: Type.Object({ tokens: Type.Array(Type.Ref(TokenDto)) }), ...problems(400, 503) } },
  }, async request => ({ tokens: (await ctx.tokens.list({ includeRevoked: request.query.includeRevoked ?? false })).map(toTokenDto) }))

  app.delete<{ Params: Static<typeof TokenParams> }>('/api/v1/tokens/:id', {
    schema: {
      tags,
      summary: 'Revoke a token, at once on every daemon (its open WebSockets close with 4401)',
      params: TokenParams,
      response: { 200: Type.Object({ token: Type.Ref(TokenDto) }), ...problems(400, 404, 503) },
    },
  }, async request => ({ token: toTokenDto(await ctx.tokens.revoke(request.params.id, request.actor)) }))
}
