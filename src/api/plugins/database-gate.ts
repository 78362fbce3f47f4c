// REST's side of the database gate (src/adapters/db/database-gate.ts): while it is open, every
// request under /api/ gets 503 UNAVAILABLE with Retry-After before it reaches a handler. It is
// answered here, not thrown, so it costs no log line of its own: the gate counts it and says
// how many there were when it closes. The error handler (problem.ts) trips it.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { gateMessage } from '../../adapters/db/database-gate.js'
import { problemOf, sendProblem } from './problem.js'

export const databaseGatePlugin = fp(async (app: FastifyInstance) => {
  const gate = app.ctx.databaseGate
  app.addHook('onRequest', async (request, reply) => {
    if (!gate.isOpen() || !request.url.startsWith('/api/')) return
    gate.refuse()
    return sendProblem(reply, problemOf(503, 'UNAVAILABLE', gateMessage(gate.reason()), { instance: request.url.split('?')[0]! }))
  })
}, { name: 'database-gate' })
