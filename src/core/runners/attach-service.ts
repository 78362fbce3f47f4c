// Where a runner's terminal can be reached: the node whose supervisor runs its process, and the
// key the API MACs its attach ticket with. Refuses with a reason a person can act on: the runner
// is unknown, has finished, has not started yet, or its node cannot be reached. Its output is
// read live from the same place while the process runs, and from what was kept at its end
// (exit-report.ts) once it is gone, on whichever daemon is asked.
import { errors } from '../errors.js'
import type { Repositories } from '../ports.js'
import { TERMINAL_STATUSES, type Runner } from './runner.js'

export interface AttachTarget { runner: Runner, nodeId: string, attachUrl: string, attachKey: string }

/** Where a runner's output is: its live terminal, or the tail kept when its last life ended. */
export type OutputSource =
  | { kind: 'live', target: AttachTarget }
  | { kind: 'kept', runner: Runner, output: Buffer, signal: string | null }

const REACHABLE = ['running', 'paused', 'stopping']

export const createAttachService = ({ repos, getRunner }: { repos: Repositories, getRunner: (id: string) => Promise<Runner> }) => ({
  target: async (runnerId: string): Promise<AttachTarget> => targetOf(repos, await getRunner(runnerId)),

  /**
   * Live while the process runs; else the output kept from its last life (an ended runner, or
   * one waiting to restart); an ended runner that kept none (stopped before it started) has
   * empty output. A runner that has not run yet, or a lost one, is refused as attach refuses it.
   */
  async outputSource (runnerId: string): Promise<OutputSource> {
    const runner = await getRunner(runnerId)
    if (REACHABLE.includes(runner.status)) return { kind: 'live', target: await targetOf(repos, runner) }
    const kept = await repos.runners.keptOutput(runner.id)
    if (kept) return { kind: 'kept', runner, output: kept.output, signal: kept.signal }
    if (TERMINAL_STATUSES.includes(runner.status)) return { kind: 'kept', runner, output: Buffer.alloc(0), signal: null }
    return { kind: 'live', target: await targetOf(repos, runner) }
  },
})

const targetOf = async (repos: Repositories, runner: Runner): Promise<AttachTarget> => {
  if (TERMINAL_STATUSES.includes(runner.status)) throw errors.runnerFinished(runner.id, runner.status)
  if (!REACHABLE.includes(runner.status)) {
    if (runner.status === 'lost') throw errors.nodeUnreachable(runner.id, runner.nodeId)
    throw errors.runnerNotStarted(runner.id, runner.status)
  }
  const node = runner.nodeId ? await repos.supervision.nodeAttachInfo(runner.nodeId) : null
  if (!node?.attachUrl || !node.attachKey || node.status !== 'ready') throw errors.nodeUnreachable(runner.id, runner.nodeId)
  return { runner, nodeId: node.nodeId, attachUrl: node.attachUrl, attachKey: node.attachKey }
}

export type AttachService = ReturnType<typeof createAttachService>
