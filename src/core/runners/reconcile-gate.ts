// When the reconciler may judge runners. Silence is only evidence of a dead runner if the
// observer was able to hear: after the reconciler's own (re)start, or after the database was
// unreachable, heartbeats may simply not have been recorded, so it waits one TTL of healthy
// observation before marking anyone lost (Nomad's failover TTL; Kubernetes stops evicting
// when every zone looks unhealthy).

export const createReconcileGate = ({ graceMs, now }: { graceMs: number, now: () => number }) => {
  let judgeFrom = now() + graceMs
  return {
    /** True when a pass may mark runners lost or failed. */
    mayJudge: () => now() >= judgeFrom,
    /** A pass failed (database unreachable): start over once it is reachable again. */
    recordFailure: () => { judgeFrom = Number.POSITIVE_INFINITY },
    recordSuccess: () => { if (judgeFrom === Number.POSITIVE_INFINITY) judgeFrom = now() + graceMs },
  }
}
