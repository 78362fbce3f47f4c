// Budget events. A heartbeat that takes a budget's use past its warning share writes
// budget.warning; past its limit, budget.exceeded; one that crosses both writes both. Use only
// grows within a budget's period, so each is written at most once per budget row: the warning
// is seq 1 and the exceeded seq 2 of that budget, and a consumer never sees a gap.
import type { DomainEvent } from '../events/event.js'
import type { BudgetUse, Clock, IdGenerator } from '../ports.js'

export const BUDGET_WARNING_SHARE = 0.8

/** The last word of a global budget's routing key: project names start with a letter or digit, so it names none. */
export const GLOBAL_BUDGET_WORD = '_global'

export const budgetEventsOf = (use: BudgetUse, actor: string, { ids, clock }: { ids: IdGenerator, clock: Clock }): DomainEvent[] => {
  const crossed = (threshold: number) => use.usedBefore < threshold && use.usedAfter >= threshold
  const types = [
    ...(crossed(use.limitTokens * BUDGET_WARNING_SHARE) ? [{ type: 'budget.warning' as const, seq: 1 }] : []),
    ...(crossed(use.limitTokens) ? [{ type: 'budget.exceeded' as const, seq: 2 }] : []),
  ]
  return types.map(({ type, seq }) => ({
    eventId: ids.next(),
    type,
    occurredAt: clock.now(),
    project: use.project,
    aggregateType: 'budget',
    aggregateId: use.budgetId,
    seq,
    actor,
    data: {
      scope: use.scope, scope_id: use.scopeId, limit_tokens: use.limitTokens, used_tokens: use.usedAfter,
      warning_share: BUDGET_WARNING_SHARE, period_end: use.periodEnd.toISOString(),
    },
    ...(use.scope === 'global' ? { routingKey: `${type}.${GLOBAL_BUDGET_WORD}` } : {}),
  }))
}
