// The budget aggregate: a token limit over a scope (everything, one project, one agent) and a
// period kind (day, week, month in the budget's timezone, or total). The row holds the current
// period and the tokens used in it; ended periods are kept as history. A budget is "exhausted"
// while its use has reached its limit; runners in its scope are then paused, and launches and
// resumes in its scope refused, until it is raised, deleted or its period rolls over.
import { errors } from '../errors.js'
import { checkInteger, checkPattern } from '../validation.js'

export const BUDGET_SCOPES = ['global', 'project', 'agent'] as const
export type BudgetScope = typeof BUDGET_SCOPES[number]
export const BUDGET_PERIODS = ['day', 'week', 'month', 'total'] as const
export type BudgetPeriod = typeof BUDGET_PERIODS[number]

/** A quadrillion tokens: more than any real spend, and exact in a double. */
export const MAX_BUDGET_TOKENS = 1_000_000_000_000_000
export const DEFAULT_WARNING_PERCENT = 80

/** What a `total` budget's period ends at: never, in practice (a date both drivers read back). */
export const TOTAL_PERIOD_END = new Date('9999-12-31T00:00:00Z')

export interface Budget {
  id: string
  scope: BudgetScope
  /** '' for the global scope, else the project or agent name. */
  scopeId: string
  period: BudgetPeriod
  timezone: string
  limitTokens: number
  warningPercent: number
  usedTokens: number
  periodStart: Date
  periodEnd: Date
  eventSeq: number
  createdBy: string
  createdAt: Date
  updatedAt: Date
}

export interface BudgetPeriodRecord {
  budgetId: string
  periodStart: Date
  periodEnd: Date
  limitTokens: number
  usedTokens: number
  closedAt: Date
}

export interface BudgetInput {
  scope: string
  scopeId?: string
  period: string
  limitTokens: number
  warningPercent?: number
}

export interface BudgetKey { scope: BudgetScope, scopeId: string, period: BudgetPeriod }

export const isExhausted = (b: Pick<Budget, 'usedTokens' | 'limitTokens'>) => b.usedTokens >= b.limitTokens

const AGENT_PATTERN = '^[a-z0-9][a-z0-9_-]{0,31}$'
const PROJECT_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$'

/** The scope and period named by a request: known words, and a scope id only where one belongs. */
export const checkBudgetKey = (scope: string, scopeId: string | undefined, period: string): BudgetKey => {
  if (!(BUDGET_SCOPES as readonly string[]).includes(scope)) throw errors.invalidArgument(`unknown budget scope ${JSON.stringify(scope)}; use one of ${BUDGET_SCOPES.join(', ')}`, { field: 'scope' })
  if (!(BUDGET_PERIODS as readonly string[]).includes(period)) throw errors.invalidArgument(`unknown budget period ${JSON.stringify(period)}; use one of ${BUDGET_PERIODS.join(', ')}`, { field: 'period' })
  const id = scopeId ?? ''
  if (scope === 'global') {
    if (id !== '') throw errors.invalidArgument('a global budget takes no scopeId', { field: 'scopeId' })
  } else if (scope === 'project') {
    checkPattern('scopeId', id, PROJECT_PATTERN, 'a project name')
  } else {
    checkPattern('scopeId', id, AGENT_PATTERN, 'an agent name')
  }
  return { scope: scope as BudgetScope, scopeId: id, period: period as BudgetPeriod }
}

export const checkBudgetLimits = (input: { limitTokens: number, warningPercent?: number }) => ({
  limitTokens: checkInteger('limitTokens', input.limitTokens, 0, MAX_BUDGET_TOKENS),
  warningPercent: checkInteger('warningPercent', input.warningPercent ?? DEFAULT_WARNING_PERCENT, 1, 100),
})

/** `global`, `project demo`, `agent claude`: how messages name a budget's scope. */
export const scopeLabel = (b: Pick<Budget, 'scope' | 'scopeId'>) => b.scope === 'global' ? 'global' : `${b.scope} ${b.scopeId}`

/** The last word of the routing key of an event about a budget (project names never start with `_`). */
export const budgetRoutingWord = (b: Pick<Budget, 'scope' | 'scopeId'>) =>
  b.scope === 'project' ? b.scopeId : b.scope === 'agent' ? `_agent_${b.scopeId}` : '_global'
