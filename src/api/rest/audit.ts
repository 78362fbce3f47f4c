// /api/v1/audit: checks the audit log's HMAC chains (ctx.audit). Reading is paged inside the
// use case, so a long history costs time, not memory; the answer names the first broken row.
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
      summary: 'Verify the audit log: every chain, or one, up to the first broken row',
      description: 'Detects edited, deleted, inserted, reordered and unsigned rows, and rows signed with a key this daemon does not have. ' +
        'Removing the newest rows of a chain is not detectable from the rows alone.',
      querystring: AuditVerifyQuery,
      response: { 200: Type.Ref(AuditVerificationDto), ...problems(400, 503) },
    },
  }, async request => toAuditVerificationDto(await ctx.audit.verify(request.query.chain !== undefined ? { chain: request.query.chain } : {})))
}
