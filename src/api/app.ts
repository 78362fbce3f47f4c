// buildApp: the HTTP surface as a Fastify instance that is not listening yet, so tests can
// inject requests and workers can listen. Cross-cutting plugins first, then the routes.
import websocket from '@fastify/websocket'
import Fastify, { LogController, type FastifyInstance } from 'fastify'
import fastifyMetrics from 'fastify-metrics'
import type { Context } from '../context.js'
import { openapiPlugin } from './plugins/openapi.js'
import { authenticationPlugin } from './plugins/authentication.js'
import { browserGuardPlugin } from './plugins/browser-guard.js'
import { browserSessionPlugin } from './plugins/browser-session.js'
import { requestLogPlugin } from './plugins/request-log.js'
import { databaseGatePlugin } from './plugins/database-gate.js'
import { clientErrorHandler, problemPlugin, sendRouteNotFound } from './plugins/problem.js'
import { rateLimitPlugin } from './plugins/rate-limit.js'
import { validationPlugin } from './plugins/validation.js'
import { isAppRoute, sendAppIndex, webuiStaticPlugin } from './plugins/webui-static.js'
import { auditRoutes } from './rest/audit.js'
import { backupRoutes } from './rest/backup.js'
import { doctorRoutes } from './rest/doctor.js'
import { joinTokenRoutes } from './rest/join-tokens.js'
import { JoinTokenDto, NodeDto } from './rest/node-schemas.js'
import { nodeRoutes } from './rest/nodes.js'
import { projectRoutes } from './rest/projects.js'
import { rpcPlugin } from './rpc/plugin.js'
import { restSharedSchemas } from './rest/schemas.js'
import { inboxRoutes, runnerPauseRoutes, runnerRoutes } from './rest/runners.js'
import { budgetRoutes } from './rest/budgets.js'
import { sessionRoutes } from './rest/sessions.js'
import { TokenDto, tokenRoutes } from './rest/tokens.js'
import { DeliveryDto, notificationRoutes } from './rest/notifications.js'
import { webuiRoutes } from './webui/routes.js'
import { webuiSharedSchemas } from './webui/schemas.js'
import { closeWebSockets } from './ws/close.js'
import { attachRoutes } from './ws/attach.js'
import { eventFeedRoutes } from './ws/events.js'
import { nodeTunnelRoutes } from './ws/node-tunnel.js'
import './types.js'

export const buildApp = async (ctx: Context): Promise<FastifyInstance> => {
  const tls = ctx.config.httpTls
  const app = Fastify({
    // HTTPS with daemon.tls_*_file; the WebSockets (events, attach) ride on it as WSS.
    ...(tls ? { https: { cert: tls.cert, key: tls.key } } : {}),
    loggerInstance: ctx.logger.child({ component: 'api' }),
    bodyLimit: ctx.config.daemon.body_limit_bytes,
    // No reverse proxy is assumed: bound how long a slow client may hold a request.
    requestTimeout: 120_000,
    connectionTimeout: 130_000,
    routerOptions: { maxParamLength: 200 },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    clientErrorHandler,
    // One line per request (plugins/request-log.ts) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
  })
  app.decorate('ctx', ctx)
  app.decorateRequest('actor', '')
  await app.register(requestLogPlugin)

  // Request histograms for the Prometheus port; the endpoint itself lives on the metrics server.
  await app.register(fastifyMetrics.default, { endpoint: null, clearRegisterOnInit: true, routeMetrics: { enabled: { histogram: true, summary: false }, registeredRoutesOnly: true } })
  // JSON as Fastify parses it (prototype poisoning refused), except that an empty body is "no
  // body": clients (axios, curl -XPOST) send a JSON content type on body-less POSTs such as
  // /api/v1/reconcile. A route that needs a body still gets a 400 from its schema.
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body.toString()
    if (text.trim() === '') return done(null, undefined)
    parseJson(request, text, done)
  })
  // Every body is JSON; anything else is a 415, not a string for the schema to puzzle over.
  app.removeContentTypeParser('text/plain')
  // Host and Origin first: a rebound or cross-site request is refused before anything else.
  await app.register(browserGuardPlugin)
  await app.register(databaseGatePlugin)
  await app.register(browserSessionPlugin)
  await app.register(authenticationPlugin)
  await app.register(rateLimitPlugin)
  await app.register(problemPlugin)
  await app.register(validationPlugin)
  await app.register(openapiPlugin)
  // ws accepts 100 MiB messages by default; clients here only ever send small pings.
  await app.register(websocket, { options: { maxPayload: 64 * 1024 }, preClose: closeWebSockets, errorHandler: (err, _socket, request) => request.log.info({ err }, 'websocket error') })
  // At the root: a schema added inside a route plugin gives that plugin Fastify's default
  // validator (which drops unknown fields) instead of the validation plugin's.
  for (const schema of [...restSharedSchemas, TokenDto, NodeDto, JoinTokenDto, DeliveryDto, ...webuiSharedSchemas]) app.addSchema(schema)
  await app.register(projectRoutes)
  await app.register(runnerRoutes)
  await app.register(runnerPauseRoutes)
  await app.register(inboxRoutes)
  await app.register(budgetRoutes)
  await app.register(sessionRoutes)
  await app.register(nodeRoutes)
  await app.register(joinTokenRoutes)
  await app.register(auditRoutes)
  await app.register(backupRoutes)
  await app.register(doctorRoutes)
  await app.register(tokenRoutes)
  await app.register(notificationRoutes)
  await app.register(webuiRoutes)
  await app.register(eventFeedRoutes)
  await app.register(attachRoutes)
  await app.register(nodeTunnelRoutes)
  // Connect-RPC (stratavore.v1.*): the same use cases as REST, at /stratavore.v1.<Service>/<Method>.
  await app.register(rpcPlugin)
  const servesWebui = ctx.config.webui.dir !== ''
  if (servesWebui) await app.register(webuiStaticPlugin, { root: ctx.config.webui.dir })
  app.setNotFoundHandler((request, reply) => servesWebui && isAppRoute(request) ? sendAppIndex(reply) : sendRouteNotFound(request, reply))
  return app as unknown as FastifyInstance
}
