// Project rows, read together with counters computed from runners and sessions and the quota.
import { and, asc, eq, getTableColumns, sql, type SQL } from 'drizzle-orm'
import { errors } from '../../../core/errors.js'
import type { ProjectRepository } from '../../../core/ports.js'
import { DEFAULT_MAX_CONCURRENT_RUNNERS, type Project, type ProjectStatus } from '../../../core/projects/project.js'
import type { Db } from '../client.js'
import { isUniqueViolation } from '../pg-errors.js'
import type { ChainLocks } from './event-log.js'
import { readLaunchAdmission } from './launch-admission.js'
import { projects, resourceQuotas } from '../schema.js'

const ACTIVE = sql`('terminated', 'failed')`
const hasActiveRunner = sql`exists (select 1 from runners r where r.project_name = ${projects.name} and r.status not in ${ACTIVE})`

const projectView = {
  ...getTableColumns(projects),
  totalRunners: sql<number>`(select count(*) from runners r where r.project_name = ${projects.name})`.mapWith(Number),
  activeRunners: sql<number>`(select count(*) from runners r where r.project_name = ${projects.name} and r.status not in ${ACTIVE})`.mapWith(Number),
  totalSessions: sql<number>`(select count(*) from sessions s where s.project_name = ${projects.name})`.mapWith(Number),
  totalTokens: sql<number>`(select coalesce(sum(r.tokens_used), 0) from runners r where r.project_name = ${projects.name})`.mapWith(Number),
  maxConcurrentRunners: sql<number>`coalesce(${resourceQuotas.maxConcurrentRunners}, ${DEFAULT_MAX_CONCURRENT_RUNNERS})`.mapWith(Number),
}

type ProjectRow = typeof projects.$inferSelect & {
  totalRunners: number, activeRunners: number, totalSessions: number, totalTokens: number, maxConcurrentRunners: number
}

const toProject = (row: ProjectRow): Project => ({
  name: row.name,
  path: row.path,
  status: row.archived ? 'archived' : row.activeRunners > 0 ? 'active' : 'idle',
  description: row.description,
  tags: row.tags,
  totalRunners: row.totalRunners,
  activeRunners: row.activeRunners,
  totalSessions: row.totalSessions,
  totalTokens: row.totalTokens,
  maxConcurrentRunners: row.maxConcurrentRunners,
  createdAt: row.createdAt,
  updatedAt: row.updatedAt,
  lastAccessedAt: row.lastAccessedAt,
  archivedAt: row.archivedAt,
})

const statusCondition = (status: ProjectStatus): SQL => {
  if (status === 'archived') return eq(projects.archived, true)
  return and(eq(projects.archived, false), status === 'active' ? hasActiveRunner : sql`not ${hasActiveRunner}`)!
}

export const createProjectRepository = (db: Db, locks: ChainLocks): ProjectRepository => {
  const select = () => db.select(projectView).from(projects).leftJoin(resourceQuotas, eq(resourceQuotas.projectName, projects.name))
  const findWhere = async (where: SQL) => {
    const [row] = await select().where(where).limit(1)
    return row ? toProject(row) : null
  }

  return {
    async insert (project) {
      try {
        await db.insert(projects).values({ ...project, updatedAt: project.createdAt })
      } catch (err) {
        if (isUniqueViolation(err, 'projects_pkey')) throw errors.projectExists(project.name)
        if (isUniqueViolation(err, 'projects_path_key')) throw errors.projectPathTaken(project.path, '(another project)')
        throw err
      }
    },
    find: name => findWhere(eq(projects.name, name)),
    async pathOf (name) {
      const [row] = await db.select({ path: projects.path }).from(projects).where(eq(projects.name, name)).limit(1)
      return row?.path ?? null
    },
    admission: (name, at, agent) => readLaunchAdmission(db, locks, name, at, agent),
    findByPath: path => findWhere(eq(projects.path, path)),
    async list ({ status }) {
      const rows = await select()
        .where(status ? statusCondition(status) : undefined)
        .orderBy(sql`${projects.lastAccessedAt} desc nulls last`, asc(projects.name))
      return rows.map(toProject)
    },
    async archive (name, at) {
      const [row] = await db.update(projects)
        .set({ archived: true, archivedAt: at, updatedAt: at })
        .where(and(eq(projects.name, name), eq(projects.archived, false)))
        .returning({ name: projects.name })
      return row !== undefined
    },
    async delete (name) {
      const rows = await db.delete(projects).where(eq(projects.name, name)).returning({ name: projects.name })
      return rows.length > 0
    },
    async touch (name, at) {
      await db.update(projects).set({ lastAccessedAt: at }).where(eq(projects.name, name))
    },
    async nextSeq (name) {
      const [row] = await db.update(projects).set({ eventSeq: sql`${projects.eventSeq} + 1` })
        .where(eq(projects.name, name)).returning({ seq: projects.eventSeq })
      if (!row) throw errors.projectNotFound(name)
      return row.seq
    },
  }
}
