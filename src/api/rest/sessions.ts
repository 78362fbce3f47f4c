// /api/v1/sessions: thin handlers over ctx.sessions.
import type { Static } from '@sinclair/typebox'
import { Type } from '@sinclair/typebox'
import { Readable } from 'node:stream'
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

  app.get<{ Params: Static<typeof SessionParams> }>('/api/v1/sessions/:id/transcript', {
    schema: {
      tags,
      summary: 'A session\'s archived transcript',
      description: 'The agent\'s transcript (Claude Code JSONL, Codex rollout) as its CLI wrote it, archived by the supervisor up to its last heartbeat. ' +
        '404 TRANSCRIPT_NOT_ARCHIVED when nothing is archived; 409 TRANSCRIPT_OVER_ARCHIVE_LIMIT when it grew past `sessions.archive_max_bytes`.',
      params: SessionParams,
      response: { 200: { description: 'the transcript, one JSON record a line', content: { 'application/x-ndjson': { schema: { type: 'string' } } } }, ...problems(400, 404, 409, 503) },
    },
  }, async (request, reply) => {
    const transcript = await ctx.sessions.transcript(request.params.id)
    return reply
      .type('application/x-ndjson')
      .header('content-length', transcript.bytes)
      .header('content-disposition', `attachment; filename="${transcript.fileName.replace(/[^A-Za-z0-9._-]/g, '_')}"`)
      .send(Readable.from(transcript.chunks))
  })
}
