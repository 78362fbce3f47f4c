// Serves the Connect router on the Fastify app (daemon.http_port), beside REST and WebSockets:
// Connect (JSON and binary, HTTP/1.1) and gRPC-Web. Registered without fastify-plugin on
// purpose: connect-fastify replaces the content-type parsers (application/json among them),
// and that must stay inside this plugin's scope, away from the REST routes.
import { fastifyConnectPlugin } from '@connectrpc/connect-fastify'
import type { FastifyInstance } from 'fastify'
import { routerOptions, routes } from './routes.js'

export const rpcPlugin = async (app: FastifyInstance) => {
  const closing = new AbortController()
  // Open streams (WatchEvents) would hold app.close() forever: end them first.
  app.addHook('preClose', async () => closing.abort())
  // buildApp installs its own application/json parser; Connect brings one for its JSON codec.
  app.removeContentTypeParser('application/json')
  await app.register(fastifyConnectPlugin, { ...routerOptions(app.ctx), routes: routes({ ctx: app.ctx, closing: closing.signal }) })
}
