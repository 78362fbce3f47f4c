// stratavore.v1.SystemService: status, metrics, reconcile, health and the audit check, over the
// same use cases as /api/v1/status, /metrics, /reconcile, /health and /audit/verify.
import type { ServiceImpl } from '@connectrpc/connect'
import type { Context } from '../../context.js'
import { SystemService } from '../../gen/stratavore/v1/system_pb.js'
import { checkHealth } from '../health.js'
import { AuditVerifyQuery } from '../rest/schemas.js'
import { actorOf } from './actor.js'
import { toAuditVerificationProto, toDaemonStatusProto, toGlobalMetricsProto, toReconcileProto } from './mappers.js'
import { checkShape, defined } from './validate.js'

export const systemService = (ctx: Context): ServiceImpl<typeof SystemService> => ({
  async getStatus () {
    const [daemon, metrics] = await Promise.all([ctx.status.daemon(), ctx.status.metrics()])
    return { daemon: toDaemonStatusProto(daemon), metrics: toGlobalMetricsProto(metrics) }
  },

  async getMetrics () {
    return { metrics: toGlobalMetricsProto(await ctx.status.metrics()) }
  },

  async reconcile (_req, context) {
    return toReconcileProto(await ctx.reconciler.reconcile(actorOf(context)))
  },

  // As GET /api/v1/health: a saturated pool or a failed round trip maps to UNAVAILABLE.
  async health () {
    await checkHealth(ctx)
    return { status: 'OK' }
  },

  async verifyAuditLog (req) {
    const query = checkShape(AuditVerifyQuery, defined({ chain: req.chain, limit: req.limit, after: req.after }))
    return toAuditVerificationProto(await ctx.audit.verify(query))
  },
})
