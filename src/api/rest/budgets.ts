// /api/v1/budgets: token budgets (reads for viewers; writes for admins: a budget is the spending
// guard an operator's launches are held to) and their history. Thin handlers over ctx.budgets.
import { Type, type Static } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { BUDGET_PERIODS, BUDGET_SCOPES, MAX_BUDGET_TOKENS } from '../../core/budgets/budget.js'
import { MAX_HISTORY } from '../../core/budgets/budget-service.js'
import { toBudgetDto, toBudgetPeriodDto } from './mappers.js'
import { problems } from './schemas.js'

const tags = ['budgets']
const strict = { additionalProperties: false }
const literals = <T extends string>(values: readonly T[]) => Type.Union(values.map(v => Type.Literal(v)))
const DateTime = Type.String({ format: 'date-time' })
const Limit = Type.Integer({ minimum: 0, maximum: MAX_BUDGET_TOKENS, description: 'tokens (input, output and cache together) per period' })
const WarningPercent = Type.Integer({ minimum: 1, maximum: 100, description: 'budget.warning when use passes this share of the limit (default budgets.warning_percent)' })
const ScopeId = Type.String({ maxLength: 63, description: "the project or agent name; '' or absent for the global scope" })

export const BudgetDto = Type.Object({
  id: Type.String({ format: 'uuid' }),
  scope: literals(BUDGET_SCOPES),
  scopeId: Type.String(),
  period: literals(BUDGET_PERIODS),
  timezone: Type.String({ description: 'the IANA zone of its days, weeks (from Monday) and months' }),
  limitTokens: Type.Integer(),
  warningPercent: Type.Integer(),
  usedTokens: Type.Integer({ description: 'used in the current period' }),
  exhausted: Type.Boolean({ description: 'use has reached the limit: runners in the scope are paused, launches refused' }),
  periodStart: DateTime,
  periodEnd: DateTime,
  createdBy: Type.String(),
  createdAt: DateTime,
  updatedAt: DateTime,
}, { $id: 'Budget' })
export type BudgetDto = Static<typeof BudgetDto>

export const BudgetPeriodDto = Type.Object({
  budgetId: Type.String({ format: 'uuid' }),
  periodStart: DateTime,
  periodEnd: DateTime,
  limitTokens: Type.Integer(),
  usedTokens: Type.Integer(),
  closedAt: DateTime,
})
export type BudgetPeriodDto = Static<typeof BudgetPeriodDto>

export const CreateBudgetBody = Type.Object({
  scope: literals(BUDGET_SCOPES),
  scopeId: Type.Optional(ScopeId),
  period: literals(BUDGET_PERIODS),
  limitTokens: Limit,
  warningPercent: Type.Optional(WarningPercent),
}, strict)
export const UpdateBudgetBody = Type.Object({ limitTokens: Limit, warningPercent: Type.Optional(WarningPercent) }, strict)
export const BudgetParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, strict)
export const BudgetListQuery = Type.Object({ scope: Type.Optional(literals(BUDGET_SCOPES)), scopeId: Type.Optional(ScopeId) }, strict)
export const BudgetHistoryQuery = Type.Object({
  budgetId: Type.Optional(Type.String({ format: 'uuid' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_HISTORY, default: 100 })),
}, strict)

export const budgetRoutes = async (app: FastifyInstance) => {
  const { ctx } = app
  app.addSchema(BudgetDto)

  app.get<{ Querystring: Static<typeof BudgetListQuery> }>('/api/v1/budgets', {
    schema: { tags, summary: 'List budgets with their use in the current period', querystring: BudgetListQuery, response: { 200: Type.Object({ budgets: Type.Array(Type.Ref(BudgetDto)) }), ...problems(400, 503) } },
  }, async request => ({ budgets: (await ctx.budgets.list(request.query)).map(toBudgetDto) }))

  app.post<{ Body: Static<typeof CreateBudgetBody> }>('/api/v1/budgets', {
    schema: {
      tags,
      summary: 'Create a budget',
      description: 'One budget per scope and period: a second is 409 `BUDGET_EXISTS` (change the first with PUT). A limit below the current use pauses the runners in its scope at once.',
      body: CreateBudgetBody,
      response: { 201: Type.Ref(BudgetDto), ...problems(400, 404, 409, 503) },
    },
  }, async (request, reply) => reply.code(201).send(toBudgetDto(await ctx.budgets.create(request.body, request.actor))))

  app.get<{ Querystring: Static<typeof BudgetHistoryQuery> }>('/api/v1/budgets/history', {
    schema: { tags, summary: 'Ended periods with the tokens used in each, newest first', querystring: BudgetHistoryQuery, response: { 200: Type.Object({ periods: Type.Array(BudgetPeriodDto) }), ...problems(400, 404, 503) } },
  }, async request => ({ periods: (await ctx.budgets.history(request.query)).map(toBudgetPeriodDto) }))

  app.get<{ Params: Static<typeof BudgetParams> }>('/api/v1/budgets/:id', {
    schema: { tags, summary: 'Get a budget', params: BudgetParams, response: { 200: Type.Ref(BudgetDto), ...problems(400, 404, 503) } },
  }, async request => toBudgetDto(await ctx.budgets.get(request.params.id)))

  app.put<{ Params: Static<typeof BudgetParams>, Body: Static<typeof UpdateBudgetBody> }>('/api/v1/budgets/:id', {
    schema: {
      tags,
      summary: "Set a budget's limit",
      description: 'The use of the current period is kept. Raised above its use, the runners it paused resume (oldest pause first, within quotas); lowered below it, the runners in its scope are paused.',
      params: BudgetParams,
      body: UpdateBudgetBody,
      response: { 200: Type.Ref(BudgetDto), ...problems(400, 404, 503) },
    },
  }, async request => toBudgetDto(await ctx.budgets.update(request.params.id, request.body, request.actor)))

  app.delete<{ Params: Static<typeof BudgetParams> }>('/api/v1/budgets/:id', {
    schema: { tags, summary: 'Delete a budget and its history (the runners it paused resume)', params: BudgetParams, response: { 204: Type.Null(), ...problems(400, 404, 503) } },
  }, async (request, reply) => {
    await ctx.budgets.delete(request.params.id, request.actor)
    return reply.code(204).send()
  })
}
