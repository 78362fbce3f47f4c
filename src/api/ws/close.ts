// What @fastify/websocket does on app.close(), replacing its default (a close with no code):
// every WebSocket gets 1001 "going away", so clients know to reconnect (to this daemon once it
// is back, or to another), and one that has not finished the closing handshake within a short
// grace is cut, so that shutdown never waits on a client that stopped reading.
import type { FastifyInstance } from 'fastify'

export const CLOSE_GRACE_MS = 2_000

export function closeWebSockets (this: FastifyInstance, done: () => void) {
  const server = this.websocketServer
  for (const client of server.clients) client.close(1001, 'server shutting down')
  const cut = setTimeout(() => { for (const client of server.clients) client.terminate() }, CLOSE_GRACE_MS)
  cut.unref()
  // Called once every client is gone.
  server.close(() => clearTimeout(cut))
  done()
}
