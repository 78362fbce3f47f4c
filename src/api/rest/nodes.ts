// /api/v1/nodes: the nodes with their state, labels, capacity, agents and runner counts; and
// /api/v1/nodes/{id}/heartbeats: a supervisor's batched heartbeat over HTTP, authenticated with
// its node's credential (Authorization: Bearer). Thin over ctx.nodes and ctx.heartbeats.
import { Type, type Static } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { MAX_BEATS_PER_REPORT } from '../../core/supervisor/heartbeat-service.js'
import { bearerToken } from '../../adapters/system/bearer-token.js'
import { errors } from '../../core/errors.js'
import { problemOf, sendProblem } from '../plugins/problem.js'
import { toNodeDto } from './mappers.js'
import { NodeDto } from './node-schemas.js'
import { Problem, problems } from './schemas.js'

const NodeParams = Type.Object({ id: Type.String({ maxLength: 64 }) })
const count = (description: string) => Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description })
const HeartbeatBody = Type.Object({
  heartbeats: Type.Array(Type.Object({
    runnerId: Type.String({ format: 'uuid' }),
    generation: Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, description: 'the fencing generation the supervisor holds for this runner' }),
    cpuPercent: Type.Number({ minimum: 0, maximum: 1e6 }),
    memoryMb: Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 }),
    inputTokens: count('running total'),
    outputTokens: count('running total'),
    cacheReadTokens: count('running total'),
    cacheCreationTokens: count('running total'),
  }, { additionalProperties: false }), { maxItems: MAX_BEATS_PER_REPORT }),
}, { additionalProperties: false })
const HeartbeatResult = Type.Object({
  accepted: Type.Array(Type.String(), { description: 'recorded' }),
  recovered: Type.Array(Type.String(), { description: 'recorded, and brought back from lost to running' }),
})

// RFC 9457 allows extension members: the refused and the recorded runner ids.
const FencedProblem = Type.Composite([Problem, Type.Object({ fenced: Type.Array(Type.String()), accepted: Type.Array(Type.String()) })])

export const nodeRoutes = async (app: FastifyInstance) => {
  const { ctx } = app

  app.get('/api/v1/nodes', {
    schema: { tags: ['nodes'], summary: 'List nodes: state, labels, capacity, agents and runners', response: { 200: Type.Object({ nodes: Type.Array(Type.Ref(NodeDto)) }), ...problems(503) } },
  }, async () => ({ nodes: (await ctx.nodes.list()).map(toNodeDto) }))

  app.post<{ Params: Static<typeof NodeParams>, Body: Static<typeof HeartbeatBody> }>('/api/v1/nodes/:id/heartbeats', {
    schema: {
      tags: ['nodes'],
      summary: 'Report a node\'s batched heartbeat',
      description: 'One batch per host per interval, timed by the database clock. Authenticate with `Authorization: Bearer <node credential>`. ' +
        'A runner that was finished or restarted elsewhere is refused: 409 `HEARTBEAT_FENCED` lists those runner ids in `details.fenced` ' +
        '(kill their processes); the others in the batch were recorded (`details.accepted`).',
      params: NodeParams,
      body: HeartbeatBody,
      response: {
        200: HeartbeatResult,
        ...problems(400, 401, 403, 404, 503),
        409: { description: 'problem (409): some runners are fenced', content: { 'application/problem+json': { schema: FencedProblem } } },
      },
    },
  }, async (request, reply) => {
    const { accepted, recovered, fenced } = await ctx.heartbeats.report(request.params.id, bearerToken(request.headers.authorization), request.body.heartbeats, request.principal)
    if (fenced.length === 0) return { accepted, recovered }
    const err = errors.heartbeatFenced(fenced, [...accepted, ...recovered])
    return sendProblem(reply, { ...problemOf(409, err.code, err.message, { instance: request.url }), fenced, accepted: [...accepted, ...recovered] } as ReturnType<typeof problemOf>)
  })
}
