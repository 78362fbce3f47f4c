// What becomes of a runner whose process has exited, decided from the exit alone (pure, so the
// rules read in one place): a stop or exit 0 ends it terminated, a failure is restarted with
// backoff, and it is failed when its attempts run out or when a failure at start repeats itself
// exactly (a missing login or a refused flag fails the same way every time).
import { exitReason, failureFingerprint } from '../runners/exit-report.js'
import type { ExitStatus } from './agent-runtime.js'
import { decideRestart, failedAtStart, type RestartPolicy } from './restart-policy.js'

export type ExitDecision =
  | { end: 'terminated' | 'failed', reason: string }
  | { end: 'restart', reason: string, attempt: number, delayMs: number, /** Set for a failure at start, to compare the next one with. */ fingerprint: string | null }

export interface ExitFacts {
  exit: ExitStatus
  output: Uint8Array
  upMs: number
  /** The stop's SIGTERM → SIGKILL grace when a stop ended it (0: forced), else null. */
  stopGraceMs: number | null
  restartAttempts: number
  maxRestartAttempts: number
  /** The fingerprint of the failure at start that led to this life, if one did. */
  previousStartFailure: string | undefined
}

/** How a stop ended the process: by SIGTERM, or by SIGKILL once the grace ran out. */
const stopReason = (exit: ExitStatus, graceMs: number) => {
  if (exit.signal === 'SIGKILL') return graceMs === 0 ? 'stopped: SIGKILL (forced)' : `stopped: SIGTERM did not end it; SIGKILL after the ${graceMs / 1000}s grace`
  return `stopped: ${exit.signal ? `ended by ${exit.signal}` : `exited with code ${exit.code}`} after SIGTERM`
}

export const decideExit = (policy: RestartPolicy, facts: ExitFacts & { stopped: boolean }): ExitDecision => {
  const { exit, output, upMs } = facts
  if (facts.stopped) return { end: 'terminated', reason: facts.stopGraceMs === null ? 'stopped' : stopReason(exit, facts.stopGraceMs) }
  if (exit.code === 0) return { end: 'terminated', reason: 'exited' }
  const atStart = failedAtStart(policy, upMs)
  const why = exitReason(exit, output, { atStart })
  const fingerprint = atStart ? failureFingerprint(exit, output) : null
  if (fingerprint !== null && fingerprint === facts.previousStartFailure) return { end: 'failed', reason: `${why} (the same failure at start twice; not restarted)` }
  const decision = decideRestart(policy, { attemptsSoFar: facts.restartAttempts, maxAttempts: facts.maxRestartAttempts, upMs })
  if (!decision.restart) return { end: 'failed', reason: `${why}${facts.maxRestartAttempts > 0 ? ` after ${decision.attempt} restart(s)` : ''}` }
  return { end: 'restart', reason: why, attempt: decision.attempt, delayMs: decision.delayMs, fingerprint }
}
