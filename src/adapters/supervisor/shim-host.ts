// The runtime's side of runner shims (src/adapters/pty/shim/): starting an agent in a shim of
// its own, finding a shim an earlier supervisor left (by runner and generation, authenticated
// by the secret in its 0600 record), reading an exit that happened while no supervisor was
// connected, and ending a leftover shim of another generation.
import { killTagged } from '../pty/kill-tree.js'
import { checkWorkingDirectory, resolveExecutable } from '../pty/resolve-executable.js'
import { connectShim, type ShimTerminal } from '../pty/shim/shim-client.js'
import {
  checkShimDir, launchShim, readExitRecord, readShimRecord, removeShimFiles, shimDirOf, shimPaths, shimProgram,
} from '../pty/shim/shim-launcher.js'
import type { AgentProcess, ExitStatus, SpawnOptions } from '../pty/types.js'

/** How long a shim whose agent exited waits for a supervisor to collect the exit (the exit file stays after). */
const COLLECT_GRACE_MS = 10 * 60 * 1000

/** What a shim gave back: its terminal (live, or the record of an agent that has ended) and the meta it was started with. */
export interface HeldTerminal { terminal: AgentProcess, meta: unknown, startedAt: number, release(): void, detach?(): void }

export const createShimHost = (dataDir: string, tagOf: (runnerId: string) => string) => {
  const dir = shimDirOf(dataDir)
  checkShimDir(dir)

  // A shim gone without a word (killed): its agent lost its terminal; whatever is left is ended.
  const lostExit = (runnerId: string, generation: number) => (): ExitStatus => {
    void killTagged(tagOf(runnerId), 0)
    const record = readExitRecord(dir, runnerId)
    return record && record.generation === generation ? record.exit : { code: null, signal: 'SIGKILL' }
  }

  const releaser = (runnerId: string, generation: number, terminal: ShimTerminal | null) => () => {
    terminal?.collect()
    if (readShimRecord(dir, runnerId)?.generation === generation) removeShimFiles(dir, runnerId)
  }

  const held = (terminal: ShimTerminal, runnerId: string, generation: number): HeldTerminal =>
    ({ terminal, meta: terminal.meta, startedAt: terminal.startedAt, release: releaser(runnerId, generation, terminal), detach: () => terminal.detach() })

  return {
    /** Compiles the shim now, so the first start does not wait for it. */
    prepare: () => shimProgram(dir),

    /** `unattended`: when the shim stops its agent for want of a supervisor (shim-main.ts); omitted, never. */
    async start (runnerId: string, generation: number, options: SpawnOptions, meta: unknown, unattended = { stopMs: 0, graceMs: 0 }): Promise<HeldTerminal> {
      // The shim would find these too, but only after it started: here they fail the start at once, clearly.
      const [program] = options.argv
      if (program === undefined || program === '') throw new Error('the runner has no program to run (argv is empty)')
      checkWorkingDirectory(options.cwd)
      resolveExecutable(program, options.cwd, options.env)
      const { record } = await launchShim({
        dir, runnerId, generation, argv: options.argv, cwd: options.cwd, env: options.env, terminal: options.terminal,
        scrollbackBytes: options.scrollbackBytes ?? 256 * 1024, ...(options.user ? { user: options.user } : {}), collectGraceMs: COLLECT_GRACE_MS,
        unattendedStopMs: unattended.stopMs, stopGraceMs: unattended.graceMs, meta,
      })
      const terminal = await connectShim(shimPaths(dir, runnerId).socket, record, { scrollbackBytes: options.scrollbackBytes ?? 256 * 1024, lost: lostExit(runnerId, generation) })
      if (!terminal) {
        await killTagged(tagOf(runnerId), 0)
        removeShimFiles(dir, runnerId)
        throw new Error('the agent\'s shim started but did not answer')
      }
      return held(terminal, runnerId, generation)
    },

    /** The shim an earlier supervisor left for this generation, or the exit it recorded; null when neither. */
    async reconnect (runnerId: string, generation: number, scrollbackBytes: number): Promise<HeldTerminal | null> {
      const record = readShimRecord(dir, runnerId)
      if (!record || record.generation !== generation) return null
      const terminal = await connectShim(shimPaths(dir, runnerId).socket, record, { scrollbackBytes, lost: lostExit(runnerId, generation) })
      if (terminal) return held(terminal, runnerId, generation)
      const ended = readExitRecord(dir, runnerId)
      if (!ended || ended.generation !== generation) return null
      const output = Buffer.from(ended.output, 'base64')
      const exited = Promise.resolve(ended.exit)
      const finished: AgentProcess = {
        pid: ended.pid, terminal: false, exited,
        onOutput: () => () => {}, onStdoutLine: () => () => {},
        scrollback: () => output,
        write () { throw new Error('the runner has ended') },
        resize () {},
        size: () => ({ cols: 0, rows: 0 }),
        stop: () => exited,
      }
      return { terminal: finished, meta: ended.meta, startedAt: ended.startedAt, release: releaser(runnerId, generation, null) }
    },

    /** Ends the shim (any generation) left for this runner and its agent; true if there was one. */
    async killLeftover (runnerId: string): Promise<boolean> {
      const record = readShimRecord(dir, runnerId)
      if (!record) return false
      const terminal = await connectShim(shimPaths(dir, runnerId).socket, record, { scrollbackBytes: 4096, timeoutMs: 2000, lost: () => ({ code: null, signal: 'SIGKILL' }) })
      if (terminal) {
        await Promise.race([terminal.stop(0), new Promise(resolve => setTimeout(resolve, 5000))])
        terminal.collect()
      }
      removeShimFiles(dir, runnerId)
      return terminal !== null
    },
  }
}

export type ShimHost = ReturnType<typeof createShimHost>
