// The session a live agent reports, recorded once per id. Called by the converge pass, before
// each heartbeat (so the tokens the beat counts land on the session) and when the process has
// exited: a headless run can be over before any pass saw the id it printed (a Codex exec that
// ends within a second or two printed `thread.started` and left no session otherwise).
import type { Log } from '../ports.js'
import type { Tracked } from './node-supervisor.js'
import type { SupervisionPort } from './supervision-port.js'

export const syncSession = (t: Tracked, transitions: SupervisionPort, log: Log): Promise<void> => {
  const sessionId = t.agent.sessionId()
  if (sessionId && sessionId !== t.sessionId) {
    t.sessionId = sessionId
    // Chained: a second call waits for the write in flight instead of racing it.
    t.sessionWrite = t.sessionWrite
      .then(() => transitions.sessionSeen(t.runner, t.generation, { sessionId, transcriptPath: t.agent.transcriptPath(), resumable: t.agent.resumable }))
      .then(() => {}, err => {
        if (t.sessionId === sessionId) t.sessionId = null
        log.warn({ err, runnerId: t.runner.id }, 'could not record the session')
      })
  }
  return t.sessionWrite
}
