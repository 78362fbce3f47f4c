// Usage limits: an agent CLI said its account hit a usage or rate limit. Its runner, and every
// runner of the same agent and account, is paused (reason usage_limit) until the reset the agent
// gave, bounded here so that no report can make a runner retry in a loop or wait for ever. The
// resume at the reset is the pause service's (resumeAfterLimits); the message the resumed
// conversation gets says it comes from Stratavore, never from the user.
import type { Clock, IdGenerator, UnitOfWork } from '../ports.js'
import { inProjectOrder } from '../events/event.js'
import { activityEventData, type ActivitySource } from './activity.js'
import { pausedEvents } from './paused-events.js'
import { runnerEventOf, type Runner } from './runner.js'

/** The longest a limit may hold a runner: a reset reported further out is capped to this (and logged). */
export const MAX_LIMIT_WAIT_MS = 7 * 24 * 3600_000
/** A reset already past: try again this soon. */
export const PAST_RESET_WAIT_MS = 60_000
/** A runner limited again this soon after a resume, with a reset already past, waits this long instead. */
export const REPEATED_LIMIT_WAIT_MS = 15 * 60_000
/** No reset time given: the wait before one try. */
export const UNKNOWN_RESET_WAIT_MS = 15 * 60_000

export const LIMIT_RESET_MESSAGE = '[Stratavore] The usage limit has reset; continue where you left off.'
export const LIMIT_MANUAL_RESUME_MESSAGE = '[Stratavore] The runner was resumed by hand after a usage limit; continue where you left off.'

/** What the agent reported, as the supervisor read it, and where (the runner's activity says so). */
export interface ReportedLimit { resetsAt: Date | null, message: string | null, source: ActivitySource }

export type ResetAdjustment = 'none' | 'past' | 'capped' | 'unknown'

/**
 * When the runner is to be resumed: the reported reset, unless it is absent (a fixed wait), past
 * (soon; later when the same runner was limited again right after its last resume, so a clock
 * that keeps saying "past" cannot make it spin), or beyond MAX_LIMIT_WAIT_MS (capped).
 */
export const boundedReset = (reported: Date | null, now: Date, lastLimitResume: Date | null): { resetsAt: Date, adjusted: ResetAdjustment } => {
  const at = now.getTime()
  if (reported === null || !Number.isFinite(reported.getTime())) return { resetsAt: new Date(at + UNKNOWN_RESET_WAIT_MS), adjusted: 'unknown' }
  if (reported.getTime() <= at) {
    const again = lastLimitResume !== null && at - lastLimitResume.getTime() < REPEATED_LIMIT_WAIT_MS
    return { resetsAt: new Date(at + (again ? REPEATED_LIMIT_WAIT_MS : PAST_RESET_WAIT_MS)), adjusted: 'past' }
  }
  if (reported.getTime() - at > MAX_LIMIT_WAIT_MS) return { resetsAt: new Date(at + MAX_LIMIT_WAIT_MS), adjusted: 'capped' }
  return { resetsAt: reported, adjusted: 'none' }
}

/**
 * Pauses the runner that reported the limit (in its generation) and the runnable runners of its
 * agent and account, with one runner.paused event each; one unit of work. A runner that moved
 * on (stopped, failed, restarted) is left as it is.
 */
export const pauseForUsageLimit = async (
  { uow, clock, ids }: { uow: UnitOfWork, clock: Clock, ids: IdGenerator },
  report: { runner: Runner, generation: number, limit: ReportedLimit },
  actor: string,
): Promise<{ paused: Runner[], resetsAt: Date, adjusted: ResetAdjustment }> => {
  const { runner, generation, limit } = report
  const now = clock.now()
  const { resetsAt, adjusted } = boundedReset(limit.resetsAt, now, runner.limitResumedAt)
  const detail = limit.message ?? 'usage limit reached'
  const paused = await uow.run(async tx => {
    const changed = await tx.pauses.pauseForUsageLimit(
      { runnerId: runner.id, generation, agent: runner.agent, account: runner.limitAccount, resetsAt },
      { source: limit.source, detail, othersDetail: `${detail} (reported by runner ${runner.id}, of the same account)` },
      now,
    )
    const rows = changed.map(c => c.runner)
    // The agent's own word first (seq n-1), then the pause it led to (seq n).
    await tx.events.appendMany(inProjectOrder(changed.map(({ runner: r, previous }) =>
      runnerEventOf({ ...r, eventSeq: r.eventSeq - 1 }, 'runner.activity', actor, activityEventData(r.id, r.activity, previous.state), { ids, clock }))))
    await tx.events.appendMany(pausedEvents(rows, actor, { ids, clock }, r => ({
      resets_at: r.resetsAt?.toISOString() ?? null,
      account: r.limitAccount,
      reported_by: runner.id,
      reported_resets_at: limit.resetsAt?.toISOString() ?? null,
      reset_adjusted: adjusted,
      message: limit.message,
      resume_after_limit: r.resumeAfterLimit,
    })))
    return rows
  })
  return { paused, resetsAt, adjusted }
}
