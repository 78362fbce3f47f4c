// When a runner's agent dies unasked, whether and when to start it again: exponential backoff
// from a base to a cap, a bounded number of attempts, and a clean slate for a runner that had
// stayed up long enough to count as healthy (Nomad's restart tracker, reduced to a function).

export interface RestartPolicy {
  baseMs: number
  capMs: number
  /** Up at least this long: the earlier attempts no longer count. */
  healthyAfterMs: number
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
