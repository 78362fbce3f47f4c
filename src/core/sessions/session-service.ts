// Session use cases: read-only here; sessions are recorded by supervisors as agents report them,
// and their transcripts archived as they grow (supervisor/transcript-archiver.ts).
import { errors } from '../errors.js'
import type { Repositories } from '../ports.js'
import { checkInteger } from '../validation.js'
import type { Session } from './session.js'

export interface SessionFilter { project?: string, runnerId?: string, resumableOnly?: boolean, limit?: number }

export interface TranscriptExport {
  session: Session
  /** The file name the transcript has under the agent's home (`<id>.jsonl`, `rollout-…jsonl`). */
  fileName: string
  bytes: number
  chunks: AsyncIterable<Uint8Array>
}

export const createSessionService = ({ repos, archiveMaxBytes }: { repos: Repositories, archiveMaxBytes: number }) => {
  const get = async (id: string): Promise<Session> => {
    const session = await repos.sessions.find(id)
    if (!session) throw errors.sessionNotFound(id)
    return session
  }

  return {
    get,

    async list (filter: SessionFilter): Promise<Session[]> {
      if (filter.project !== undefined && !await repos.projects.find(filter.project)) throw errors.projectNotFound(filter.project)
      return repos.sessions.list({ ...filter, limit: checkInteger('limit', filter.limit ?? 100, 1, 1000) })
    },

    /**
     * The archived transcript, as the agent's CLI wrote it, up to the last heartbeat. Refused
     * when nothing is archived, or when it grew past the limit (the prefix kept would be a
     * conversation cut short, so none is kept).
     */
    async transcript (id: string): Promise<TranscriptExport> {
      const session = await get(id)
      const position = await repos.transcripts.position(id)
      if (!position || position.archive === 'none' || position.bytes === 0) throw errors.transcriptNotArchived(id)
      if (position.archive === 'over_limit') throw errors.transcriptOverArchiveLimit(id, position.bytes, archiveMaxBytes)
      const fileName = position.name?.split(/[\\/]/).at(-1) || `${id}.jsonl`
      return { session, fileName, bytes: position.bytes, chunks: repos.transcripts.read(id, position.bytes) }
    },
  }
}

export type SessionService = ReturnType<typeof createSessionService>
