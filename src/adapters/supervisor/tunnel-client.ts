// The node's end of dialing out (supervisor.attach_via: tunnel): one control WebSocket to the
// API (GET /api/v1/nodes/tunnel, the node credential as Bearer), reconnected with capped backoff
// and jitter; for each `dial` the API sends on it, a new WebSocket back for that session, relayed
// to this node's own attach server on loopback with the ticket the API minted. So a node behind
// NAT needs no inbound port, and the API never dials a node's address. TLS is the API URL's:
// https becomes wss. Each session is its own socket, so one slow viewer holds back no other.
import { WebSocket, type RawData } from 'ws'
import type { Log } from '../../core/ports.js'
import { TUNNEL_MAX_MESSAGE_BYTES, createTunnelDecoder, encodeMessage, encodeSignal } from './tunnel-frames.js'

const PATH = /^\/v1\/runners\/[0-9a-f-]{36}\/attach(\?cols=\d{1,4}&rows=\d{1,4})?$/
const SESSION = /^[A-Za-z0-9_-]{16,64}$/
const PING_EVERY_MS = 15_000
const BACKOFF_BASE_MS = 500
const BACKOFF_CAP_MS = 30_000
// A viewer this far behind is cut off, as the API cuts off its clients (api/ws/attach.ts).
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024

export interface NodeTunnel { close(): Promise<void> }

const toBuffer = (data: RawData) => Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer)
// Codes a peer may be sent; 1005/1006 mean "none" and "broken".
const sendable = (code: number) => (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)

export const startNodeTunnel = ({ serverUrl, credential, attachUrl, log }: { serverUrl: string, credential: string, attachUrl: string, log: Log }): NodeTunnel => {
  const base = serverUrl.replace(/^http/, 'ws').replace(/\/$/, '')
  const headers = { authorization: `Bearer ${credential}` }
  const sessions = new Set<WebSocket>()
  let control: WebSocket | null = null
  let stopped = false
  let attempt = 0
  let retry: NodeJS.Timeout | null = null

  const relay = (session: string, path: string, ticket: string) => {
    const tunnel = new WebSocket(`${base}/api/v1/nodes/tunnel/${session}`, { headers, maxPayload: 64 * 1024, handshakeTimeout: 10_000 })
    let local: WebSocket | null = null
    sessions.add(tunnel)
    const end = (code: number, reason: string) => {
      if (tunnel.readyState === WebSocket.OPEN) {
        if (sendable(code)) tunnel.close(code, reason)
        else tunnel.close()
      } else if (tunnel.readyState === WebSocket.CONNECTING) tunnel.terminate()
    }
    tunnel.on('unexpected-response', (_req, res) => {
      log.warn({ session, status: res.statusCode }, 'the API refused a tunnel session')
      tunnel.terminate()
    })
    tunnel.on('error', err => log.debug({ err, session }, 'tunnel session error'))
    tunnel.on('open', () => {
      local = new WebSocket(`${attachUrl}${path}`, { headers: { authorization: `Bearer ${ticket}` }, maxPayload: TUNNEL_MAX_MESSAGE_BYTES, handshakeTimeout: 10_000 })
      local.on('unexpected-response', (_req, res) => {
        tunnel.send(encodeSignal({ type: 'refused', status: res.statusCode ?? 502 }))
        tunnel.close(1000)
        local?.terminate()
      })
      local.on('open', () => tunnel.send(encodeSignal({ type: 'open' })))
      local.on('message', (data, isBinary) => {
        if (tunnel.readyState !== WebSocket.OPEN) return
        if (tunnel.bufferedAmount > MAX_BUFFERED_BYTES) return end(1013, 'too far behind the terminal; attach again')
        for (const chunk of encodeMessage(toBuffer(data), isBinary)) tunnel.send(chunk)
      })
      local.on('close', (code, reason) => end(code, reason.toString()))
      local.on('error', err => {
        log.debug({ err, session }, 'cannot open the local attach channel')
        end(1011, 'the node\'s attach channel cannot be reached')
      })
    })
    const decode = createTunnelDecoder()
    tunnel.on('message', data => {
      try {
        const item = decode(toBuffer(data))
        if (item?.kind === 'message' && local?.readyState === WebSocket.OPEN) local.send(item.data, { binary: item.isBinary })
      } catch (err) {
        log.warn({ err, session }, 'a bad frame on a tunnel session')
        tunnel.close(1007, 'bad tunnel frame')
      }
    })
    tunnel.on('close', () => {
      sessions.delete(tunnel)
      if (local && local.readyState <= WebSocket.OPEN) local.close(1000, 'the tunnel closed')
    })
  }

  const connect = () => {
    retry = null
    const socket = new WebSocket(`${base}/api/v1/nodes/tunnel`, { headers, maxPayload: 64 * 1024, handshakeTimeout: 10_000 })
    control = socket
    let alive = true
    const ping = setInterval(() => {
      // No pong since the last ping: the connection died silently (NAT timeout, partition).
      if (!alive) return socket.terminate()
      alive = false
      socket.ping()
    }, PING_EVERY_MS)
    socket.on('pong', () => { alive = true })
    socket.on('open', () => {
      attempt = 0
      log.info({ server: base }, 'tunnel to the API open: attach reaches this node through it')
    })
    socket.on('message', (data, isBinary) => {
      let frame: { type?: unknown, session?: unknown, path?: unknown, ticket?: unknown }
      try { frame = isBinary ? {} : JSON.parse(toBuffer(data).toString('utf8')) as typeof frame } catch { frame = {} }
      const { session, path, ticket } = frame
      if (frame.type !== 'dial' || typeof session !== 'string' || !SESSION.test(session) || typeof path !== 'string' || !PATH.test(path) || typeof ticket !== 'string' || ticket.length > 2048) {
        return log.warn({ type: String(frame.type) }, 'an unknown frame on the tunnel\'s control socket; ignored')
      }
      relay(session, path, ticket)
    })
    socket.on('unexpected-response', (_req, res) => {
      log.warn({ status: res.statusCode }, 'the API refused the tunnel; trying again')
      socket.terminate()
    })
    socket.on('error', err => log.debug({ err }, 'tunnel control socket error'))
    socket.on('close', (code) => {
      clearInterval(ping)
      if (control === socket) control = null
      if (stopped) return
      const delay = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt++) * (0.8 + Math.random() * 0.4)
      log.info({ code, retryInMs: Math.round(delay) }, 'tunnel to the API closed; reconnecting')
      retry = setTimeout(connect, delay)
    })
  }
  connect()

  return {
    async close () {
      stopped = true
      if (retry) clearTimeout(retry)
      const open = [control, ...sessions].filter((s): s is WebSocket => s !== null && s.readyState !== WebSocket.CLOSED)
      await Promise.all(open.map(s => new Promise<void>(resolve => {
        s.once('close', () => resolve())
        if (s.readyState === WebSocket.CONNECTING) s.terminate()
        else s.close(1001, 'the node is stopping')
        setTimeout(() => { s.terminate(); resolve() }, 2000).unref()
      })))
    },
  }
}
