// stratavore.v1.SessionService: thin handlers over ctx.sessions, the use cases behind
// /api/v1/sessions, checked with the same schemas.
import type { ServiceImpl } from '@connectrpc/connect'
import type { Context } from '../../context.js'
import { SessionService } from '../../gen/stratavore/v1/session_pb.js'
import { SessionListQuery, SessionParams } from '../rest/schemas.js'
import { toSessionProto } from './mappers.js'
import { checkShape, defined } from './validate.js'

export const sessionService = (ctx: Context): ServiceImpl<typeof SessionService> => ({
  async listSessions (req) {
    const { resumable, ...rest } = checkShape(SessionListQuery, defined({
      project: req.project,
      runnerId: req.runnerId,
      resumable: req.resumable,
      limit: req.limit,
    }))
    return { sessions: (await ctx.sessions.list({ ...rest, ...(resumable !== undefined ? { resumableOnly: resumable } : {}) })).map(toSessionProto) }
  },

  async getSession (req) {
    return { session: toSessionProto(await ctx.sessions.get(checkShape(SessionParams, { id: req.id }).id)) }
  },

  async * exportSessionTranscript (req) {
    const transcript = await ctx.sessions.transcript(checkShape(SessionParams, { id: req.id }).id)
    let first = true
    for await (const data of transcript.chunks) {
      yield first ? { data, fileName: transcript.fileName, totalBytes: BigInt(transcript.bytes) } : { data }
      first = false
    }
  },
})
