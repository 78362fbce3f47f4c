// The supervision port over the database: the conditional transitions run here, in this
// process, each in its own unit of work. Used by the in-process supervisor (embedded default,
// or a supervisor holding the database's credentials) and, on the API's side, by
// SupervisionService for a remote node (behind its ownership checks: supervision-service.ts).
import type { Instruments } from '../instruments.js'
import type { Clock, IdGenerator, Log, Repositories, UnitOfWork } from '../ports.js'
import type { SupervisionPort } from './supervision-port.js'
import { createTransitions } from './transitions.js'

export interface DatabaseSupervisionDeps {
  repos: Repositories
  uow: UnitOfWork
  clock: Clock
  ids: IdGenerator
  node: { id: string }
  /** Who events name: `supervisor` in process, `node:<name>` for a remote node. */
  actor?: string
  instruments?: Instruments
  log?: Log
}

export const createDatabaseSupervision = ({ repos, uow, clock, ids, node, actor, instruments, log }: DatabaseSupervisionDeps): SupervisionPort => {
  const transitions = createTransitions({ uow, clock, ids, node, ...(actor ? { actor } : {}), ...(instruments ? { instruments } : {}) })
  return {
    register: transitions.register,
    claim: transitions.claim,
    assigned: () => repos.supervision.assigned(node.id),
    beginMany: transitions.beginMany,
    restart: transitions.restart,
    running: transitions.running,
    exited: transitions.exited,
    sessionSeen: async (runner, generation, seen) => { await transitions.sessionSeen(runner, generation, seen) },
    pausedStopped: (runnerId, generation) => repos.supervision.pausedStopped(runnerId, generation),
    resetRestartAttempts: (runnerId, generation) => repos.supervision.resetRestartAttempts(runnerId, generation),
    async heartbeat (beats) {
      const outcome = await transitions.heartbeat(beats)
      // A pause that fails here is made by the reconciler's next budget pass (level-triggered).
      const paused = await transitions.enforceLimits(outcome, beats)
        .catch(err => { log?.warn({ err }, 'could not pause the runners over a budget or memory limit'); return [] })
      for (const runnerId of outcome.lost) {
        const beat = beats.find(b => b.runnerId === runnerId)
        if (beat) await transitions.recovered(runnerId, beat.generation).catch(err => log?.warn({ err, runnerId }, 'could not recover a lost runner'))
      }
      return { accepted: outcome.accepted, fenced: outcome.fenced, paused }
    },
    activity: transitions.activity,
    pauseForUsageLimit: transitions.pauseForUsageLimit,
    release: transitions.release,
    transcripts: {
      position: sessionId => repos.transcripts.position(sessionId),
      append: (sessionId, slice, maxBytes) => uow.run(tx => tx.transcripts.append(sessionId, slice, maxBytes)),
      reset: sessionId => repos.transcripts.reset(sessionId),
      read: (sessionId, endBytes) => repos.transcripts.read(sessionId, endBytes),
    },
  }
}
