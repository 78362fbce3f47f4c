// Runner rows. Every state-changing statement is conditional on the state it leaves and bumps
// event_seq in the same statement, so the caller writes exactly one event per real transition.
import { and, asc, count, desc, eq, inArray, lt, notInArray, or, sql, type SQL } from 'drizzle-orm'
import type { RunnerFilter, RunnerRepository } from '../../../core/ports.js'
import { WAITING_STATES, type RunnerActivity } from '../../../core/runners/activity.js'
import { TERMINAL_STATUSES, type Runner } from '../../../core/runners/runner.js'
import { fromDriverRow, rowsOf, type Db } from '../client.js'
import { runnerOutputs, runners } from '../schema.js'

type RunnerRow = typeof runners.$inferSelect

export const toRunner = ({ activityState, activitySource, activityDetail, activitySince, activityResetsAt, ...row }: RunnerRow): Runner => ({
  ...row,
  activity: {
    state: activityState as RunnerActivity['state'],
    source: activitySource as RunnerActivity['source'],
    detail: activityDetail,
    since: activitySince,
    resetsAt: activityResetsAt,
  },
  runtimeType: row.runtimeType as Runner['runtimeType'],
  status: row.status as Runner['status'],
  desiredState: row.desiredState as Runner['desiredState'],
  conversationMode: row.conversationMode as Runner['conversationMode'],
  pauseReason: row.pauseReason as Runner['pauseReason'],
})

const notTerminal = notInArray(runners.status, [...TERMINAL_STATUSES])
const bumpSeq = { eventSeq: sql`${runners.eventSeq} + 1` }

/**
 * A runner handed to another node (or to any node: `nodeId` null) to start afresh: pending in a
 * new generation, which fences the old process's reports, and resuming its conversation where a
 * session is known. Used by failover (reconciler) and by a supervisor's graceful handover.
 */
export const handedOverColumns = (nodeId: string | null) => ({
  status: 'pending', nodeId, generation: sql`${runners.generation} + 1`, runtimeId: '', startedAt: null, lastHeartbeat: null,
  conversationMode: sql`case when ${runners.sessionId} is null then ${runners.conversationMode} else 'resume' end`,
  eventSeq: sql`${runners.eventSeq} + 1`, updatedAt: sql`now()`,
} as const)

const filterCondition = ({ project, status }: RunnerFilter): SQL | undefined =>
  and(project !== undefined ? eq(runners.projectName, project) : undefined, status !== undefined ? eq(runners.status, status) : undefined)

export const createRunnerRepository = (db: Db): RunnerRepository => ({
  // Flat SQL: this runs on every launch, where building the 40-column insert with the query
  // builder cost more CPU than the statement itself.
  async insert (r) {
    const at = r.createdAt.toISOString()
    const [row] = rowsOf<Record<string, unknown>>(await db.execute(sql`
      insert into ${runners} (id, project_name, project_path, agent, node_id, status, desired_state, flags, capabilities, environment,
        conversation_mode, session_id, god, prompt, max_restart_attempts, heartbeat_ttl_seconds, resume_after_limit, limit_account, event_seq, created_by, created_at, updated_at)
      values (${r.id}, ${r.projectName}, ${r.projectPath}, ${r.agent}, ${r.nodeId}, 'pending', 'running', ${JSON.stringify(r.flags)}::jsonb,
        ${JSON.stringify(r.capabilities)}::jsonb, ${JSON.stringify(r.environment)}::jsonb, ${r.conversationMode}, ${r.sessionId}, ${r.god},
        ${r.prompt}, ${r.maxRestartAttempts}, ${r.heartbeatTtlSeconds}, ${r.resumeAfterLimit}, ${r.limitAccount}, 1, ${r.createdBy}, ${at}::timestamptz, ${at}::timestamptz)
      returning *`))
    return toRunner(fromDriverRow(runners, row!))
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

  async activeForSession (project, sessionId) {
    const [row] = await db.select().from(runners)
      .where(and(eq(runners.projectName, project), eq(runners.sessionId, sessionId), notTerminal))
      .orderBy(desc(runners.id)).limit(1)
    return row ? toRunner(row) : null
  },

  async requestStop (id, { force, timeoutSeconds, at }) {
    const [row] = await db.update(runners)
      .set({ desiredState: 'stopped', stopForce: force, stopTimeoutSeconds: timeoutSeconds, stopRequestedAt: at, updatedAt: at, ...bumpSeq })
      .where(and(eq(runners.id, id), notTerminal))
      .returning()
    return row ? toRunner(row) : null
  },

  async terminateLost (id, at) {
    const [row] = await db.update(runners)
      .set({ status: 'terminated', desiredState: 'stopped', reason: 'stopped while its node was lost', generation: sql`${runners.generation} + 1`, stopRequestedAt: at, terminatedAt: at, updatedAt: at, ...bumpSeq })
      .where(and(eq(runners.id, id), eq(runners.status, 'lost')))
      .returning()
    return row ? toRunner(row) : null
  },

  async terminateUnstarted (id, at) {
    const [row] = await db.update(runners)
      .set({ status: 'terminated', desiredState: 'stopped', reason: 'stopped before it started', stopRequestedAt: at, terminatedAt: at, updatedAt: at, ...bumpSeq })
      .where(and(eq(runners.id, id), or(eq(runners.status, 'pending'), and(eq(runners.status, 'paused'), eq(runners.runtimeId, '')))))
      .returning()
    return row ? toRunner(row) : null
  },

  async waiting ({ project, limit }) {
    const rows = await db.select().from(runners)
      .where(and(eq(runners.status, 'running'), inArray(runners.activityState, [...WAITING_STATES]), project !== undefined ? eq(runners.projectName, project) : undefined))
      .orderBy(asc(runners.activitySince), asc(runners.id))
      .limit(limit)
    return rows.map(toRunner)
  },

  async keptOutput (id) {
    const [row] = await db.select({ generation: runnerOutputs.generation, output: runnerOutputs.output, signal: runnerOutputs.signal, recordedAt: runnerOutputs.recordedAt })
      .from(runnerOutputs).where(eq(runnerOutputs.runnerId, id)).limit(1)
    return row ?? null
  },
})
