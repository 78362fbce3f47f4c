// Session use cases: read-only here; sessions are recorded by supervisors as agents report them.
import { errors } from '../errors.js'
import type { Repositories } from '../ports.js'
import { checkInteger } from '../validation.js'
import type { Session } from './session.js'

export interface SessionFilter { project?: string, runnerId?: string, resumableOnly?: boolean, limit?: number }

export const createSessionService = ({ repos }: { repos: Repositories }) => ({
  async get (id: string): Promise<Session> {
    const session = await repos.sessions.find(id)
    if (!session) throw errors.sessionNotFound(id)
    return session
  },

  async list (filter: SessionFilter): Promise<Session[]> {
    if (filter.project !== undefined && !await repos.projects.find(filter.project)) throw errors.projectNotFound(filter.project)
    return repos.sessions.list({ ...filter, limit: checkInteger('limit', filter.limit ?? 100, 1, 1000) })
  },
})

export type SessionService = ReturnType<typeof createSessionService>
