// Reads a runner's terminal output from its supervisor as a viewer (never the writer), for the
// RPC output stream and `stratavore logs`: the scrollback first, then, when following, the
// live bytes until the runner ends. Same channel and ticket as attach (docs/api/attach.md).
import { WebSocket, type RawData } from 'ws'
import { MAX_SCROLLBACK_BYTES } from '../../config-spec.js'
import { errors } from '../../core/errors.js'
import type { AttachTarget } from '../../core/runners/attach-service.js'
import { mintAttachTicket, type AttachRole } from './attach-ticket.js'
import type { NodeTunnels } from './node-tunnels.js'

/** What callers use of a terminal's socket: a dialed `ws` WebSocket, or a TunnelSocket (node-tunnels.ts). */
export interface TerminalSocket {
  readonly readyState: number
  send(data: RawData | string, options: { binary: boolean }): void
  close(code?: number, reason?: string): void
  terminate(): void
  on(event: 'open', listener: () => void): this
  on(event: 'message', listener: (data: RawData, isBinary: boolean) => void): this
  on(event: 'close', listener: (code: number, reason: Buffer) => void): this
  on(event: 'error', listener: (err: Error) => void): this
  on(event: 'unexpected-response', listener: (req: unknown, res: { statusCode?: number }) => void): this
}

/**
 * Opens the runner's terminal on its supervisor's attach channel with a fresh one-use ticket:
 * through the node's tunnel when it holds one to this process, else by dialing its attach URL.
 * The first binary frame is the whole scrollback, so frames up to the largest scrollback a node
 * may keep are accepted.
 */
export const dialTerminal = (target: AttachTarget, role: AttachRole, size?: { cols: number, rows: number }, tunnels?: NodeTunnels): TerminalSocket => {
  const path = `/v1/runners/${target.runner.id}/attach`
  const query = size ? `?${new URLSearchParams({ cols: String(size.cols), rows: String(size.rows) }).toString()}` : ''
  const ticket = mintAttachTicket(target.attachKey, target.runner.id, role)
  if (tunnels?.has(target.nodeId)) return tunnels.dial(target.nodeId, path + query, ticket)
  return new WebSocket(new URL(`${target.attachUrl}${path}${query}`), {
    headers: { authorization: `Bearer ${ticket}` },
    maxPayload: MAX_SCROLLBACK_BYTES + 64 * 1024,
    handshakeTimeout: 10_000,
  })
}

export type TerminalChunk = { kind: 'output', data: Buffer } | { kind: 'exit', code: number | null, signal: string | null }

/**
 * Yields the scrollback, then live output while `follow` holds, and an exit chunk if the runner
 * ends meanwhile. Without `follow` it ends after the scrollback (the first output frame after
 * the hello, or the hello alone when there is none yet).
 */
export async function * readTerminal (target: AttachTarget, { follow, signal, tunnels }: { follow: boolean, signal?: AbortSignal, tunnels?: NodeTunnels }): AsyncGenerator<TerminalChunk> {
  const socket = dialTerminal(target, 'viewer', undefined, tunnels)
  const queue: Array<TerminalChunk | Error | null> = []
  let wake: (() => void) | null = null
  const push = (item: TerminalChunk | Error | null) => { queue.push(item); wake?.() }
  let helloSeen = false
  let pendingEnd: NodeJS.Timeout | null = null

  socket.on('message', (data, isBinary) => {
    if (isBinary) {
      push({ kind: 'output', data: Buffer.from(data as Buffer) })
      // The scrollback is the first binary frame after the hello.
      if (!follow) push(null)
      return
    }
    const frame = JSON.parse(data.toString()) as { type?: string, code?: number | null, signal?: string | null }
    if (frame.type === 'hello') {
      helloSeen = true
      // No scrollback comes when the terminal has printed nothing yet: give it a moment.
      if (!follow) pendingEnd = setTimeout(() => push(null), 200)
    } else if (frame.type === 'exit') push({ kind: 'exit', code: frame.code ?? null, signal: frame.signal ?? null })
  })
  socket.on('unexpected-response', (_req, res) => {
    // 410: the process ended after the runner was read as running; its exit is on its way.
    push(res.statusCode === 410 ? errors.runnerFinished(target.runner.id, 'exited') : errors.nodeUnreachable(target.runner.id, target.nodeId))
    socket.terminate()
  })
  socket.on('error', () => push(errors.nodeUnreachable(target.runner.id, target.nodeId)))
  socket.on('close', () => push(helloSeen ? null : errors.nodeUnreachable(target.runner.id, target.nodeId)))
  const abort = () => socket.terminate()
  signal?.addEventListener('abort', abort)

  try {
    for (;;) {
      if (queue.length === 0) await new Promise<void>(resolve => { wake = resolve })
      wake = null
      const item = queue.shift()
      if (item === null || item === undefined) return
      if (item instanceof Error) throw item
      if (item.kind === 'output' && pendingEnd) { clearTimeout(pendingEnd); pendingEnd = null }
      yield item
      if (item.kind === 'exit') return
    }
  } finally {
    if (pendingEnd) clearTimeout(pendingEnd)
    signal?.removeEventListener('abort', abort)
    if (socket.readyState <= WebSocket.OPEN) socket.close(1000)
  }
}
