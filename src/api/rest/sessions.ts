// /api/v1/sessions: thin handlers over ctx.sessions.
import type { Static } from '@sinclair/typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { toSessionDto } from './mappers.js'
import { SessionDto, SessionListQuery, SessionParams, problems } from './schemas.js'

const tags = ['sessions']

export const sessionRoutes = async (app: FastifyInstance) => {
  const { ctx } = app

  app.get<{ Querystring: Static<typeof SessionListQuery> }>('/api/v1/sessions', {
    schema: { tags, summary: 'List sessions, most recently active first', querystring: SessionListQuery, response: { 200: Type.Object({ sessions: Type.Array(Type.Ref(SessionDto)) }), ...problems(400, 404, 503) } },
  }, async request => {
    const { resumable, ...rest } = request.query
    return { sessions: (await ctx.sessions.list({ ...rest, ...(resumable !== undefined ? { resumableOnly: resumable } : {}) })).map(toSessionDto) }
  })

  app.get<{ Params: Static<typeof SessionParams> }>('/api/v1/sessions/:id', {
    schema: { tags, summary: 'Get a session', params: SessionParams, response: { 200: Type.Ref(SessionDto), ...problems(400, 404, 503) } },
  }, async request => toSessionDto(await ctx.sessions.get(request.params.id)))
}
