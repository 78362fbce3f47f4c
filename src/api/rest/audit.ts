// /api/v1/audit: checks the audit log's HMAC chains and compares them with the newest signed
// checkpoint (ctx.audit). Reading is paged inside the use case, so a long history costs time,
// not memory; `limit` and `after` split it across requests. The answer names the first broken
// row and what went missing.
import type { Static } from '@sinclair/typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { toAuditVerificationDto } from './mappers.js'
import { AuditVerificationDto, AuditVerifyQuery, problems } from './schemas.js'

const tags = ['audit']

export const auditRoutes = async (app: FastifyInstance) => {
  const { ctx } = app

  app.get<{ Querystring: Static<typeof AuditVerifyQuery> }>('/api/v1/audit/verify', {
    schema: {
      tags,
      summary: 'Verify the audit log: every chain, or one, up to the first broken row, and against the newest checkpoint',
      description: 'Detects edited, deleted, inserted, reordered and unsigned rows, and rows signed with a key this daemon does not have; ' +
        'compared with the newest signed checkpoint in this daemon\'s data dir, also rows cut off the end of a chain, deleted chains and an ' +
        'emptied log (findings). With `limit`, stops after that many rows and answers `next`: pass it as `after` to go on ' +
        '(the checkpoint comparison runs on the request without `after`).',
      querystring: AuditVerifyQuery,
      response: { 200: Type.Ref(AuditVerificationDto), ...problems(400, 503) },
    },
  }, async request => toAuditVerificationDto(await ctx.audit.verify(request.query)))
}
