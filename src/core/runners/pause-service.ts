// Pausing and resuming runners: by hand, when a budget runs out (and back when it has room
// again), when a runner's memory passes its project's max_memory_mb, and when its agent hits a
// usage limit (usage-limits.ts; back at the reset when it resumes after limits). A pause is a
// conditional write with its runner.paused event; the runner's supervisor then ends the agent
// gracefully and keeps its session. A resume passes admission like a launch (the project's lock,
// its quota, the budgets over its scope) and makes the runner pending again, resuming its
// conversation; the runner.resumed event commits with it.
import { scopeLabel } from '../budgets/budget.js'
import { errors, isAppError } from '../errors.js'
import { placeRunner } from '../nodes/placement.js'
import type { Clock, IdGenerator, Log, Repositories, TransactionRepositories, UnitOfWork } from '../ports.js'
import { pausedEvents } from './paused-events.js'
import { runnerEventOf, type Runner } from './runner.js'
import { LIMIT_MANUAL_RESUME_MESSAGE, LIMIT_RESET_MESSAGE } from './usage-limits.js'

export interface PauseServiceDeps {
  repos: Repositories
  uow: UnitOfWork
  clock: Clock
  ids: IdGenerator
  log?: Log
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
/** Runners looked at per automatic-resume pass (oldest pause first); the next pass takes the rest. */
export const RESUME_BATCH = 100

type ResumeReason = 'manual' | 'budget' | 'usage_limit'

/** Pauses every runner in the scope of an exhausted budget; one unit of work. */
export const pauseForBudgets = ({ uow, clock, ids }: Pick<PauseServiceDeps, 'uow' | 'clock' | 'ids'>, actor: string) => uow.run(async tx => {
  const rows = await tx.pauses.pauseExhausted(clock.now())
  await tx.events.appendMany(pausedEvents(rows, actor, { ids, clock }))
  return rows
})

/** Pauses these runners when their memory is above their project's max_memory_mb; one unit of work. */
export const pauseForMemory = ({ uow, clock, ids }: Pick<PauseServiceDeps, 'uow' | 'clock' | 'ids'>, runnerIds: string[], actor: string) =>
  runnerIds.length === 0 ? Promise.resolve([]) : uow.run(async tx => {
    const rows = await tx.pauses.pauseOverMemory(runnerIds, clock.now())
    await tx.events.appendMany(pausedEvents(rows, actor, { ids, clock }))
    return rows
  })

export const createPauseService = ({ repos, uow, clock, ids, log }: PauseServiceDeps) => {
  const find = async (tx: TransactionRepositories, id: string) => {
    const runner = UUID.test(id) ? await tx.runners.find(id.toLowerCase()) : null
    if (!runner) throw errors.runnerNotFound(id)
    return runner
  }

  /** Under the project's lock: admission as a launch has it, then paused → pending with its event. */
  const admitAndResume = async (tx: TransactionRepositories, runner: Runner, actor: string, why: ResumeReason) => {
    await tx.lockProject(runner.projectName)
    const now = clock.now()
    const admission = await tx.projects.admission(runner.projectName, now, runner.agent)
    if (!admission) throw errors.projectNotFound(runner.projectName)
    if (admission.archived) throw errors.projectArchived(runner.projectName)
    if (admission.activeRunners >= admission.maxConcurrentRunners) {
      throw errors.quotaExceeded(runner.projectName, admission.activeRunners, admission.maxConcurrentRunners)
    }
    const budget = admission.exhaustedBudget
    if (budget) throw errors.budgetExhausted(scopeLabel(budget), budget.usedTokens, budget.limitTokens)
    // A conversation a usage limit cut off is told, in Stratavore's name, why it goes on.
    const limited = runner.pauseReason === 'usage_limit'
    const message = limited ? (why === 'usage_limit' ? LIMIT_RESET_MESSAGE : LIMIT_MANUAL_RESUME_MESSAGE) : null
    const nodeId = placeRunner(admission.nodes, { agent: runner.agent, node: null, selector: {} })
    const resumed = await tx.pauses.resume(runner.id, nodeId, now, { message, afterLimit: why === 'usage_limit' })
    if (!resumed) return null
    await tx.events.append(runnerEventOf(resumed, 'runner.resumed', actor, {
      reason: why, paused_reason: runner.pauseReason, budget_id: runner.pausedBudgetId, session_id: resumed.sessionId,
      conversation_mode: resumed.conversationMode, node_id: resumed.nodeId,
      ...(limited ? { resets_at: runner.resetsAt?.toISOString() ?? null, account: runner.limitAccount, message } : {}),
    }, { ids, clock }))
    return resumed
  }

  /** Each through admission in a unit of work of its own; one refused (quota, budget) stays paused for the next pass. */
  const admitEach = async (candidates: Runner[], actor: string, why: ResumeReason): Promise<Runner[]> => {
    const resumed: Runner[] = []
    for (const candidate of candidates) {
      try {
        const row = await uow.run(tx => admitAndResume(tx, candidate, actor, why))
        if (row) resumed.push(row)
      } catch (err) {
        if (!isAppError(err) || err.kind === 'internal' || err.kind === 'unavailable') throw err
        log?.debug({ runnerId: candidate.id, code: err.code, reason: why }, 'a paused runner stays paused')
      }
    }
    return resumed
  }

  return {
    /** Pauses a runner by hand; pausing a paused runner changes nothing. */
    async pause (id: string, actor: string): Promise<Runner> {
      return uow.run(async tx => {
        const runner = await find(tx, id)
        if (runner.status === 'paused') return runner
        if (runner.desiredState === 'stopped') throw errors.runnerNotPausable(runner.id, runner.status === 'pending' || runner.status === 'running' ? 'stopping' : runner.status)
        const paused = await tx.pauses.pause(runner.id, 'manual', clock.now())
        if (!paused) throw errors.runnerNotPausable(runner.id, runner.status)
        await tx.events.appendMany(pausedEvents([paused], actor, { ids, clock }))
        return paused
      })
    },

    /** Resumes a paused runner by hand, through admission; QUOTA_EXCEEDED or BUDGET_EXHAUSTED leave it paused. */
    async resume (id: string, actor: string): Promise<Runner> {
      return uow.run(async tx => {
        const runner = await find(tx, id)
        if (runner.status !== 'paused') throw errors.runnerNotPaused(runner.id, runner.status)
        if (runner.runtimeId !== '') throw errors.runnerStillStopping(runner.id)
        const resumed = await admitAndResume(tx, runner, actor, 'manual')
        if (!resumed) throw errors.runnerStillStopping(runner.id)
        return resumed
      })
    },

    pauseForBudgets: (actor: string) => pauseForBudgets({ uow, clock, ids }, actor),

    /**
     * Level-triggered: every runner a budget paused whose scope has room again resumes, oldest
     * pause first, each through admission in a unit of work of its own. A runner the quota (or
     * another budget) still refuses stays paused for the next pass.
     */
    async resumeEligible (actor: string): Promise<Runner[]> {
      return admitEach(await repos.pauses.resumeCandidates(clock.now(), RESUME_BATCH), actor, 'budget')
    },

    /**
     * Level-triggered, from the reconciler's loop (so a daemon restart loses nothing): runners a
     * usage limit paused that resume after limits, whose reset has passed. Per agent and account,
     * one goes first (the probe, oldest pause); the rest follow `staggerMs` after it, unless it
     * hit the limit again meanwhile, which moved the whole account's reset on. Through admission.
     */
    async resumeAfterLimits (actor: string, staggerMs: number): Promise<Runner[]> {
      const now = clock.now()
      const accounts = new Map<string, Runner[]>()
      for (const r of await repos.pauses.limitResumeCandidates(now, RESUME_BATCH)) {
        const key = `${r.agent}\u0000${r.limitAccount}`
        accounts.set(key, [...accounts.get(key) ?? [], r])
      }
      const due: Runner[] = []
      for (const waiting of accounts.values()) {
        const first = waiting[0]!
        const lastPause = Math.max(...waiting.map(r => r.pausedAt?.getTime() ?? 0))
        const probe = await repos.pauses.lastLimitResume(first.agent, first.limitAccount)
        if (probe === null || probe.getTime() < lastPause) due.push(first)
        else if (now.getTime() - probe.getTime() >= staggerMs) due.push(...waiting)
      }
      return admitEach(due, actor, 'usage_limit')
    },
  }
}

export type PauseService = ReturnType<typeof createPauseService>
