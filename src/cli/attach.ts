// `stratavore attach`: the runner's terminal on this one, over the attach WebSocket
// (docs/api/attach.md): raw mode, keystrokes out as binary frames, output in as it comes, resize
// forwarded. Ctrl-] (0x1d, telnet's escape) detaches and leaves the runner running; docker's
// Ctrl-P Ctrl-Q was not taken because shells and editors bind Ctrl-P. Whatever ends the
// session (the runner's exit, the detach key, a dropped socket, a signal, an exception), the
// terminal is put back as it was: the `finally` below is the one way out.
import { constants } from 'node:os'
import { Code, ConnectError } from '@connectrpc/connect'
import { WebSocket } from 'ws'
import type { Credential } from './credentials.js'
import { CliError, type Io } from './io.js'

export const DETACH_BYTE = 0x1d

export interface AttachOptions {
  baseUrl: string
  /** Sent as `Authorization: Bearer` on the upgrade, as every RPC sends it. */
  credential: Credential
  runnerId: string
  io: Io
  /** Join as a viewer: no raw mode, no keystrokes; Ctrl-C leaves. */
  readOnly: boolean
}

const CLOSE_REASONS: Record<number, string> = {
  1001: 'the runner\'s supervisor is stopping',
  1009: 'a frame was too large',
  1011: 'the runner\'s supervisor cannot be reached',
  1013: 'this client fell too far behind the output',
}

interface Frame { type?: string, role?: string, code?: number | null, signal?: string | null, message?: string }

const attachUrl = ({ baseUrl, runnerId, io, readOnly }: AttachOptions) => {
  const url = new URL(`${baseUrl}/api/v1/runners/${encodeURIComponent(runnerId)}/attach`)
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
  url.searchParams.set('mode', readOnly ? 'read' : 'write')
  const { columns, rows } = io.stdout
  if (io.stdout.isTTY && columns && rows) {
    url.searchParams.set('cols', String(Math.min(columns, 1000)))
    url.searchParams.set('rows', String(Math.min(rows, 1000)))
  }
  return url.toString()
}

/**
 * The problem+json of a refused upgrade as one line. A refused credential becomes the RPC error
 * it would be, so it reads as every other command's (describeError).
 */
const refusal = async (res: NodeJS.ReadableStream & { statusCode?: number }, readOnly: boolean): Promise<Error> => {
  let body = ''
  for await (const chunk of res) body += chunk.toString()
  let detail: string | undefined
  try {
    const problem = JSON.parse(body) as { detail?: string, title?: string }
    detail = problem.detail ?? problem.title
  } catch { /* not a problem body: the status says it */ }
  const message = detail ?? `attach refused: HTTP ${res.statusCode}`
  if (res.statusCode === 401) return new ConnectError(message, Code.Unauthenticated)
  // A viewer's token may watch but not type.
  if (res.statusCode === 403) return new ConnectError(`${message}${readOnly ? '' : '; `stratavore attach --read-only` watches'}`, Code.PermissionDenied)
  return new CliError(message)
}

/** A process's end as a shell reports it: its code, or 128 + the signal's number. */
export const exitCodeOf = ({ code, signal }: { code?: number | null, signal?: string | null }): number =>
  code ?? (signal ? 128 + (constants.signals[signal as NodeJS.Signals] ?? 0) : 1)

/** How a session ended: the runner's process exited (with its exit frame), or this client left. */
export interface AttachEnd { code: number, exit: { code: number | null, signal: string | null } | null }

/** Resolves with the exit code once the session ends (the agent's, when it exited); rejects with a CliError for failures. */
export const attachTerminal = (options: AttachOptions): Promise<number> => attachSession(options).then(end => end.code)

export const attachSession = (options: AttachOptions): Promise<AttachEnd> => {
  const { io, runnerId, readOnly } = options
  const short = runnerId.slice(0, 13)
  const stdin = io.stdin
  const raw = !readOnly && Boolean(stdin.isTTY) && typeof stdin.setRawMode === 'function'
  const { credential } = options
  const socket = new WebSocket(attachUrl(options), credential.token === null ? {} : { headers: { authorization: `Bearer ${credential.token}` } })
  const cleanups: Array<() => void> = []
  const note = (text: string) => { io.stderr.write(`${raw ? '\r\n' : ''}${text}\n`) }

  const session = new Promise<AttachEnd>((resolve, reject) => {
    let exitFrame: Frame | null = null
    let detached = false
    const detach = (why: string, code = 0) => {
      detached = true
      note(why)
      socket.close(1000)
      resolve({ code, exit: null })
    }

    socket.once('unexpected-response', (_req, res) => { refusal(res, readOnly).then(reject, reject) })
    socket.once('error', err => reject(err))
    socket.once('open', () => {
      if (raw) {
        stdin.setRawMode!(true)
        cleanups.push(() => { stdin.setRawMode!(false) })
      }
      if (io.stderr.isTTY) note(`attached to runner ${short}${readOnly ? ' (read-only; Ctrl-C leaves)' : ' (Ctrl-] detaches)'}${raw ? '\r' : ''}`)
      if (!readOnly) {
        const onData = (chunk: Buffer) => {
          const at = chunk.indexOf(DETACH_BYTE)
          const keys = at === -1 ? chunk : chunk.subarray(0, at)
          if (keys.length > 0 && socket.readyState === WebSocket.OPEN) socket.send(keys, { binary: true })
          if (at !== -1) detach(`detached from runner ${short}; it keeps running (stratavore attach ${short} to return)`)
        }
        stdin.on('data', onData)
        stdin.resume()
        cleanups.push(() => { stdin.off('data', onData); stdin.pause() })
      }
      if (io.stdout.isTTY && !readOnly) {
        const onResize = () => {
          const { columns, rows } = io.stdout
          if (columns && rows && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: 'resize', cols: Math.min(columns, 1000), rows: Math.min(rows, 1000) }))
        }
        io.stdout.on('resize', onResize)
        cleanups.push(() => { io.stdout.off('resize', onResize) })
      }
    })

    // In raw mode Ctrl-C is a keystroke for the agent; these only come from outside (or from
    // Ctrl-C when read-only), and leave the runner alone.
    const onSignal = (signal: NodeJS.Signals) => {
      if (signal === 'SIGINT') detach(`left runner ${short}; it keeps running`)
      else detach(`${signal}: detached from runner ${short}`, signal === 'SIGHUP' ? 129 : 143)
    }
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(signal, onSignal)
      cleanups.push(() => { process.off(signal, onSignal) })
    }

    socket.on('message', (data, isBinary) => {
      if (isBinary) { io.stdout.write(data as Buffer); return }
      let frame: Frame
      try { frame = JSON.parse(data.toString()) as Frame } catch { return }
      if (frame.type === 'hello' && frame.role === 'viewer' && !readOnly) note(`another client holds the keyboard: watching runner ${short} read-only`)
      else if (frame.type === 'error') note(`runner ${short}: ${frame.message ?? frame.code}`)
      else if (frame.type === 'exit') exitFrame = frame
    })
    socket.once('close', code => {
      if (detached) return
      if (exitFrame) {
        const how = exitFrame.signal ? `was killed by ${exitFrame.signal}` : `exited with code ${exitFrame.code ?? 'unknown'}`
        note(`runner ${short} ${how}`)
        resolve({ code: exitCodeOf(exitFrame), exit: { code: exitFrame.code ?? null, signal: exitFrame.signal ?? null } })
      } else if (code === 1000) {
        note(`runner ${short} ended`)
        resolve({ code: 0, exit: { code: null, signal: null } })
      } else {
        reject(new CliError(`attach to runner ${short} ended: ${CLOSE_REASONS[code] ?? `connection closed (${code})`}`))
      }
    })
  })

  return session.finally(() => {
    for (const cleanup of cleanups.reverse()) {
      try { cleanup() } catch { /* the terminal may be gone; the rest must still run */ }
    }
    if (socket.readyState === WebSocket.CONNECTING || socket.readyState === WebSocket.OPEN) socket.terminate()
  })
}
