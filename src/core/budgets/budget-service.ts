// Budget use cases: set, list, delete, the history of ended periods, and the budget pass the
// reconciler runs (rollover of ended periods, then pausing and resuming to match). Each write
// commits with its event; pausing and resuming follow in units of work of their own, so a
// change in a budget takes effect at once: a lowered limit pauses the runners in its scope, a
// raised (or deleted) one resumes the runners it had paused, oldest pause first, within quotas.
import { errors } from '../errors.js'
import { inProjectOrder } from '../events/event.js'
import type { AgentCatalogue, Clock, IdGenerator, Repositories, UnitOfWork } from '../ports.js'
import type { PauseService } from '../runners/pause-service.js'
import { budgetDeletedEvent, budgetRolledOverEvent, budgetSetEvent } from './budget-events.js'
import { checkBudgetKey, checkBudgetLimits, scopeLabel, type Budget, type BudgetInput, type BudgetPeriod, type BudgetPeriodRecord } from './budget.js'

export interface BudgetServiceDeps {
  repos: Repositories
  uow: UnitOfWork
  clock: Clock
  ids: IdGenerator
  agents: Pick<AgentCatalogue, 'has' | 'names'>
  pauses: Pick<PauseService, 'pauseForBudgets' | 'resumeEligible'>
  /** budgets.timezone: the periods of budgets made from now on are days, weeks and months there. */
  timezone: string
  defaultWarningPercent: number
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const ROLLOVER_BATCH = 500
export const MAX_HISTORY = 1000

export interface BudgetPassResult { rolledOver: Budget[], paused: number, resumed: number }

export const createBudgetService = ({ repos, uow, clock, ids, agents, pauses, timezone, defaultWarningPercent }: BudgetServiceDeps) => {
  const deps = { ids, clock }
  const get = async (id: string): Promise<Budget> => {
    const budget = UUID.test(id) ? await repos.budgets.find(id.toLowerCase()) : null
    if (!budget) throw errors.budgetNotFound(id)
    return budget
  }
  /** A change in limits takes effect now: runners over a limit pause, runners back under one resume. */
  const converge = async (actor: string) => {
    const paused = await pauses.pauseForBudgets(actor)
    const resumed = await pauses.resumeEligible(actor)
    return { paused: paused.length, resumed: resumed.length }
  }

  return {
    get,

    list: (filter: { scope?: Budget['scope'], scopeId?: string } = {}) => repos.budgets.list(filter),

    async history (filter: { budgetId?: string, limit?: number }): Promise<BudgetPeriodRecord[]> {
      if (filter.budgetId !== undefined) await get(filter.budgetId)
      return repos.budgets.history({ limit: Math.min(filter.limit ?? 100, MAX_HISTORY), ...(filter.budgetId ? { budgetId: filter.budgetId.toLowerCase() } : {}) })
    },

    /** A new budget for a scope and period that has none (BUDGET_EXISTS otherwise). */
    async create (input: BudgetInput, actor: string): Promise<Budget> {
      const key = checkBudgetKey(input.scope, input.scopeId, input.period)
      const limits = checkBudgetLimits({ limitTokens: input.limitTokens, warningPercent: input.warningPercent ?? defaultWarningPercent })
      if (key.scope === 'project' && !await repos.projects.pathOf(key.scopeId)) throw errors.projectNotFound(key.scopeId)
      if (key.scope === 'agent' && !agents.has(key.scopeId)) throw errors.unknownAgent(key.scopeId, agents.names())
      const budget = await uow.run(async tx => {
        // Under the project's lock, a budget cannot be made for a project being deleted.
        if (key.scope === 'project') {
          await tx.lockProject(key.scopeId)
          if (!await tx.projects.pathOf(key.scopeId)) throw errors.projectNotFound(key.scopeId)
        }
        const made = await tx.budgets.insert({ id: ids.next(), ...key, ...limits, timezone, createdBy: actor }, clock.now())
        if (!made) {
          const existing = await tx.budgets.findByKey(key)
          throw errors.budgetExists(scopeLabel(key), key.period, existing?.id ?? 'unknown')
        }
        await tx.events.append(budgetSetEvent(made, null, actor, deps))
        return made
      })
      await converge(actor)
      return budget
    },

    /** Changes a budget's limit (and warning share); its use in the current period is kept. */
    async update (id: string, input: { limitTokens: number, warningPercent?: number }, actor: string): Promise<Budget> {
      const current = await get(id)
      const limits = checkBudgetLimits({ limitTokens: input.limitTokens, warningPercent: input.warningPercent ?? current.warningPercent })
      const budget = await uow.run(async tx => {
        const updated = await tx.budgets.update(current.id, limits)
        if (!updated) throw errors.budgetNotFound(id)
        await tx.events.append(budgetSetEvent(updated, current.limitTokens, actor, deps))
        return updated
      })
      await converge(actor)
      return budget
    },

    async delete (id: string, actor: string): Promise<void> {
      const current = await get(id)
      await uow.run(async tx => {
        const deleted = await tx.budgets.delete(current.id)
        if (!deleted) throw errors.budgetNotFound(id)
        await tx.events.append(budgetDeletedEvent(deleted, actor, deps))
      })
      await converge(actor)
    },

    /**
     * The reconciler's budget pass: every budget whose period has ended starts the next one (its
     * use kept as history), then runners are paused and resumed to match the budgets as they are.
     */
    async pass (actor: string): Promise<BudgetPassResult> {
      const rolledOver: Budget[] = []
      for (;;) {
        const batch = await uow.run(async tx => {
          const rolled = await tx.budgets.rollOver(clock.now(), ROLLOVER_BATCH)
          await tx.events.appendMany(inProjectOrder(rolled.map(r => budgetRolledOverEvent(r.budget, r.ended, actor, deps))))
          return rolled
        })
        rolledOver.push(...batch.map(r => r.budget))
        if (batch.length < ROLLOVER_BATCH) break
      }
      return { rolledOver, ...await converge(actor) }
    },

    /** Global budgets from the config (budgets.global_*) that do not exist yet are made; existing ones are left as set. */
    async applyDefaults (defaults: Partial<Record<BudgetPeriod, number>>, actor: string): Promise<Budget[]> {
      const made: Budget[] = []
      for (const [period, limitTokens] of Object.entries(defaults)) {
        if (!limitTokens || await repos.budgets.findByKey({ scope: 'global', scopeId: '', period: period as BudgetPeriod })) continue
        try {
          made.push(await this.create({ scope: 'global', period, limitTokens }, actor))
        } catch (err) {
          // Another daemon made it first.
          if ((err as { code?: string }).code !== 'BUDGET_EXISTS') throw err
        }
      }
      return made
    },
  }
}

export type BudgetService = ReturnType<typeof createBudgetService>
