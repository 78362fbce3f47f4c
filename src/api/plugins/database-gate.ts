// REST's side of the database gate (src/adapters/db/database-gate.ts): while it is open, every
// request under /api/ gets 503 UNAVAILABLE with Retry-After before it reaches a handler. The
// error handler (problem.ts) trips it.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { errors } from '../../core/errors.js'

export const databaseGatePlugin = fp(async (app: FastifyInstance) => {
  const gate = app.ctx.databaseGate
  app.addHook('onRequest', async request => {
    if (gate.isOpen() && request.url.startsWith('/api/')) throw errors.unavailable('the database is unavailable; retry shortly')
  })
}, { name: 'database-gate' })
