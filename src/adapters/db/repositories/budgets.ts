// Token budgets: one row per scope and period. Global budgets use scope_id '' (never NULL), so
// the unique key really is unique.
import { and, desc, eq, gt, lte, or } from 'drizzle-orm'
import type { BudgetRepository, BudgetStatus } from '../../../core/ports.js'
import type { Db } from '../client.js'
import { tokenBudgets } from '../schema.js'

const current = (at: Date) => and(lte(tokenBudgets.periodStart, at), gt(tokenBudgets.periodEnd, at))

export const createBudgetRepository = (db: Db): BudgetRepository => ({
  async activeFor (project, at) {
    const rows = await db.select({
      scope: tokenBudgets.scope, scopeId: tokenBudgets.scopeId, limitTokens: tokenBudgets.limitTokens, usedTokens: tokenBudgets.usedTokens,
    }).from(tokenBudgets)
      .where(and(current(at), or(eq(tokenBudgets.scope, 'global'), and(eq(tokenBudgets.scope, 'project'), eq(tokenBudgets.scopeId, project)))))
    return rows as BudgetStatus[]
  },

  async globalLimit (at) {
    const [row] = await db.select({ limit: tokenBudgets.limitTokens }).from(tokenBudgets)
      .where(and(current(at), eq(tokenBudgets.scope, 'global')))
      .orderBy(desc(tokenBudgets.periodStart)).limit(1)
    return row?.limit ?? 0
  },
})
