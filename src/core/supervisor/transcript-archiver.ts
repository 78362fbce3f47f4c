// Archives each live agent's transcript into the database as it grows, so that its session can
// be resumed on any node: on every heartbeat the bytes written since the last one go in as
// compressed chunks, with the messages and summary they hold. Past the limit
// (sessions.archive_max_bytes) the archive is dropped and only the counting goes on. Before a
// resume, restoreOf hands the archive to the runtime, which writes it back where the CLI looks.
import type { Log } from '../ports.js'
import type { StartPlan, TranscriptRestore } from './agent-runtime.js'
import type { Tracked } from './node-supervisor.js'
import type { TranscriptArchive } from './supervision-port.js'

// Bytes per chunk: one chunk is one compressed row and one statement.
export const TRANSCRIPT_CHUNK_BYTES = 1024 * 1024

export interface TranscriptArchiverDeps {
  transcripts: TranscriptArchive
  log: Log
  maxBytes: number
}

export const createTranscriptArchiver = ({ transcripts, log, maxBytes }: TranscriptArchiverDeps) => {
  // Where each runner's session transcript was archived up to, as this supervisor last knew it.
  const positions = new Map<string, { sessionId: string, offset: number }>()
  // One archive pass per runner at a time: heartbeats can overlap (the exit's own beat, a slow
  // database), and two readers of one transcript would each take half of its facts.
  const inFlight = new Map<string, Promise<void>>()

  const archive = async (t: Tracked): Promise<void> => {
    const sessionId = t.sessionId
    if (!sessionId) return
    let at = positions.get(t.runner.id)
    if (at?.sessionId !== sessionId) {
      const position = await transcripts.position(sessionId)
      if (!position) return
      at = { sessionId, offset: position.bytes }
      positions.set(t.runner.id, at)
    }
    for (;;) {
      const slice = await t.agent.readTranscript(at.offset, TRANSCRIPT_CHUNK_BYTES)
      if (slice === null || (slice !== 'shrank' && slice.data.byteLength === 0)) return
      if (slice === 'shrank') {
        // Rewritten in place: what was archived no longer matches it; start over from its start.
        log.warn({ runnerId: t.runner.id, sessionId, archivedBytes: at.offset }, 'the transcript shrank; archiving it again from its start')
        await transcripts.reset(sessionId)
        at.offset = 0
        continue
      }
      const position = await transcripts.append(sessionId, slice, maxBytes)
      if (!position) {
        // Another writer moved the archive (or it was reset): read where it stands next time.
        positions.delete(t.runner.id)
        return
      }
      if (position.archive === 'over_limit' && at.offset <= maxBytes && position.bytes > maxBytes) {
        log.warn({ runnerId: t.runner.id, sessionId, limit: maxBytes }, 'the transcript grew past sessions.archive_max_bytes: it is no longer archived and resumes only on this node')
      }
      at.offset = position.bytes
      if (slice.data.byteLength < TRANSCRIPT_CHUNK_BYTES) return
    }
  }

  return {
    /** Archives what each agent wrote since the last call; a failure is logged, never thrown. */
    async archiveAll (tracked: Tracked[]) {
      await Promise.all(tracked.map(t => {
        const id = t.runner.id
        const next = (inFlight.get(id) ?? Promise.resolve()).then(() => archive(t)).catch(err => {
          positions.delete(id)
          log.warn({ err, runnerId: id, sessionId: t.sessionId }, 'could not archive the transcript; will retry')
        }).finally(() => { if (inFlight.get(id) === next) inFlight.delete(id) })
        inFlight.set(id, next)
        return next
      }))
    },
    forget: (runnerId: string) => { positions.delete(runnerId) },
  }
}

export type TranscriptArchiver = ReturnType<typeof createTranscriptArchiver>

/** The archive a resume must write back first, when the session's transcript is in the database. */
export const restoreOf = async (transcripts: TranscriptArchive, plan: Omit<StartPlan, 'restore'>): Promise<TranscriptRestore | null> => {
  if (plan.conversationMode !== 'resume' || !plan.sessionId) return null
  const sessionId = plan.sessionId
  const position = await transcripts.position(sessionId)
  if (position?.archive !== 'archived' || !position.name || position.bytes === 0) return null
  return { name: position.name, bytes: position.bytes, read: () => transcripts.read(sessionId, position.bytes) }
}
