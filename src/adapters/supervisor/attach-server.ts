// The supervisor's attach channel: a WebSocket endpoint per runner terminal that the API dials
// (docs/api/attach.md has the protocol). Each connection presents a ticket the API minted with this
// node's attach key. Many viewers at once, one writer: the first writer keeps the keyboard and
// later ones are told they are viewers. New viewers get the scrollback, then live output; when
// the runner's process ends, everyone gets an exit frame and a clean close.
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import type { Log } from '../../core/ports.js'
import type { AgentProcess } from '../pty/types.js'
import { bearerToken } from '../system/bearer-token.js'
import { createTicketVerifier, type AttachRole } from './attach-ticket.js'

export const ATTACH_MAX_FRAME_BYTES = 64 * 1024
const PATH = /^\/v1\/runners\/([0-9a-f-]{36})\/attach$/

interface Viewer { socket: WebSocket, role: AttachRole }
interface TerminalRoom { process: AgentProcess, viewers: Set<Viewer>, unsubscribe: () => void }

export interface AttachServer { url: string, close(): Promise<void> }

const send = (socket: WebSocket, frame: Record<string, unknown>) => { if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(frame)) }

const refuse = (socket: Duplex, status: number, message: string) => {
  socket.end(`HTTP/1.1 ${status} ${message}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(message)}\r\nConnection: close\r\n\r\n${message}`)
}

const boundedInt = (value: string | null, min: number, max: number) => {
  const n = Number(value)
  return Number.isInteger(n) && n >= min && n <= max ? n : null
}

export const startAttachServer = async ({ host, port, attachKey, terminalOf, log }: {
  host: string
  port: number
  attachKey: string
  terminalOf: (runnerId: string) => AgentProcess | undefined
  log: Log
}): Promise<AttachServer> => {
  const verify = createTicketVerifier(attachKey)
  const rooms = new Map<string, TerminalRoom>()
  const wss = new WebSocketServer({ noServer: true, maxPayload: ATTACH_MAX_FRAME_BYTES })

  const roomOf = (runnerId: string, process: AgentProcess): TerminalRoom => {
    const existing = rooms.get(runnerId)
    if (existing && existing.process === process) return existing
    existing?.unsubscribe()
    const room: TerminalRoom = {
      process,
      viewers: new Set(),
      unsubscribe: process.onOutput(chunk => { for (const v of room.viewers) if (v.socket.readyState === v.socket.OPEN) v.socket.send(chunk) }),
    }
    rooms.set(runnerId, room)
    void process.exited.then(exit => {
      for (const v of room.viewers) {
        send(v.socket, { type: 'exit', code: exit.code, signal: exit.signal })
        v.socket.close(1000, 'the runner ended')
      }
      room.unsubscribe()
      if (rooms.get(runnerId) === room) rooms.delete(runnerId)
    })
    return room
  }

  const join = (socket: WebSocket, runnerId: string, room: TerminalRoom, asked: AttachRole, size: { cols: number, rows: number } | null) => {
    const hasWriter = [...room.viewers].some(v => v.role === 'writer')
    const role: AttachRole = asked === 'writer' && !hasWriter && room.process.terminal ? 'writer' : 'viewer'
    const viewer: Viewer = { socket, role }
    if (role === 'writer' && size) room.process.resize(size.cols, size.rows)
    send(socket, { type: 'hello', runnerId, role, terminal: room.process.terminal, ...room.process.size() })
    const scrollback = room.process.scrollback()
    if (scrollback.length > 0) socket.send(scrollback)
    room.viewers.add(viewer)
    socket.on('close', () => room.viewers.delete(viewer))
    socket.on('message', (data, isBinary) => {
      if (viewer.role !== 'writer') {
        send(socket, { type: 'error', code: 'read_only', message: room.process.terminal ? 'this viewer is read-only: another client holds the keyboard' : 'a headless runner takes no input' })
        return
      }
      if (isBinary) return room.process.write(Buffer.from(data as Buffer))
      let frame: { type?: unknown, cols?: unknown, rows?: unknown, data?: unknown }
      try { frame = JSON.parse(data.toString()) as typeof frame } catch { return send(socket, { type: 'error', code: 'bad_frame', message: 'text frames must be JSON' }) }
      if (frame.type === 'resize') {
        const cols = boundedInt(String(frame.cols), 1, 1000)
        const rows = boundedInt(String(frame.rows), 1, 1000)
        if (cols === null || rows === null) return send(socket, { type: 'error', code: 'bad_frame', message: 'resize needs integer cols and rows in 1..1000' })
        return room.process.resize(cols, rows)
      }
      if (frame.type === 'input' && typeof frame.data === 'string') return room.process.write(frame.data)
      send(socket, { type: 'error', code: 'bad_frame', message: 'unknown frame type (expected resize or input)' })
    })
  }

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(request.url ?? '/', 'http://attach')
    const runnerId = PATH.exec(url.pathname)?.[1]
    if (!runnerId) return refuse(socket, 404, 'Not Found')
    const ticket = bearerToken(request.headers.authorization)
    const claims = ticket ? verify(ticket, runnerId) : null
    if (!claims) return refuse(socket, 401, 'Unauthorized')
    const process = terminalOf(runnerId)
    if (!process) return refuse(socket, 410, 'Gone')
    const cols = boundedInt(url.searchParams.get('cols'), 1, 1000)
    const rows = boundedInt(url.searchParams.get('rows'), 1, 1000)
    wss.handleUpgrade(request, socket, head, ws => {
      ws.on('error', err => log.debug({ err, runnerId }, 'attach socket error'))
      join(ws, runnerId, roomOf(runnerId, process), claims.role, cols && rows ? { cols, rows } : null)
    })
  }

  const server: Server = createServer((_req, res) => { res.writeHead(426, { 'content-type': 'text/plain' }).end('Upgrade Required') })
  server.on('upgrade', onUpgrade)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const bound = server.address() as { port: number }
  return {
    url: `ws://${host.includes(':') ? `[${host}]` : host}:${bound.port}`,
    async close () {
      for (const room of rooms.values()) {
        room.unsubscribe()
        for (const v of room.viewers) v.socket.close(1001, 'the supervisor is stopping')
      }
      wss.close()
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    },
  }
}
