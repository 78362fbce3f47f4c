// When a runner's agent dies unasked, whether and when to start it again: exponential backoff
// from a base to a cap, a bounded number of attempts, and a clean slate for a runner that had
// stayed up long enough to count as healthy (Nomad's restart tracker, reduced to a function).
// A failure at start that repeats itself exactly (a missing login, a refused flag) is not
// retried again: every further attempt would only print the same error.

export interface RestartPolicy {
  baseMs: number
  capMs: number
  /** Up at least this long: the earlier attempts no longer count. */
  healthyAfterMs: number
  /** An exit this soon after the start (and before healthyAfterMs) is a failure at start; 0: none is. */
  startWindowMs: number
}

export type RestartDecision =
  | { restart: true, attempt: number, delayMs: number }
  | { restart: false, attempt: number }

export const decideRestart = (
  policy: RestartPolicy,
  { attemptsSoFar, maxAttempts, upMs }: { attemptsSoFar: number, maxAttempts: number, upMs: number },
): RestartDecision => {
  const attempts = upMs >= policy.healthyAfterMs ? 0 : attemptsSoFar
  if (attempts >= maxAttempts) return { restart: false, attempt: attempts }
  return { restart: true, attempt: attempts + 1, delayMs: Math.min(policy.capMs, policy.baseMs * 2 ** attempts) }
}

/** Whether a process that was up `upMs` failed at its start. */
export const failedAtStart = (policy: RestartPolicy, upMs: number) => upMs < Math.min(policy.startWindowMs, policy.healthyAfterMs)
