// Session rows: the agent conversations that runners can resume.
import { and, desc, eq, sql } from 'drizzle-orm'
import type { SessionRepository } from '../../../core/ports.js'
import type { Session } from '../../../core/sessions/session.js'
import type { Db } from '../client.js'
import { sessions } from '../schema.js'

const toSession = ({ transcriptPath: _path, transcriptName: _name, transcriptArchive, ...row }: typeof sessions.$inferSelect): Session =>
  ({ ...row, transcriptArchive: transcriptArchive as Session['transcriptArchive'] })

export const createSessionRepository = (db: Db): SessionRepository => ({
  async find (id) {
    const [row] = await db.select().from(sessions).where(eq(sessions.id, id)).limit(1)
    return row ? toSession(row) : null
  },

  async list ({ project, runnerId, resumableOnly, limit }) {
    const rows = await db.select().from(sessions)
      .where(and(
        project !== undefined ? eq(sessions.projectName, project) : undefined,
        runnerId !== undefined ? eq(sessions.runnerId, runnerId) : undefined,
        // Ended sessions resume too; one with a live runner is attached to rather than resumed.
        resumableOnly ? eq(sessions.resumable, true) : undefined,
      ))
      .orderBy(sql`coalesce(${sessions.lastMessageAt}, ${sessions.startedAt}) desc`, desc(sessions.createdAt))
      .limit(limit)
    return rows.map(toSession)
  },
})
