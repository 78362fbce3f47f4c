// The one Connect router of Stratavore: every stratavore.v1 service, registered once here and
// served twice with the same options, by Fastify on the HTTP port (src/api/rpc/plugin.ts:
// Connect, gRPC-Web) and by the HTTP/2 server on daemon.grpc_port (src/api/grpc-server.ts:
// Connect, gRPC, gRPC-Web).
import type { ConnectRouter, ConnectRouterOptions } from '@connectrpc/connect'
import { compressionBrotli, compressionGzip } from '@connectrpc/connect-node'
import type { Context } from '../../context.js'
import { BudgetService } from '../../gen/stratavore/v1/budget_pb.js'
import { EventService } from '../../gen/stratavore/v1/event_service_pb.js'
import { NodeService } from '../../gen/stratavore/v1/node_pb.js'
import { ProjectService } from '../../gen/stratavore/v1/project_pb.js'
import { RunnerService } from '../../gen/stratavore/v1/runner_pb.js'
import { SessionService } from '../../gen/stratavore/v1/session_pb.js'
import { SupervisionService } from '../../gen/stratavore/v1/supervision_pb.js'
import { SystemService } from '../../gen/stratavore/v1/system_pb.js'
import { TokenService } from '../../gen/stratavore/v1/token_pb.js'
import { rateLimiterOf } from '../rate-limit.js'
import { authInterceptor } from './auth.js'
import { budgetService } from './budgets.js'
import { errorInterceptor } from './errors.js'
import { metricsInterceptor } from './metrics.js'
import { eventService } from './events.js'
import { nodeService } from './nodes.js'
import { projectService } from './projects.js'
import { runnerService } from './runners.js'
import { sessionService } from './sessions.js'
import { supervisionService } from './supervision.js'
import { systemService } from './system.js'
import { tokenService } from './tokens.js'

export interface RpcDeps {
  ctx: Context
  /** Aborted when the server begins to shut down: open streams end with UNAVAILABLE. */
  closing: AbortSignal
}

export const routes = ({ ctx, closing }: RpcDeps) => (router: ConnectRouter) => {
  router.service(ProjectService, projectService(ctx))
  router.service(RunnerService, runnerService(ctx))
  router.service(SessionService, sessionService(ctx))
  router.service(SystemService, systemService(ctx))
  router.service(EventService, eventService(ctx, { closing }))
  router.service(NodeService, nodeService(ctx))
  router.service(TokenService, tokenService(ctx))
  router.service(BudgetService, budgetService(ctx))
  router.service(SupervisionService, supervisionService(ctx))
}

/** Options both servers share: limits as REST's, and the one error mapping. */
export const routerOptions = (ctx: Context): ConnectRouterOptions => ({
  // A request message may be as large as a REST body; larger ones get RESOURCE_EXHAUSTED
  // before they are parsed.
  readMaxBytes: ctx.config.daemon.body_limit_bytes,
  acceptCompression: [compressionGzip, compressionBrotli],
  // Timing outermost (it records the mapped code), then errors, so that a refused credential
  // maps to its Connect code like any error.
  interceptors: [metricsInterceptor(ctx.metrics), errorInterceptor(ctx.logger.child({ component: 'rpc' }), ctx.databaseGate), authInterceptor(ctx.tokens, rateLimiterOf(ctx))],
  // Clients may not hold a call open past this, whatever timeout they ask for.
  maxTimeoutMs: 120_000,
})
