// Budget events. A heartbeat that takes a budget's use past its warning share writes
// budget.warning; past its limit, budget.exceeded; one that crosses both writes both. Setting,
// deleting and rolling a budget over write budget.set, budget.deleted and budget.rolled_over.
// Every write bumps the budget's event_seq by the events it causes, so a consumer of one
// budget's events sees 1, 2, 3... with no gap, across periods.
import type { DomainEvent, EventType } from '../events/event.js'
import type { BudgetUse, Clock, IdGenerator } from '../ports.js'
import { budgetRoutingWord, type Budget, type BudgetPeriodRecord } from './budget.js'

type Deps = { ids: IdGenerator, clock: Clock }

const budgetEvent = (b: Pick<Budget, 'id' | 'scope' | 'scopeId'>, type: EventType, seq: number, actor: string, data: Record<string, unknown>, { ids, clock }: Deps): DomainEvent => ({
  eventId: ids.next(),
  type,
  occurredAt: clock.now(),
  project: b.scope === 'project' ? b.scopeId : '',
  aggregateType: 'budget',
  aggregateId: b.id,
  seq,
  actor,
  data: { scope: b.scope, scope_id: b.scopeId, ...data },
  ...(b.scope === 'project' ? {} : { routingKey: `${type}.${budgetRoutingWord(b)}` }),
})

/** budget.warning and/or budget.exceeded for a heartbeat's use; `use.eventSeq` is the seq after both. */
export const budgetEventsOf = (use: BudgetUse, actor: string, deps: Deps): DomainEvent[] => {
  const crossed = (threshold: number) => use.usedBefore < threshold && use.usedAfter >= threshold
  const types: EventType[] = [
    ...(crossed(use.limitTokens * use.warningPercent / 100) ? ['budget.warning' as const] : []),
    ...(crossed(use.limitTokens) ? ['budget.exceeded' as const] : []),
  ]
  return types.map((type, i) => budgetEvent({ id: use.budgetId, scope: use.scope, scopeId: use.scopeId }, type, use.eventSeq - types.length + 1 + i, actor, {
    period: use.period, limit_tokens: use.limitTokens, used_tokens: use.usedAfter, warning_percent: use.warningPercent, period_end: use.periodEnd.toISOString(),
  }, deps))
}

const stateOf = (b: Budget) => ({
  period: b.period, timezone: b.timezone, limit_tokens: b.limitTokens, warning_percent: b.warningPercent, used_tokens: b.usedTokens,
  period_start: b.periodStart.toISOString(), period_end: b.periodEnd.toISOString(),
})

export const budgetSetEvent = (b: Budget, previousLimit: number | null, actor: string, deps: Deps) =>
  budgetEvent(b, 'budget.set', b.eventSeq, actor, { ...stateOf(b), previous_limit_tokens: previousLimit }, deps)

export const budgetDeletedEvent = (b: Budget, actor: string, deps: Deps) =>
  budgetEvent(b, 'budget.deleted', b.eventSeq, actor, stateOf(b), deps)

export const budgetRolledOverEvent = (b: Budget, ended: BudgetPeriodRecord, actor: string, deps: Deps) =>
  budgetEvent(b, 'budget.rolled_over', b.eventSeq, actor, {
    ...stateOf(b), ended_period_start: ended.periodStart.toISOString(), ended_period_end: ended.periodEnd.toISOString(),
    ended_used_tokens: ended.usedTokens, ended_limit_tokens: ended.limitTokens,
  }, deps)
