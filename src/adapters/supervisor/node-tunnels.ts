// The API's end of nodes that dial out (README, "Hosts that join with a token"): each node with
// `supervisor.attach_via: tunnel` keeps one control WebSocket open to an API process, and this
// registry (one per process) holds them. To reach a runner's terminal on such a node the API
// sends `{"type":"dial","session",...}` on its control socket; the node opens a new WebSocket
// back for that session (GET /api/v1/nodes/tunnel/{session}) and relays its own attach channel
// over it. The caller gets a TunnelSocket at once, which behaves as the dialed WebSocket would:
//
//   CONNECTING --node opens its attach channel--> OPEN --either end closes--> CLOSED
//       |--node's attach server refuses (410 ...)--> 'unexpected-response'
//       '--no tunnel within DIAL_TIMEOUT_MS, or it breaks first--> 'error', CLOSED
//
// A session belongs to one node and is used once; it never reaches a node's address.
import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type { WebSocket } from 'ws'
import type { Log } from '../../core/ports.js'
import { createTunnelDecoder, encodeMessage } from './tunnel-frames.js'

export const DIAL_TIMEOUT_MS = 10_000
/** Closes a control socket another one of the same node replaced. */
export const CLOSE_REPLACED = 4409

const CONNECTING = 0
const OPEN = 1
const CLOSING = 2
const CLOSED = 3

/** One attach channel through a node's tunnel, shaped as the parts of a `ws` WebSocket the callers use. */
export class TunnelSocket extends EventEmitter {
  readyState = CONNECTING
  private socket: WebSocket | null = null

  constructor (private readonly onSettled: () => void) { super() }

  /** The node's socket for this session arrived: relay it. */
  pair (socket: WebSocket) {
    if (this.readyState >= CLOSING) return socket.close(1000, 'the caller left')
    this.socket = socket
    this.onSettled()
    const decode = createTunnelDecoder()
    socket.on('message', (data: Buffer) => {
      let item
      try { item = decode(Buffer.from(data)) } catch (err) {
        socket.close(1007, 'bad tunnel frame')
        return this.fail(err as Error)
      }
      if (!item) return
      if (item.kind === 'message') {
        if (this.readyState === OPEN) this.emit('message', item.data, item.isBinary)
      } else if (item.signal.type === 'open' && this.readyState === CONNECTING) {
        this.readyState = OPEN
        this.emit('open')
      } else if (item.signal.type === 'refused' && this.readyState === CONNECTING) {
        // As ws after a refused handshake: the caller terminates; no 'error' follows.
        this.readyState = CLOSING
        this.emit('unexpected-response', null, { statusCode: item.signal.status })
      }
    })
    socket.on('close', (code: number, reason: Buffer) => {
      if (this.readyState === CONNECTING) return this.fail(new Error('the node closed the tunnel before the terminal opened'))
      this.finish(code, reason)
    })
    socket.on('error', err => this.emit('error', err))
  }

  /** Fails a dial that never opened, as ws does: 'error', then 'close' 1006. */
  fail (err: Error) {
    if (this.readyState === CLOSED) return
    this.onSettled()
    if (this.readyState === CONNECTING && this.listenerCount('error') > 0) this.emit('error', err)
    this.socket?.terminate()
    this.finish(1006, Buffer.alloc(0))
  }

  send (data: Buffer | ArrayBuffer | Buffer[] | string, options: { binary?: boolean } = {}) {
    if (this.readyState !== OPEN || !this.socket) return
    const bytes = typeof data === 'string' ? Buffer.from(data) : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer)
    for (const chunk of encodeMessage(bytes, options.binary ?? typeof data !== 'string')) this.socket.send(chunk)
  }

  close (code = 1000, reason = '') {
    if (this.readyState >= CLOSING) return
    if (!this.socket) return this.finish(1006, Buffer.alloc(0))
    this.readyState = CLOSING
    this.socket.close(code, reason)
  }

  terminate () {
    if (this.readyState === CLOSED) return
    if (!this.socket) return this.finish(1006, Buffer.alloc(0))
    this.socket.terminate()
  }

  private finish (code: number, reason: Buffer) {
    if (this.readyState === CLOSED) return
    this.onSettled()
    this.readyState = CLOSED
    this.emit('close', code, reason)
  }
}

interface Pending { nodeId: string, socket: TunnelSocket, timer: NodeJS.Timeout }

export const createNodeTunnels = ({ log, dialTimeoutMs = DIAL_TIMEOUT_MS }: { log: Log, dialTimeoutMs?: number }) => {
  const controls = new Map<string, WebSocket>()
  const pending = new Map<string, Pending>()

  return {
    /** Holds a node's control socket; a newer one replaces the older (a reconnect after a silent break). */
    connect (nodeId: string, control: WebSocket) {
      const previous = controls.get(nodeId)
      controls.set(nodeId, control)
      previous?.close(CLOSE_REPLACED, 'replaced by a newer tunnel of this node')
      control.on('close', () => { if (controls.get(nodeId) === control) controls.delete(nodeId) })
      log.info({ nodeId }, 'node tunnel connected')
    },

    /** Whether this process holds the node's control socket. */
    has: (nodeId: string) => controls.get(nodeId)?.readyState === 1,

    /** Asks the node to open `path` (with `ticket`) on its attach channel and relay it back. */
    dial (nodeId: string, path: string, ticket: string): TunnelSocket {
      const session = randomBytes(18).toString('base64url')
      const socket = new TunnelSocket(() => { clearTimeout(entry.timer); pending.delete(session) })
      const entry: Pending = {
        nodeId,
        socket,
        timer: setTimeout(() => socket.fail(new Error(`node ${nodeId} did not open the tunnel within ${dialTimeoutMs} ms`)), dialTimeoutMs),
      }
      pending.set(session, entry)
      const control = controls.get(nodeId)
      if (control?.readyState !== 1) {
        setImmediate(() => socket.fail(new Error(`node ${nodeId} has no tunnel here`)))
        return socket
      }
      control.send(JSON.stringify({ type: 'dial', session, path, ticket }))
      return socket
    },

    /** Whether `session` waits for this node (unknown, expired and another node's: false). */
    owns: (nodeId: string, session: string) => pending.get(session)?.nodeId === nodeId,

    /** The node's socket for a session it owns; false (and nothing changes) otherwise. */
    accept (nodeId: string, session: string, socket: WebSocket): boolean {
      const entry = pending.get(session)
      if (entry?.nodeId !== nodeId) return false
      entry.socket.pair(socket)
      return true
    },

    close () {
      for (const entry of pending.values()) entry.socket.fail(new Error('the API is stopping'))
      for (const control of controls.values()) control.close(1001, 'the API is stopping')
      controls.clear()
    },
  }
}

export type NodeTunnels = ReturnType<typeof createNodeTunnels>
