// `stratavored reconciler`: a reconcile pass every daemon.reconcile_interval_seconds (croner,
// never overlapping itself), followed by the budget pass (periods that ended roll over, runners
// are paused and resumed to match the budgets). The budget pass also runs at every midnight in
// budgets.timezone, when days, weeks and months end. Runners a usage limit paused resume after
// the budget pass, once their reset has passed. Several reconcilers may run: each
// transition is a conditional update, so two never act on the same runner or budget. Each pass
// also evaluates the alert conditions (src/core/alerts), whose events are written the same way:
// once, whoever evaluates.
import { Cron } from 'croner'
import type { Context } from '../src/context.js'
import { createFailureStreak } from '../src/core/failure-streak.js'
import { createReconcileGate } from '../src/core/runners/reconcile-gate.js'
import type { Part } from '../src/process/lifecycle.js'

const ACTOR = 'reconciler'

export const startReconciler = async (ctx: Context): Promise<Part[]> => {
  const log = ctx.logger.child({ component: 'reconciler' })
  const { reconcile_interval_seconds: interval, heartbeat_interval_seconds: beat } = ctx.config.daemon
  const gate = createReconcileGate({ graceMs: 3 * beat * 1000, now: () => Date.now() })
  let running: Promise<void> = Promise.resolve()
  const failures = createFailureStreak(log, 'reconcile pass')
  const budgetFailures = createFailureStreak(log, 'budget pass')

  // Runners whose usage limit has reset resume here, from the database's state: a reconciler
  // that restarts finds them as it left them.
  const limitFailures = createFailureStreak(log, 'usage-limit resume pass')
  const limitPass = async () => {
    try {
      const resumed = await ctx.pauses.resumeAfterLimits(ACTOR, ctx.config.daemon.limit_resume_stagger_seconds * 1000)
      if (resumed.length > 0) log.info({ resumed: resumed.map(r => r.id) }, 'resumed runners after their usage limit reset')
      limitFailures.succeeded()
    } catch (err) {
      limitFailures.failed(err)
    }
  }

  const budgetPass = async () => {
    try {
      const result = await ctx.budgets.pass(ACTOR)
      if (result.rolledOver.length + result.paused + result.resumed > 0) {
        log.info({ rolledOver: result.rolledOver.map(b => b.id), paused: result.paused, resumed: result.resumed }, 'budget pass')
      }
      budgetFailures.succeeded()
    } catch (err) {
      budgetFailures.failed(err)
    }
  }

  const pass = async () => {
    try {
      // The database answering is what the gate waits for, judged or not.
      await ctx.repos.outbox.backlog()
      gate.recordSuccess()
      if (!gate.mayJudge()) {
        log.debug('within the post-start grace: not judging runners yet')
        return
      }
      const result = await ctx.reconciler.reconcile(ACTOR)
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
    await budgetPass()
    await limitPass()
  }

  const defaults = ctx.config.budgets.global
  try {
    const made = await ctx.budgets.applyDefaults(defaults, 'config')
    for (const b of made) log.info({ budgetId: b.id, period: b.period, limitTokens: b.limitTokens }, 'made the global budget budgets.global sets')
  } catch (err) {
    log.warn({ err }, 'could not make the global budgets of budgets.global; next start tries again')
  }

  // Every second, at most once per `interval` seconds, never while the previous pass runs.
  const job = new Cron('* * * * * *', { protect: true, interval }, () => {
    running = pass()
    return running
  })
  // At midnight where the budgets count days: the period ends then, not up to `interval` later.
  const midnight = new Cron('0 0 0 * * *', { protect: true, timezone: ctx.config.budgets.timezone }, () => budgetPass())
  log.info({ intervalSeconds: interval, budgetTimezone: ctx.config.budgets.timezone }, 'reconciler started')
  return [{ name: 'reconciler', stop: async () => { job.stop(); midnight.stop(); await running } }]
}
