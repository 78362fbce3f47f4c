// The OpenAPI 3.1 document, generated from the route schemas, served at /openapi.json with a
// browsable page at /docs. openapi/openapi.json is the checked-in copy (a test fails on drift).
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { VERSION } from '../../version.js'
import { problems } from '../rest/schemas.js'

// Methods Fastify reads a body for (its `bodywith` set): on these, any route can answer 413 and
// 415 before its own code runs, whether or not it declares a body.
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'QUERY'])

export const openapiPlugin = fp(async (app: FastifyInstance) => {
  await app.register(swagger, {
    // Shared schemas appear under components/schemas by their $id (Runner, Project, ...).
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` },
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Stratavore API',
        version: VERSION,
        description: 'Control plane for AI coding agents. Errors on resource routes are application/problem+json with a stable `code`; ' +
          'routes tagged `webui` follow the Lex WebUI contract (domain errors as 200 with `error`).',
      },
      tags: [
        { name: 'projects', description: 'Projects: named directories runners work in' },
        { name: 'runners', description: 'Runners: supervised agent sessions' },
        { name: 'sessions', description: 'Agent conversations that can be resumed' },
        { name: 'events', description: 'The live event feed (WebSocket), resumable from the audit log' },
        { name: 'audit', description: 'The audit log: one HMAC chain per project, and its verifier' },
        { name: 'nodes', description: 'Supervisor nodes: batched heartbeats' },
        { name: 'notifications', description: 'Webhook notifications: deliveries, the dead-letter, retries by hand' },
        { name: 'webui', description: 'The Lex WebUI contract (shared/contracts/lex-webui.md)' },
      ],
    },
  })
  // Responses that cross-cutting plugins send on every route, documented here so that no route
  // can forget them: the validation plugin refuses a NUL byte or an unpaired surrogate in any
  // query, param or body (400 INVALID_STRING); on body methods, the body limit (413
  // PAYLOAD_TOO_LARGE) and the JSON-only content-type parsers (415 UNSUPPORTED_MEDIA_TYPE) act
  // before the handler. What a route declares itself wins. Hidden routes (RPC, this document,
  // /docs) are left alone.
  app.addHook('onRoute', route => {
    if (route.schema === undefined || route.schema.hide === true) return
    const takesBody = [route.method].flat().some(method => BODY_METHODS.has(method))
    route.schema = { ...route.schema, response: { ...problems(...(takesBody ? [400, 413, 415] : [400])), ...route.schema.response as object } }
  })
  // The plugin's CSP ends with upgrade-insecure-requests, which makes a browser that opened
  // /docs over plain http://<LAN address> fetch its scripts over https, where nothing answers:
  // a blank page (fastify/fastify-swagger#690). Over TLS it changes nothing; without, it goes.
  const tls = app.ctx.config.httpTls !== null
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    transformStaticCSP: header => tls ? header : header.replace(/\s*upgrade-insecure-requests;?/, ''),
  })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}, { name: 'openapi' })
