// Where a runner's terminal can be reached: the node whose supervisor runs its process, and the
// key the API MACs its attach ticket with. Refuses with a reason a person can act on: the runner
// is unknown, has finished, has not started yet, or its node cannot be reached.
import { errors } from '../errors.js'
import type { Repositories } from '../ports.js'
import { TERMINAL_STATUSES, type Runner } from './runner.js'

export interface AttachTarget { runner: Runner, nodeId: string, attachUrl: string, attachKey: string }

const REACHABLE = ['running', 'paused', 'stopping']

export const createAttachService = ({ repos, getRunner }: { repos: Repositories, getRunner: (id: string) => Promise<Runner> }) => ({
  async target (runnerId: string): Promise<AttachTarget> {
    const runner = await getRunner(runnerId)
    if (TERMINAL_STATUSES.includes(runner.status)) throw errors.runnerFinished(runner.id, runner.status)
    if (!REACHABLE.includes(runner.status)) {
      if (runner.status === 'lost') throw errors.nodeUnreachable(runner.id, runner.nodeId)
      throw errors.runnerNotStarted(runner.id, runner.status)
    }
    const node = runner.nodeId ? await repos.supervision.nodeAttachInfo(runner.nodeId) : null
    if (!node?.attachUrl || !node.attachKey || node.status !== 'ready') throw errors.nodeUnreachable(runner.id, runner.nodeId)
    return { runner, nodeId: node.nodeId, attachUrl: node.attachUrl, attachKey: node.attachKey }
  },
})

export type AttachService = ReturnType<typeof createAttachService>
