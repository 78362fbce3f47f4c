// GET /api/v1/runners/{id}/attach: a runner's live terminal over a WebSocket. The API does not
// run agents; it finds the runner's node (ctx.attach), mints a one-use ticket with that node's
// attach key and relays frames between the client and the node's supervisor, wherever it runs
// (dialed, or through the tunnel the node opened to this process: node-tunnels.ts).
// The protocol is the supervisor's (docs/api/attach.md); refusals come before the upgrade as problems.
import { Type, type Static } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { WebSocket, type RawData } from 'ws'
import { dialTerminal } from '../../adapters/supervisor/terminal-stream.js'
import { permits } from '../../core/auth/principal.js'
import { errors } from '../../core/errors.js'
import type { AttachTarget } from '../../core/runners/attach-service.js'
import { problemOf, sendProblem } from '../plugins/problem.js'
import { problems } from '../rest/schemas.js'

export const ATTACH_MAX_FRAME_BYTES = 64 * 1024
// A viewer this far behind the terminal is cut off rather than buffered without bound.
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024

const AttachParams = Type.Object({ id: Type.String({ maxLength: 64 }) })
const AttachQuery = Type.Object({
  mode: Type.Optional(Type.Union([Type.Literal('write'), Type.Literal('read')], { description: '`write` (the default for an operator) asks for the keyboard; `read` (the default, and the only mode, for a viewer) joins as a viewer even when the keyboard is free' })),
  cols: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  rows: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
}, { additionalProperties: false })

const DESCRIPTION = `A WebSocket to the runner's terminal (send \`Upgrade: websocket\`). The first frame is text,
\`{"type":"hello","role":"writer"|"viewer","terminal":bool,"cols":n,"rows":n}\`; then binary frames carry the
scrollback and the live output. The first client to ask for \`mode=write\` holds the keyboard; others are viewers. Writing needs the operator role: a viewer's
credential attaches read-only (its default mode is \`read\`, and \`mode=write\` gets 403).
The writer sends binary frames (keystrokes) or text frames \`{"type":"input","data":"..."}\` and
\`{"type":"resize","cols":n,"rows":n}\`; a viewer's input is answered \`{"type":"error","code":"read_only"}\` and
dropped. When the runner ends: \`{"type":"exit","code":n|null,"signal":s|null}\`, then close 1000. Frames over 64 KiB
close the socket with 1009; a client more than 8 MiB behind is closed with 1013; 1011 when the node cannot be reached.`

// A close code a client may be sent: 1000-1003, 1007-1014 or the application range.
const relayableClose = (code: number) => (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)

export const attachRoutes = async (app: FastifyInstance) => {
  const { ctx } = app
  const targets = new WeakMap<object, AttachTarget>()

  app.route<{ Params: Static<typeof AttachParams>, Querystring: Static<typeof AttachQuery> }>({
    method: 'GET',
    url: '/api/v1/runners/:id/attach',
    schema: {
      tags: ['runners'],
      summary: 'Attach to a runner\'s terminal (WebSocket)',
      description: DESCRIPTION,
      params: AttachParams,
      querystring: AttachQuery,
      response: { 101: { type: 'null', description: 'Switching Protocols: the terminal follows on the socket' }, ...problems(400, 404, 409, 426, 429, 503) },
    },
    preHandler: async request => {
      // The keyboard is an operator's; a viewer watches (and asking to write is refused).
      const principal = request.principal!
      if (request.query.mode === 'write' && !permits(principal.role, 'operator')) throw errors.permissionDenied(principal.role, 'operator')
      if (request.query.mode === undefined && !permits(principal.role, 'operator')) request.query.mode = 'read'
      targets.set(request, await ctx.attach.target(request.params.id))
    },
    handler: async (request, reply) => sendProblem(reply.header('upgrade', 'websocket'),
      problemOf(426, 'UPGRADE_REQUIRED', 'GET /api/v1/runners/{id}/attach is a WebSocket: send Connection: Upgrade and Upgrade: websocket', {
        instance: request.url.split('?')[0]!,
      })),
    wsHandler: (client, request) => {
      const target = targets.get(request)!
      const { mode = 'write', cols, rows } = request.query
      const upstream = dialTerminal(target, mode === 'write' ? 'writer' : 'viewer', cols && rows ? { cols, rows } : undefined, ctx.nodeTunnels)
      const early: Array<{ data: RawData, isBinary: boolean }> = []
      const log = request.log.child({ runnerId: target.runner.id, node: target.nodeId })

      client.on('message', (data, isBinary) => {
        if (upstream.readyState === WebSocket.OPEN) upstream.send(data, { binary: isBinary })
        else if (early.length < 64) early.push({ data, isBinary })
      })
      client.on('close', () => { if (upstream.readyState <= WebSocket.OPEN) upstream.close(1000, 'the client left') })
      client.on('error', err => log.debug({ err }, 'attach client error'))

      upstream.on('open', () => { for (const m of early.splice(0)) upstream.send(m.data, { binary: m.isBinary }) })
      upstream.on('message', (data, isBinary) => {
        if (client.readyState !== WebSocket.OPEN) return
        if (client.bufferedAmount > MAX_BUFFERED_BYTES) return client.close(1013, 'too far behind the terminal; attach again')
        client.send(data, { binary: isBinary })
      })
      upstream.on('unexpected-response', (_req, res) => {
        // 410: the process ended between the lookup and the dial.
        if (res.statusCode === 410) client.close(1000, 'the runner ended')
        else {
          log.warn({ status: res.statusCode }, 'the supervisor refused the attach')
          client.close(1011, 'the runner\'s supervisor refused the attach')
        }
        upstream.terminate()
      })
      upstream.on('close', (code, reason) => {
        if (client.readyState === WebSocket.OPEN) client.close(relayableClose(code) ? code : 1011, relayableClose(code) ? reason.toString() : 'the runner\'s supervisor went away')
      })
      upstream.on('error', err => {
        log.warn({ err }, 'attach: cannot reach the supervisor')
        if (client.readyState === WebSocket.OPEN) client.close(1011, 'the runner\'s supervisor cannot be reached')
      })
    },
  })
}
