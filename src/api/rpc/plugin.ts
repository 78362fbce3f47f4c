// Serves the Connect router on the Fastify app (daemon.http_port), beside REST and WebSockets:
// Connect (JSON and binary, HTTP/1.1) and gRPC-Web. Registered without fastify-plugin on
// purpose: connect-fastify replaces the content-type parsers (application/json among them),
// and that must stay inside this plugin's scope, away from the REST routes.
import { createContextValues } from '@connectrpc/connect'
import { fastifyConnectPlugin } from '@connectrpc/connect-fastify'
import type { FastifyInstance } from 'fastify'
import { clientAddressKey } from './actor.js'
import { routerOptions, routes } from './routes.js'

export const rpcPlugin = async (app: FastifyInstance) => {
  const closing = new AbortController()
  // Open streams (WatchEvents) would hold app.close() forever: end them first.
  app.addHook('preClose', async () => closing.abort())
  // proto/ is the contract of these routes, not /openapi.json: connect-fastify registers each
  // RPC path for every HTTP method, schema-less and untagged. This hook sees only the routes
  // registered inside this plugin, so the REST routes stay documented.
  app.addHook('onRoute', route => { route.schema = { ...route.schema, hide: true } })
  // buildApp installs its own application/json parser; Connect brings one for its JSON codec.
  app.removeContentTypeParser('application/json')
  await app.register(fastifyConnectPlugin, {
    ...routerOptions(app.ctx),
    routes: routes({ ctx: app.ctx, closing: closing.signal }),
    contextValues: req => createContextValues().set(clientAddressKey, req.ip),
  })
}
