// The supervisor's end of a shim's socket: an AgentProcess (as spawn-agent.ts gives) whose
// process lives in the shim, so the attach server and the runtime use either the same way. It
// keeps its own scrollback from the shim's replay, which covers what the agent printed before
// this supervisor connected.
import { connect } from 'node:net'
import { createLineSplitter } from '../line-splitter.js'
import { createScrollback } from '../scrollback.js'
import type { AgentProcess, ExitStatus } from '../types.js'
import {
  createFrameReader, encodeFrame, FrameType, jsonFrame, OUTPUT_STREAM, parseOutput, SHIM_PROTOCOL_VERSION, STDOUT_STREAM,
  type Hello, type Welcome,
} from './shim-protocol.js'
import type { ShimRecord } from './shim-launcher.js'

export interface ShimTerminal extends AgentProcess {
  startedAt: number
  meta: unknown
  /** The exit is recorded: the shim may end now. */
  collect(): void
  /** Closes the connection and leaves the shim and its agent running (a supervisor going away). */
  detach(): void
}

/**
 * Connects and authenticates; null when no shim answers for this runner and generation (none
 * listening, or one of another generation). `lost` is what `exited` resolves with if the shim
 * goes away without reporting an exit.
 */
export const connectShim = (socketPath: string, record: ShimRecord, { scrollbackBytes, timeoutMs = 5000, lost }: {
  scrollbackBytes: number
  timeoutMs?: number
  lost: () => ExitStatus
}): Promise<ShimTerminal | null> => new Promise(resolve => {
  const socket = connect(socketPath)
  const scrollback = createScrollback(scrollbackBytes)
  const outputListeners = new Set<(chunk: Buffer) => void>()
  const lineListeners = new Set<(line: string) => void>()
  // Lines replayed before anyone listens (they arrive with the welcome) wait for the first listener.
  let heldLines: string[] | null = []
  const lines = createLineSplitter(line => {
    if (heldLines) heldLines.push(line)
    else for (const listener of lineListeners) listener(line)
  })
  const seen: [number, number] = [0, 0]
  let welcome: Welcome | null = null
  let size = { cols: 0, rows: 0 }
  let detached = false
  let resolveExited!: (status: ExitStatus) => void
  const exited = new Promise<ExitStatus>(done => { resolveExited = done })
  const timer = setTimeout(() => { socket.destroy(); resolve(null) }, timeoutMs)
  const send = (frame: Buffer) => { if (!socket.destroyed) socket.write(frame) }

  const terminal = (): ShimTerminal => ({
    pid: welcome!.pid,
    terminal: welcome!.terminal,
    startedAt: welcome!.startedAt,
    meta: welcome!.meta,
    exited,
    onOutput (listener) { outputListeners.add(listener); return () => { outputListeners.delete(listener) } },
    onStdoutLine (listener) {
      lineListeners.add(listener)
      const held = heldLines ?? []
      heldLines = null
      for (const line of held) listener(line)
      return () => { lineListeners.delete(listener) }
    },
    scrollback: () => scrollback.snapshot(),
    write (data) {
      if (!welcome!.terminal) throw new Error('this runner is headless (started on pipes): it has no terminal to type into')
      send(encodeFrame(FrameType.input, Buffer.isBuffer(data) ? data : Buffer.from(data)))
    },
    resize (cols, rows) {
      if (!welcome!.terminal) return
      size = { cols, rows }
      send(jsonFrame(FrameType.resize, { cols, rows }))
    },
    size: () => size,
    stop (timeoutMs) {
      send(jsonFrame(FrameType.stop, { timeoutMs }))
      return exited
    },
    collect () { send(encodeFrame(FrameType.collect)); socket.end() },
    detach () { detached = true; socket.destroy() },
  })

  const read = createFrameReader((type, payload) => {
    if (type === FrameType.welcome) {
      clearTimeout(timer)
      welcome = JSON.parse(payload.toString('utf8')) as Welcome
      size = { cols: welcome.cols, rows: welcome.rows }
      resolve(terminal())
    } else if (type === FrameType.output) {
      const { stream, offset, bytes } = parseOutput(payload)
      // A replay may overlap what was already seen (never after a reconnect in this process, but cheap to guard).
      const fresh = bytes.subarray(Math.max(0, seen[stream === STDOUT_STREAM ? 1 : 0] - offset))
      if (stream === OUTPUT_STREAM) {
        seen[0] = offset + bytes.length
        scrollback.append(fresh)
        for (const listener of outputListeners) listener(fresh)
      } else {
        seen[1] = offset + bytes.length
        lines.push(fresh)
      }
    } else if (type === FrameType.exit) {
      lines.end()
      resolveExited(JSON.parse(payload.toString('utf8')) as ExitStatus)
    }
  })
  socket.on('connect', () => {
    const hello: Hello = { version: SHIM_PROTOCOL_VERSION, runnerId: record.runnerId, generation: record.generation, secret: record.secret, from: [0, 0] }
    socket.write(jsonFrame(FrameType.hello, hello))
  })
  socket.on('data', (chunk: Buffer) => {
    try { read(chunk) } catch { socket.destroy() }
  })
  socket.on('error', () => socket.destroy())
  socket.on('close', () => {
    clearTimeout(timer)
    if (!welcome) return resolve(null)
    if (!detached) resolveExited(lost())
  })
})
