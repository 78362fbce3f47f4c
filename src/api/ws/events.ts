// GET /api/v1/events: the live event feed over a WebSocket. The handler only checks the query
// and hands the socket to src/api/ws/feed-socket.ts; ordering, replay and resume belong to
// ctx.feed (src/core/events/event-feed.ts). A plain GET (no Upgrade) gets 426.
import { Type, type Static } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { errors } from '../../core/errors.js'
import { checkTopicPattern, MAX_ROUTING_KEY_BYTES } from '../../core/events/topic.js'
import { problemOf, sendProblem } from '../plugins/problem.js'
import { problems } from '../rest/schemas.js'
import { CLOSE_CODES, openFeedSocket, type FeedSocket } from './feed-socket.js'

const KEEPALIVE_MS = 30_000

export const EventFeedQuery = Type.Object({
  filter: Type.Optional(Type.String({
    default: '#',
    maxLength: MAX_ROUTING_KEY_BYTES,
    description: 'routing-key pattern, as an AMQP topic binding: words separated by dots, `*` one word, `#` any number; ' +
      'e.g. `runner.*.myproject` (one project\'s runner events) or `#` (everything)',
  })),
  after: Type.Optional(Type.String({
    format: 'uuid',
    description: 'the event_id of the last frame received: the events after it are replayed from the audit log before live ones; ' +
      'none is skipped or repeated',
  })),
  since: Type.Optional(Type.String({
    format: 'date-time',
    description: 'instead of `after`: replay the events that occurred at or after this time (RFC 3339) before live ones, ' +
      'e.g. the last ten minutes\' (`stratavore events --since 10m`)',
  })),
}, { additionalProperties: false })

/** The query's `after` and `since`, checked: one or the other (400 INVALID_ARGUMENT for both). */
export const feedStart = (query: Static<typeof EventFeedQuery>): { after?: string, since?: Date } => {
  if (query.after !== undefined && query.since !== undefined) throw errors.invalidArgument('give after or since, not both')
  if (query.after !== undefined) return { after: query.after.toLowerCase() }
  return query.since !== undefined ? { since: new Date(query.since) } : {}
}

const DESCRIPTION = `A WebSocket (send \`Upgrade: websocket\`). Each text frame is one event as JSON: the envelope
(\`version\`, \`event_id\`, \`type\`, \`occurred_at\`, \`project\`, \`aggregate_type\`, \`aggregate_id\`, \`seq\`, \`actor\`,
\`data\`; the proto message \`stratavore.v1.Event\`) plus \`routing_key\`. Frames come in one commit order, the same on every
daemon, so a client that reconnects with \`after\` set to the last \`event_id\` it received gets exactly what it missed.

Close codes: 1001 the daemon is shutting down (reconnect with \`after\`); 1008 the client sent something other than a small
JSON ping (\`{"type":"ping"}\`, answered \`{"type":"pong"}\`); 1009 a frame over 64 KiB; 1013 the client fell more than
1 MiB behind (reconnect with \`after\`); 4409 after a \`{"type":"resync_required"}\` frame: \`after\` is unknown or more than
50,000 events old, so reload state over REST and reconnect without it.`

export const eventFeedRoutes = async (app: FastifyInstance) => {
  const { ctx } = app
  const sockets = new Set<FeedSocket>()
  const keepalive = setInterval(() => { for (const socket of sockets) socket.heartbeat() }, KEEPALIVE_MS)
  keepalive.unref()

  app.route<{ Querystring: Static<typeof EventFeedQuery> }>({
    method: 'GET',
    url: '/api/v1/events',
    schema: {
      tags: ['events'],
      summary: 'Live event feed (WebSocket), resumable',
      description: DESCRIPTION,
      querystring: EventFeedQuery,
      response: { 101: { type: 'null', description: 'Switching Protocols: the feed follows on the socket' }, ...problems(400, 426, 429) },
    },
    // Refused before the upgrade, as a problem: the client sees a 400, not a socket that closes.
    preHandler: async request => {
      checkTopicPattern(request.query.filter ?? '#')
      feedStart(request.query)
    },
    handler: async (request, reply) => sendProblem(reply.header('upgrade', 'websocket'),
      problemOf(426, 'UPGRADE_REQUIRED', 'GET /api/v1/events is a WebSocket: send Connection: Upgrade and Upgrade: websocket', {
        instance: request.url.split('?')[0]!,
      })),
    wsHandler: (socket, request) => {
      const { filter = '#' } = request.query
      const handle: FeedSocket = openFeedSocket(socket, {
        transport: request.raw.socket,
        feed: ctx.feed,
        pattern: filter,
        ...feedStart(request.query),
        log: request.log,
        onGone: () => sockets.delete(handle),
      })
      sockets.add(handle)
    },
  })

  // Runs after closeWebSockets (src/api/ws/close.ts) has sent every client 1001: release the
  // subscriptions now rather than when each closing handshake ends.
  app.addHook('preClose', async () => {
    clearInterval(keepalive)
    for (const socket of [...sockets]) socket.close(CLOSE_CODES.goingAway, 'server shutting down')
  })
}
