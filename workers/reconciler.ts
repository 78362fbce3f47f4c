// `stratavored reconciler`: a reconcile pass every daemon.reconcile_interval_seconds (croner,
// never overlapping itself). Several reconcilers may run: each transition is a conditional
// update, so two never act on the same runner. Each pass also evaluates the alert conditions
// (src/core/alerts), whose events are written the same way: once, whoever evaluates.
import { Cron } from 'croner'
import type { Context } from '../src/context.js'
import { createFailureStreak } from '../src/core/failure-streak.js'
import { createReconcileGate } from '../src/core/runners/reconcile-gate.js'
import type { Part } from '../src/process/lifecycle.js'

export const startReconciler = async (ctx: Context): Promise<Part[]> => {
  const log = ctx.logger.child({ component: 'reconciler' })
  const { reconcile_interval_seconds: interval, heartbeat_interval_seconds: beat } = ctx.config.daemon
  const gate = createReconcileGate({ graceMs: 3 * beat * 1000, now: () => Date.now() })
  let running: Promise<void> = Promise.resolve()
  const failures = createFailureStreak(log, 'reconcile pass')

  const pass = async () => {
    try {
      // The database answering is what the gate waits for, judged or not.
      await ctx.repos.outbox.backlog()
      gate.recordSuccess()
      if (!gate.mayJudge()) {
        log.debug('within the post-start grace: not judging runners yet')
        return
      }
      const result = await ctx.reconciler.reconcile('reconciler')
      if (result.reconciledCount > 0) log.info(result, 'reconciled')
      failures.succeeded()
    } catch (err) {
      gate.recordFailure()
      failures.failed(err)
      return
    }
    await housekeeping()
  }

  // After the pass's transitions, and apart from them: a failure here is no reason to hold the
  // judging of runners back. The fleet counters' deltas are folded in here too, so that they
  // stay few even where no daemon serves /metrics; then the alert conditions are evaluated.
  const alertFailures = createFailureStreak(log, 'alert evaluation')
  const housekeeping = async () => {
    try {
      await ctx.repos.metrics.rollupCounters()
      if (ctx.config.alerts.enabled) {
        const changes = await ctx.alerts.evaluate()
        for (const change of changes) log.warn({ alert: change.key, severity: change.severity, state: change.state }, `alert ${change.state}: ${change.summary}`)
      }
      alertFailures.succeeded()
    } catch (err) {
      alertFailures.failed(err)
    }
  }

  // Every second, at most once per `interval` seconds, never while the previous pass runs.
  const job = new Cron('* * * * * *', { protect: true, interval }, () => {
    running = pass()
    return running
  })
  log.info({ intervalSeconds: interval }, 'reconciler started')
  return [{ name: 'reconciler', stop: async () => { job.stop(); await running } }]
}
