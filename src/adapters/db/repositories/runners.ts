// Runner rows. Every state-changing statement is conditional on the state it leaves and bumps
// event_seq in the same statement, so the caller writes exactly one event per real transition.
import { and, count, desc, eq, lt, notInArray, sql, type SQL } from 'drizzle-orm'
import type { RunnerFilter, RunnerRepository } from '../../../core/ports.js'
import { TERMINAL_STATUSES, type Runner } from '../../../core/runners/runner.js'
import type { Db } from '../client.js'
import { runners } from '../schema.js'

type RunnerRow = typeof runners.$inferSelect

export const toRunner = (row: RunnerRow): Runner => ({
  ...row,
  runtimeType: row.runtimeType as Runner['runtimeType'],
  status: row.status as Runner['status'],
  desiredState: row.desiredState as Runner['desiredState'],
  conversationMode: row.conversationMode as Runner['conversationMode'],
})

const notTerminal = notInArray(runners.status, [...TERMINAL_STATUSES])
const bumpSeq = { eventSeq: sql`${runners.eventSeq} + 1` }

const filterCondition = ({ project, status }: RunnerFilter): SQL | undefined =>
  and(project !== undefined ? eq(runners.projectName, project) : undefined, status !== undefined ? eq(runners.status, status) : undefined)

export const createRunnerRepository = (db: Db): RunnerRepository => ({
  async insert (runner) {
    const [row] = await db.insert(runners).values({ ...runner, status: 'pending', desiredState: 'running', eventSeq: 1, updatedAt: runner.createdAt }).returning()
    return toRunner(row!)
  },

  async find (id) {
    const [row] = await db.select().from(runners).where(eq(runners.id, id)).limit(1)
    return row ? toRunner(row) : null
  },

  async list ({ limit, beforeId, ...filter }) {
    const rows = await db.select().from(runners)
      .where(and(filterCondition(filter), beforeId ? lt(runners.id, beforeId) : undefined))
      .orderBy(desc(runners.id))
      .limit(limit)
    return rows.map(toRunner)
  },

  async count (filter) {
    const [row] = await db.select({ n: count() }).from(runners).where(filterCondition(filter))
    return row?.n ?? 0
  },

  async countActive (project) {
    const [row] = await db.select({ n: count() }).from(runners).where(and(eq(runners.projectName, project), notTerminal))
    return row?.n ?? 0
  },

  async requestStop (id, { force, timeoutSeconds, at }) {
    const [row] = await db.update(runners)
      .set({ desiredState: 'stopped', stopForce: force, stopTimeoutSeconds: timeoutSeconds, stopRequestedAt: at, updatedAt: at, ...bumpSeq })
      .where(and(eq(runners.id, id), notTerminal))
      .returning()
    return row ? toRunner(row) : null
  },

  async terminateUnstarted (id, at) {
    const [row] = await db.update(runners)
      .set({ status: 'terminated', desiredState: 'stopped', stopRequestedAt: at, terminatedAt: at, updatedAt: at, ...bumpSeq })
      .where(and(eq(runners.id, id), eq(runners.status, 'pending')))
      .returning()
    return row ? toRunner(row) : null
  },
})
