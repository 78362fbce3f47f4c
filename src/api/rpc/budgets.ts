// stratavore.v1.BudgetService: thin handlers over ctx.budgets, the use cases behind
// /api/v1/budgets, checked with the same schemas.
import type { ServiceImpl } from '@connectrpc/connect'
import type { Context } from '../../context.js'
import { BudgetService } from '../../gen/stratavore/v1/budget_pb.js'
import { BudgetHistoryQuery, BudgetListQuery, BudgetParams, CreateBudgetBody, UpdateBudgetBody } from '../rest/budgets.js'
import { actorOf } from './actor.js'
import { toBudgetPeriodProto, toBudgetProto } from './budget-mappers.js'
import { checkShape, defined } from './validate.js'

export const budgetService = (ctx: Context): ServiceImpl<typeof BudgetService> => {
  const idOf = (id: string) => checkShape(BudgetParams, { id }).id

  return {
    async listBudgets (req) {
      const query = checkShape(BudgetListQuery, defined({ scope: req.scope, scopeId: req.scopeId }))
      return { budgets: (await ctx.budgets.list(query)).map(toBudgetProto) }
    },

    async getBudget (req) {
      return { budget: toBudgetProto(await ctx.budgets.get(idOf(req.id))) }
    },

    async createBudget (req, context) {
      const body = checkShape(CreateBudgetBody, defined({
        scope: req.scope, scopeId: req.scopeId, period: req.period, limitTokens: Number(req.limitTokens), warningPercent: req.warningPercent,
      }))
      return { budget: toBudgetProto(await ctx.budgets.create(body, actorOf(context))) }
    },

    async updateBudget (req, context) {
      const id = idOf(req.id)
      const body = checkShape(UpdateBudgetBody, defined({ limitTokens: Number(req.limitTokens), warningPercent: req.warningPercent }))
      return { budget: toBudgetProto(await ctx.budgets.update(id, body, actorOf(context))) }
    },

    async deleteBudget (req, context) {
      await ctx.budgets.delete(idOf(req.id), actorOf(context))
      return {}
    },

    async listBudgetHistory (req) {
      const query = checkShape(BudgetHistoryQuery, defined({ budgetId: req.budgetId, limit: req.limit }))
      return { periods: (await ctx.budgets.history(query)).map(toBudgetPeriodProto) }
    },
  }
}
