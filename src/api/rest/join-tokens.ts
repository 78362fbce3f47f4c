// /api/v1/nodes/join-tokens (admin): make, list and revoke the tokens a new host joins with; and
// /api/v1/nodes/join (public: the join token in the body is the credential), where a host's
// supervisor trades one for its node and node credential. Secrets are in the 201 bodies and
// nowhere else, ever. Thin handlers over ctx.joinTokens.
import { Type, type Static } from '@sinclair/typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { MAX_JOIN_TTL_SECONDS, MAX_JOIN_USES } from '../../core/nodes/join-token-service.js'
import { joinCommand } from '../../core/nodes/node.js'
import { toJoinTokenDto } from './mappers.js'
import { JoinBody, JoinTokenDto, LabelsSchema } from './node-schemas.js'
import { problems } from './schemas.js'

const tags = ['nodes']

const CreateJoinTokenBody = Type.Object({
  ttlSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: MAX_JOIN_TTL_SECONDS, description: 'lifetime from now (default 3600)' })),
  maxUses: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_JOIN_USES, description: 'how many hosts may join with it (default 1)' })),
  labels: Type.Optional(LabelsSchema('put on every node that joins with it')),
}, { additionalProperties: false })
const ListQuery = Type.Object({ includeDead: Type.Optional(Type.Boolean({ default: false, description: 'also expired, used-up and revoked ones' })) }, { additionalProperties: false })
const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) })

/** The URL a new host reaches this API at: daemon.public_url, else the one this request used. */
export const serverUrlOf = (publicUrl: string, request: FastifyRequest) => (publicUrl || `${request.protocol}://${request.host}`).replace(/\/$/, '')

export const joinTokenRoutes = async (app: FastifyInstance) => {
  const { ctx } = app

  app.post<{ Body: Static<typeof CreateJoinTokenBody> }>('/api/v1/nodes/join-tokens', {
    schema: {
      tags,
      summary: 'Create a join token for a new host (the token is shown once)',
      body: CreateJoinTokenBody,
      response: {
        201: Type.Object({
          joinToken: Type.Ref(JoinTokenDto),
          token: Type.String({ description: 'the secret: give it to the new host' }),
          command: Type.String({ description: 'what to run on the new host' }),
        }),
        ...problems(400, 413, 415, 503),
      },
    },
  }, async (request, reply) => {
    const { joinToken, secret } = await ctx.joinTokens.create(request.body, request.actor)
    const command = joinCommand(serverUrlOf(ctx.config.daemon.public_url, request), secret)
    return reply.code(201).header('cache-control', 'no-store').send({ joinToken: toJoinTokenDto(joinToken), token: secret, command })
  })

  app.get<{ Querystring: Static<typeof ListQuery> }>('/api/v1/nodes/join-tokens', {
    schema: { tags, summary: 'List join tokens (never their secrets)', querystring: ListQuery, response: { 200: Type.Object({ joinTokens: Type.Array(Type.Ref(JoinTokenDto)) }), ...problems(400, 503) } },
  }, async request => ({ joinTokens: (await ctx.joinTokens.list({ includeDead: request.query.includeDead ?? false })).map(toJoinTokenDto) }))

  app.delete<{ Params: Static<typeof IdParams> }>('/api/v1/nodes/join-tokens/:id', {
    schema: { tags, summary: 'Revoke a join token (nodes that joined with it stay)', params: IdParams, response: { 200: Type.Object({ joinToken: Type.Ref(JoinTokenDto) }), ...problems(400, 404, 503) } },
  }, async request => ({ joinToken: toJoinTokenDto(await ctx.joinTokens.revoke(request.params.id, request.actor)) }))

  app.post<{ Body: Static<typeof JoinBody> }>('/api/v1/nodes/join', {
    schema: {
      tags,
      summary: 'Join: trade a join token for a node and its credential (shown once)',
      description: 'Needs no Authorization header: the join token in the body is the credential (rate-limited per client address). ' +
        'The node is `down` until its supervisor registers with the credential. An expired, used-up, revoked or unknown token: 401 ' +
        '`JOIN_TOKEN_EXPIRED`, `JOIN_TOKEN_USED_UP`, `JOIN_TOKEN_REVOKED`, `JOIN_TOKEN_INVALID`; a name already taken: 409 `NODE_NAME_TAKEN`.',
      body: JoinBody,
      response: {
        201: Type.Object({
          nodeId: Type.String({ format: 'uuid' }),
          name: Type.String(),
          credential: Type.String({ description: 'the node credential: keep it (0600) as {id, credential} in <data_dir>/node-identity.json' }),
        }),
        ...problems(400, 401, 409, 413, 415, 429, 503),
      },
    },
  }, async (request, reply) => {
    const { node, credential } = await ctx.joinTokens.join(request.body)
    return reply.code(201).header('cache-control', 'no-store').send({ nodeId: node.id, name: node.name, credential })
  })
}
