// Budgets to proto messages: the only place RPC maps them.
import { create } from '@bufbuild/protobuf'
import { timestampFromDate } from '@bufbuild/protobuf/wkt'
import { isExhausted, type Budget, type BudgetPeriodRecord } from '../../core/budgets/budget.js'
import { BudgetPeriodSchema, BudgetSchema } from '../../gen/stratavore/v1/budget_pb.js'

export const toBudgetProto = (b: Budget) => create(BudgetSchema, {
  id: b.id,
  scope: b.scope,
  scopeId: b.scopeId,
  period: b.period,
  timezone: b.timezone,
  limitTokens: BigInt(b.limitTokens),
  warningPercent: b.warningPercent,
  usedTokens: BigInt(b.usedTokens),
  exhausted: isExhausted(b),
  periodStart: timestampFromDate(b.periodStart),
  periodEnd: timestampFromDate(b.periodEnd),
  createdBy: b.createdBy,
  createdAt: timestampFromDate(b.createdAt),
  updatedAt: timestampFromDate(b.updatedAt),
})

export const toBudgetPeriodProto = (p: BudgetPeriodRecord) => create(BudgetPeriodSchema, {
  budgetId: p.budgetId,
  periodStart: timestampFromDate(p.periodStart),
  periodEnd: timestampFromDate(p.periodEnd),
  limitTokens: BigInt(p.limitTokens),
  usedTokens: BigInt(p.usedTokens),
  closedAt: timestampFromDate(p.closedAt),
})
