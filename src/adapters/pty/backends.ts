// The two ways a runner's program is attached: a pseudo-terminal (interactive agents, viewers
// type into it) or pipes (headless agents printing NDJSON). Both put the program in a new
// session, so its pid is also its process group id: node-pty calls setsid, and
// child_process's `detached: true` does the same. Neither uses a shell.
//
// These only attach and report; stopping, cleanup and the exit promise live in spawn-agent.ts.
import { spawn as spawnChild } from 'node:child_process'
import { closeSync, constants as fsConstants, openSync } from 'node:fs'
import { constants as osConstants } from 'node:os'
import { spawn as spawnPty } from '@lydell/node-pty'
import { createLineSplitter } from './line-splitter.js'
import type { ExitStatus } from './types.js'

export interface Backend {
  pid: number
  write(data: string | Buffer): void
  resize(cols: number, rows: number): void
  size(): { cols: number, rows: number }
}

export interface BackendEvents {
  output(chunk: Buffer): void
  stdoutLine(line: string): void
  /** The program itself has exited and been reaped; output may still be in flight. */
  leaderExited(status: ExitStatus): void
  /** No more output will come. Always after leaderExited. */
  drained(): void
}

export interface AttachOptions {
  file: string
  args: string[]
  cwd: string
  env: Record<string, string>
  cols: number
  rows: number
  user?: { uid: number, gid: number } | undefined
}

/** After the program exits, how long to wait for its output pipes to close before giving up
 *  on them: a descendant that escaped every kill keeps them open forever. */
const PIPE_CLOSE_GRACE_MS = 2000

// Several names share a number (SIGIOT is SIGABRT); the first listed is the usual one.
const signalNames = new Map<number, string>()
for (const [name, number] of Object.entries(osConstants.signals)) if (!signalNames.has(number)) signalNames.set(number, name)

/** No output for this long, after the program has exited, means its output is all read. */
const READING_QUIET_MS = 150

/**
 * The end of a program's output must not be lost when it exits (node-pty#72, #726). Two things
 * lose it on Linux: when the last holder of the terminal's other side closes it, a read of our
 * side can meet the end (EOF or EIO) before output still queued in the kernel is read (seen
 * under load: a 2 MB burst lost its last 6 KB); and node-pty destroys our side 200 ms after the
 * exit if it has not closed by then. So we hold the other side open ourselves (node-pty keeps its
 * device path in `_pty`), which keeps the end away, and hold back node-pty's destroy until the
 * output has stopped: nothing for READING_QUIET_MS and one more turn of the event loop's I/O
 * phase (a timer can run before pending reads), or PIPE_CLOSE_GRACE_MS at most (a descendant that
 * escaped every kill may keep writing). Then our hold is closed and the destroy goes ahead; node-pty
 * reports the exit after it. Stratavore never destroys the socket itself, so every destroy seen
 * here is that timeout. (Both fields are node-pty's own; without them its behaviour is kept.)
 */
function drainBeforeExit(pty: unknown): { outputSeen(): void } {
  const internals = pty as { _pty?: unknown, _socket?: { destroy(...args: unknown[]): unknown, destroyed?: boolean } }
  const socket = internals._socket
  let lastOutputAt = Date.now()
  const outputSeen = () => { lastOutputAt = Date.now() }
  if (!socket || typeof socket.destroy !== 'function' || typeof internals._pty !== 'string') return { outputSeen }
  let hold: number | null = null
  try { hold = openSync(internals._pty, fsConstants.O_RDWR | fsConstants.O_NOCTTY) } catch { /* the end may then come early, as without */ }
  const destroy = socket.destroy.bind(socket)
  socket.destroy = (...args: unknown[]) => {
    const askedAt = Date.now()
    const finish = () => {
      if (hold !== null) { closeSync(hold); hold = null }
      if (!socket.destroyed) destroy(...args)
    }
    const whenQuiet = () => {
      const quietFor = Date.now() - lastOutputAt
      if (Date.now() - askedAt >= PIPE_CLOSE_GRACE_MS) return finish()
      if (quietFor < READING_QUIET_MS) return void setTimeout(whenQuiet, READING_QUIET_MS - quietFor)
      const seen = lastOutputAt
      setImmediate(() => lastOutputAt === seen ? finish() : whenQuiet())
    }
    whenQuiet()
    return socket
  }
  return { outputSeen }
}

/**
 * node-pty, with `encoding: null` so output arrives as the bytes the program wrote: a string
 * decoder would turn invalid UTF-8 into U+FFFD. node-pty's exit event waits for the terminal's
 * read side to close (see drainBeforeExit), so the
 * last data event comes before it; a setImmediate covers data queued in the same tick.
 */
export function attachTerminal(options: AttachOptions, events: BackendEvents): Backend {
  const pty = spawnPty(options.file, options.args, {
    name: options.env.TERM ?? 'xterm-256color',
    cols: options.cols,
    rows: options.rows,
    cwd: options.cwd,
    env: options.env,
    encoding: null,
    ...(options.user ? { uid: options.user.uid, gid: options.user.gid } : {}),
  })
  let exited = false
  const drain = drainBeforeExit(pty)
  // Typed as string, but a Buffer with encoding null.
  pty.onData((data: string | Buffer) => {
    drain.outputSeen()
    events.output(typeof data === 'string' ? Buffer.from(data, 'utf8') : data)
  })
  pty.onExit(({ exitCode, signal }) => {
    exited = true
    // node-pty reports a signal death as exitCode 0 plus the signal number.
    const status: ExitStatus = signal
      ? { code: null, signal: signalNames.get(signal) ?? `SIG${signal}` }
      : { code: exitCode, signal: null }
    events.leaderExited(status)
    setImmediate(() => events.drained())
  })
  return {
    pid: pty.pid,
    write(data) {
      // Typing into a runner that just ended is a race, not a fault.
      if (exited) return
      // The socket underneath takes Buffers; the typing says string only.
      pty.write(data as string)
    },
    resize(cols, rows) {
      if (!exited) pty.resize(cols, rows)
    },
    size: () => ({ cols: pty.cols, rows: pty.rows }),
  }
}

/** child_process with stdin from /dev/null; stdout is split into lines as well. */
export function attachPipes(options: AttachOptions, events: BackendEvents): Backend {
  const child = spawnChild(options.file, options.args, {
    cwd: options.cwd,
    env: options.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.user ? { uid: options.user.uid, gid: options.user.gid } : {}),
  })
  const stdout = child.stdout!
  const stderr = child.stderr!
  const lines = createLineSplitter(line => events.stdoutLine(line))
  let leaderDone = false
  let drainedDone = false
  let graceTimer: NodeJS.Timeout | undefined

  const leaderExited = (status: ExitStatus) => {
    if (leaderDone) return
    leaderDone = true
    events.leaderExited(status)
    graceTimer = setTimeout(() => {
      stdout.destroy()
      stderr.destroy()
    }, PIPE_CLOSE_GRACE_MS)
  }
  const drained = () => {
    if (drainedDone) return
    drainedDone = true
    clearTimeout(graceTimer)
    lines.end()
    events.drained()
  }

  stdout.on('data', (chunk: Buffer) => {
    events.output(chunk)
    lines.push(chunk)
  })
  stderr.on('data', (chunk: Buffer) => events.output(chunk))
  child.on('exit', (code, signal) => leaderExited({ code, signal }))
  // 'close' comes after 'exit' and after both pipes have closed.
  child.on('close', drained)
  child.on('error', error => {
    // A failed exec (checked beforehand, so rare: EACCES on a race, EAGAIN) never exits.
    events.output(Buffer.from(`stratavore: could not start ${options.file}: ${error.message}\n`))
    leaderExited({ code: 127, signal: null })
    drained()
  })

  return {
    // Undefined only when the spawn failed; 'error' then reports it.
    pid: child.pid ?? 0,
    write() {
      throw new Error('this runner is headless (started on pipes): it has no terminal to type into')
    },
    resize() {
      // A headless runner has no terminal size; viewers may still send one.
    },
    size: () => ({ cols: 0, rows: 0 }),
  }
}
