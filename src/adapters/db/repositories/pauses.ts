// Pausing and resuming runners. Every statement is conditional on the state it leaves and bumps
// event_seq, so the caller writes one event per row returned (two for a usage limit). Rows are locked in id order by a
// sub-select (as heartbeats and the reconciler lock them), so two writers never deadlock; none
// of these statements locks a budget row, which heartbeats lock after their runners.
import { and, desc, eq, inArray, isNotNull, lte, or, sql, type SQL } from 'drizzle-orm'
import type { PauseRepository } from '../../../core/ports.js'
import { PAUSABLE_STATUSES, type Runner } from '../../../core/runners/runner.js'
import type { Db } from '../client.js'
import { runners } from '../schema.js'
import { toRunner } from './runners.js'

const pausable = and(inArray(runners.status, [...PAUSABLE_STATUSES]), eq(runners.desiredState, 'running'))

/** A budget with no tokens left whose scope covers the runner `r` (an alias or the table). */
const exhaustedBudgetOf = (at: Date, project: SQL, agent: SQL) => sql`
  select b.id from budgets b
  where b.used_tokens >= b.limit_tokens and b.period_end > ${at.toISOString()}::timestamptz
    and (b.scope = 'global' or (b.scope = 'project' and b.scope_id = ${project}) or (b.scope = 'agent' and b.scope_id = ${agent}))
  order by b.id limit 1`

const pausedSet = (reason: string, at: Date, resetsAt: Date | null = null) => ({
  status: 'paused', pauseReason: reason, pausedAt: at, resetsAt, resumeMessage: null, updatedAt: at, eventSeq: sql`${runners.eventSeq} + 1`,
})

export const createPauseRepository = (db: Db): PauseRepository => {
  const lockIds = (where: SQL | undefined) => db.select({ id: runners.id }).from(runners).where(where).orderBy(runners.id).for('update')

  return {
    async pause (id, reason, at) {
      const [row] = await db.update(runners).set({ ...pausedSet(reason, at), pausedBudgetId: null })
        .where(and(eq(runners.id, id), pausable)).returning()
      return row ? toRunner(row) : null
    },

    async pauseExhausted (at) {
      const budget = exhaustedBudgetOf(at, sql`${runners.projectName}`, sql`${runners.agent}`)
      const rows = await db.update(runners).set({ ...pausedSet('budget', at), pausedBudgetId: sql`(${budget})` })
        .where(and(inArray(runners.id, lockIds(and(pausable, sql`exists (${budget})`))), pausable))
        .returning()
      return rows.map(toRunner)
    },

    async pauseOverMemory (runnerIds, at) {
      if (runnerIds.length === 0) return []
      const over = sql`exists (select 1 from resource_quotas q where q.project_name = ${runners.projectName}
        and q.max_memory_mb is not null and ${runners.memoryMb} > q.max_memory_mb)`
      const running = and(inArray(runners.id, runnerIds), inArray(runners.status, ['starting', 'running']), eq(runners.desiredState, 'running'), over)
      const rows = await db.update(runners).set({ ...pausedSet('memory', at), pausedBudgetId: null })
        .where(and(inArray(runners.id, lockIds(running)), running)).returning()
      return rows.map(toRunner)
    },

    async pauseForUsageLimit ({ runnerId, generation, agent, account, resetsAt }, activity, at) {
      const ofAccount = and(eq(runners.agent, agent), eq(runners.limitAccount, account))
      // Already waiting on this account's limit: the later reset holds for them too. Not a state
      // change of theirs (no event); the reset they show moves.
      await db.update(runners).set({ resetsAt: sql`greatest(${runners.resetsAt}, ${resetsAt.toISOString()}::timestamptz)`, updatedAt: at })
        .where(and(inArray(runners.id, lockIds(and(ofAccount, eq(runners.status, 'paused'), eq(runners.pauseReason, 'usage_limit')))),
          eq(runners.status, 'paused'), eq(runners.pauseReason, 'usage_limit')))
      const target = and(pausable, or(and(eq(runners.id, runnerId), eq(runners.generation, generation)), and(ofAccount, sql`${runners.id} <> ${runnerId}`)))
      // Locked first, to know the activity each had before (the runner.activity event names it).
      const before = await db.select().from(runners).where(target).orderBy(runners.id).for('update')
      if (before.length === 0) return []
      const rows = await db.update(runners).set({
        ...pausedSet('usage_limit', at, resetsAt), pausedBudgetId: null, eventSeq: sql`${runners.eventSeq} + 2`,
        activityState: 'rate_limited', activitySource: activity.source, activitySince: at, activityResetsAt: resetsAt,
        activityDetail: sql`case when ${runners.id} = ${runnerId}::uuid then ${activity.detail} else ${activity.othersDetail} end`,
      }).where(and(inArray(runners.id, before.map(r => r.id)), target)).returning()
      const previous = new Map(before.map(r => [r.id, toRunner(r).activity]))
      return rows.map(row => ({ runner: toRunner(row), previous: previous.get(row.id)! }))
    },

    async limitResumeCandidates (at, limit) {
      const rows = await db.select().from(runners)
        .where(and(eq(runners.status, 'paused'), eq(runners.pauseReason, 'usage_limit'), eq(runners.resumeAfterLimit, true), eq(runners.runtimeId, ''),
          eq(runners.desiredState, 'running'), lte(runners.resetsAt, at)))
        .orderBy(runners.pausedAt, runners.id).limit(limit)
      return rows.map(toRunner)
    },

    async lastLimitResume (agent, account) {
      const [row] = await db.select({ at: runners.limitResumedAt }).from(runners)
        .where(and(eq(runners.agent, agent), eq(runners.limitAccount, account), isNotNull(runners.limitResumedAt)))
        .orderBy(desc(runners.limitResumedAt)).limit(1)
      return row?.at ?? null
    },

    async resumeCandidates (at, limit) {
      const rows = await db.select().from(runners)
        .where(and(eq(runners.status, 'paused'), eq(runners.pauseReason, 'budget'), eq(runners.runtimeId, ''), eq(runners.desiredState, 'running'),
          sql`not exists (${exhaustedBudgetOf(at, sql`${runners.projectName}`, sql`${runners.agent}`)})`))
        .orderBy(runners.pausedAt, runners.id).limit(limit)
      return rows.map(toRunner)
    },

    async resume (id, nodeId, at, { message, afterLimit } = { message: null, afterLimit: false }): Promise<Runner | null> {
      const [row] = await db.update(runners).set({
        status: 'pending', nodeId, pauseReason: null, pausedBudgetId: null, pausedAt: null, restartAttempts: 0, exitCode: null,
        // No process yet: nothing an agent said holds (as a start clears it; the runner.resumed event says so).
        activityState: 'unknown', activitySource: null, activityDetail: null, activitySince: at, activityResetsAt: null,
        resetsAt: null, resumeMessage: message, ...(afterLimit ? { limitResumedAt: at } : {}),
        conversationMode: sql`case when ${runners.sessionId} is not null then 'resume' else ${runners.conversationMode} end`,
        updatedAt: at, eventSeq: sql`${runners.eventSeq} + 1`,
      }).where(and(eq(runners.id, id), eq(runners.status, 'paused'), eq(runners.runtimeId, ''), eq(runners.desiredState, 'running'))).returning()
      return row ? toRunner(row) : null
    },
  }
}
