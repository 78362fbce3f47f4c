// The two ways a runner's program is attached: a pseudo-terminal (interactive agents, viewers
// type into it) or pipes (headless agents printing NDJSON). Both put the program in a new
// session, so its pid is also its process group id: node-pty calls setsid, and
// child_process's `detached: true` does the same. Neither uses a shell.
//
// These only attach and report; stopping, cleanup and the exit promise live in spawn-agent.ts.
import { spawn as spawnChild } from 'node:child_process'
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

/**
 * node-pty, with `encoding: null` so output arrives as the bytes the program wrote: a string
 * decoder would turn invalid UTF-8 into U+FFFD. node-pty's exit event already waits for the
 * terminal's read side to close (at most 200 ms when a descendant holds it open), so the
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
  // Typed as string, but a Buffer with encoding null.
  pty.onData((data: string | Buffer) => events.output(typeof data === 'string' ? Buffer.from(data, 'utf8') : data))
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
