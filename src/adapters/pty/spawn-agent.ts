// Starts one agent program under supervision and owns its end: a graceful stop that escalates,
// and cleanup of whatever it leaves behind. The old system ignored Force and Timeout, panicked
// on a second stop and only signalled the leader (original-go-system.md §7.4, §14.2 item 12);
// here stop is idempotent, the timeout is honoured, and a runner that ends, by itself or by
// stop, leaves no process of its tree running.
//
//   running ──stop(t>0)──▶ SIGTERM to group ──t elapses──▶ SIGKILL (group + descendants)
//      │                        │                                │
//      │ leader exits           │ leader exits                   │ leader exits
//      ▼                        ▼                                ▼
//   leader reaped ──▶ SIGKILL to group, snapshot, tagged orphans ──▶ output drained ──▶ exited
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { attachPipes, attachTerminal, type BackendEvents } from './backends.js'
import { descendantsOf, killEverything, killIdentified, signalGroup, type ProcessIdentities } from './kill-tree.js'
import { readProcEntry } from './proc-table.js'
import { systemUnits } from './process-tree.js'
import { checkWorkingDirectory, resolveExecutable, SpawnError } from './resolve-executable.js'
import { createScrollback } from './scrollback.js'
import type { AgentProcess, ExitStatus, SpawnOptions } from './types.js'

/** Set in every runner's environment (inherited by its descendants) to find escaped orphans. */
export const PROCESS_TAG_VARIABLE = 'STRATAVORE_PROCESS_TAG'
export const DEFAULT_COLS = 120
export const DEFAULT_ROWS = 40

export { SpawnError }

/**
 * Throws SpawnError (code ENOENT/EINVAL) at once when argv is empty, the program is not an
 * executable on the runner's PATH or the cwd is not a directory; anything later is reported
 * through `exited`.
 */
export function spawnAgentProcess(options: SpawnOptions): AgentProcess {
  const [program, ...args] = options.argv
  if (program === undefined || program === '') throw new SpawnError('the runner has no program to run (argv is empty)', 'EINVAL')
  checkWorkingDirectory(options.cwd)
  const file = resolveExecutable(program, options.cwd, options.env)
  const tag = `${PROCESS_TAG_VARIABLE}=${randomUUID()}`
  const env = { ...options.env, [PROCESS_TAG_VARIABLE]: tag.slice(PROCESS_TAG_VARIABLE.length + 1) }
  // Only processes started after this instant can carry the tag; the margin absorbs rounding.
  const notBeforeTicks = Math.floor((bootSeconds() - 1) * systemUnits().clockTicksPerSecond)

  const scrollback = createScrollback(options.scrollbackBytes)
  const outputListeners = new Set<(chunk: Buffer) => void>()
  const lineListeners = new Set<(line: string) => void>()
  const known: ProcessIdentities = new Map()
  let leaderStatus: ExitStatus | undefined
  let cleanup: Promise<void> = Promise.resolve()
  let sigtermSent = false
  let killTimer: NodeJS.Timeout | undefined
  let killAt = Infinity
  let resolveExited!: (status: ExitStatus) => void
  const exited = new Promise<ExitStatus>(resolve => { resolveExited = resolve })

  const events: BackendEvents = {
    output(chunk) {
      scrollback.append(chunk)
      for (const listener of outputListeners) callSafely(listener, chunk)
    },
    stdoutLine(line) {
      for (const listener of lineListeners) callSafely(listener, line)
    },
    leaderExited(status) {
      leaderStatus = status
      clearTimeout(killTimer)
      // Whatever the leader left behind dies with it: the group, what stop saw, tagged orphans.
      cleanup = killEverything({ pgid: backend.pid, known, tag, notBeforeTicks }).catch(() => {})
    },
    drained() {
      void cleanup.then(() => resolveExited(leaderStatus!))
    },
  }

  const attachOptions = {
    file,
    args,
    cwd: options.cwd,
    env,
    cols: options.cols ?? DEFAULT_COLS,
    rows: options.rows ?? DEFAULT_ROWS,
    user: options.user,
  }
  const backend = options.terminal ? attachTerminal(attachOptions, events) : attachPipes(attachOptions, events)
  const leaderStartTicks = readProcEntry(backend.pid)?.startTicks

  // Descendants are remembered before each signal: once the leader dies, escaped ones are
  // reparented away and no parent link leads to them.
  function rememberDescendants(): void {
    if (leaderStartTicks === undefined) return
    for (const [pid, startTicks] of descendantsOf(backend.pid, leaderStartTicks)) known.set(pid, startTicks)
  }

  function killWhenDue(): void {
    // libuv measures timers from its cached loop time, which can lag the wall clock, so a
    // timer may fire a little before `timeoutMs` after the stop call; the grace is a promise.
    const remaining = killAt - Date.now()
    if (remaining > 0) killTimer = setTimeout(killWhenDue, remaining)
    else forceKill()
  }

  function forceKill(): void {
    if (leaderStatus !== undefined) return
    rememberDescendants()
    signalGroup(backend.pid, 'SIGKILL')
    killIdentified(known)
  }

  return {
    pid: backend.pid,
    terminal: options.terminal,
    exited,
    onOutput(listener) {
      outputListeners.add(listener)
      return () => { outputListeners.delete(listener) }
    },
    onStdoutLine(listener) {
      lineListeners.add(listener)
      return () => { lineListeners.delete(listener) }
    },
    scrollback: () => scrollback.snapshot(),
    write: data => backend.write(data),
    resize: (cols, rows) => backend.resize(cols, rows),
    size: () => backend.size(),
    stop(timeoutMs) {
      if (leaderStatus !== undefined) return exited
      if (!(timeoutMs > 0)) {
        forceKill()
        return exited
      }
      rememberDescendants()
      if (!sigtermSent) {
        sigtermSent = true
        signalGroup(backend.pid, 'SIGTERM')
      }
      // A later stop with a shorter timeout brings the SIGKILL forward, never back.
      const at = Date.now() + timeoutMs
      if (at < killAt) {
        killAt = at
        clearTimeout(killTimer)
        killTimer = setTimeout(killWhenDue, timeoutMs)
      }
      return exited
    },
  }
}

function bootSeconds(): number {
  return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0])
}

function callSafely<T>(listener: (value: T) => void, value: T): void {
  try {
    listener(value)
  } catch (error) {
    // One broken viewer must not stop the output pump for the others or crash the daemon.
    process.emitWarning(`runner output listener threw: ${error instanceof Error ? error.stack ?? error.message : String(error)}`)
  }
}
