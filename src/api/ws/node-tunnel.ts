// GET /api/v1/nodes/tunnel and /api/v1/nodes/tunnel/{session}: how a node that dials out
// (supervisor.attach_via: tunnel) is reached for attach and output without an inbound port. The
// first is the node's control socket, held in ctx.nodeTunnels; the second is one terminal's
// relay, opened by the node when asked on the first (src/adapters/supervisor/node-tunnels.ts has
// the protocol). Only a node credential opens either, and a session only for its own node.
import { Type, type Static } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { errors } from '../../core/errors.js'
import { problemOf, sendProblem } from '../plugins/problem.js'
import { problems } from '../rest/schemas.js'

const SessionParams = Type.Object({ session: Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$' }) })

const upgradeRequired = (path: string) => (request: { url: string }, reply: Parameters<typeof sendProblem>[0]) => sendProblem(reply.header('upgrade', 'websocket'),
  problemOf(426, 'UPGRADE_REQUIRED', `GET ${path} is a WebSocket: send Connection: Upgrade and Upgrade: websocket`, { instance: request.url.split('?')[0]! }))

export const nodeTunnelRoutes = async (app: FastifyInstance) => {
  const tunnels = app.ctx.nodeTunnels

  app.route({
    method: 'GET',
    url: '/api/v1/nodes/tunnel',
    schema: {
      tags: ['nodes'],
      summary: 'A node\'s control socket for attach without an inbound port (WebSocket)',
      description: 'Opened by a supervisor with `supervisor.attach_via: tunnel`, authenticated with its node credential. The API sends ' +
        '`{"type":"dial","session":s,"path":p,"ticket":t}` text frames on it; the node answers each by opening ' +
        '`/api/v1/nodes/tunnel/{session}` and relaying its attach channel there. The node sends nothing but pings. A newer control socket of ' +
        'the same node replaces the older (closed with 4409).',
      response: { 101: { type: 'null', description: 'Switching Protocols' }, ...problems(426, 429) },
    },
    handler: upgradeRequired('/api/v1/nodes/tunnel'),
    wsHandler: (socket, request) => {
      // Nothing is expected from the node here but pings (answered by ws itself).
      socket.on('message', () => socket.close(1008, 'the node sends nothing on its control socket'))
      socket.on('error', err => request.log.debug({ err }, 'node tunnel control socket error'))
      tunnels.connect(request.principal!.nodeId!, socket)
    },
  })

  app.route<{ Params: Static<typeof SessionParams> }>({
    method: 'GET',
    url: '/api/v1/nodes/tunnel/:session',
    schema: {
      tags: ['nodes'],
      summary: 'One attach channel relayed by a node (WebSocket)',
      description: 'Opened by a node for a session the API named on its control socket, within 10 s, once. Messages travel as binary chunks ' +
        'with a one-byte header (bit 0 text, bit 1 more chunks follow, bit 2 a JSON signal of the tunnel: `{"type":"open"}` or ' +
        '`{"type":"refused","status":n}`). Another node\'s, an unknown or an expired session is 404 `TUNNEL_SESSION_NOT_FOUND`.',
      params: SessionParams,
      response: { 101: { type: 'null', description: 'Switching Protocols' }, ...problems(400, 404, 426, 429) },
    },
    preHandler: async request => {
      if (!tunnels.owns(request.principal!.nodeId!, request.params.session)) throw errors.tunnelSessionNotFound()
    },
    handler: upgradeRequired('/api/v1/nodes/tunnel/{session}'),
    wsHandler: (socket, request) => {
      socket.on('error', err => request.log.debug({ err }, 'node tunnel socket error'))
      // Expired between the check and the upgrade: the caller has been told the node is unreachable.
      if (!tunnels.accept(request.principal!.nodeId!, (request.params as Static<typeof SessionParams>).session, socket)) socket.close(4404, 'the session expired')
    },
  })
}
