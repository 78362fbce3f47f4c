// `stratavore budget set|ls|rm` (BudgetService; set and rm need an admin token) and
// `stratavore pause|resume <runner>`. `set` changes the budget of that scope and period when
// there is one and makes it otherwise; limits take k, M, G and T suffixes (2M = 2,000,000).
import { timestampDate } from '@bufbuild/protobuf/wkt'
import { BudgetPeriodSchema, BudgetSchema, type Budget } from '../../gen/stratavore/v1/budget_pb.js'
import { RunnerSchema } from '../../gen/stratavore/v1/runner_pb.js'
import { flagValue, stringValue, type Command, type CommandContext } from '../context.js'
import { formatTokens, jsonOf, paint, printJson, runnerStatusWord, table } from '../format.js'
import { CliError, UsageError } from '../io.js'
import { resolveRunner } from '../runners.js'
import { isNotFound } from '../client.js'

const SUFFIX: Record<string, number> = { '': 1, k: 1e3, K: 1e3, m: 1e6, M: 1e6, g: 1e9, G: 1e9, t: 1e12, T: 1e12 }
const PERIODS = ['day', 'week', 'month', 'total']
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** 2M, 1.5k, 250000; a whole number of tokens (the daemon checks the bounds). */
export const parseTokens = (text: string): number => {
  const match = /^(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)$/.exec(text.trim().replaceAll('_', '').replaceAll(',', ''))
  const value = match ? Number(match[1]) * SUFFIX[match[2]!]! : NaN
  if (!Number.isSafeInteger(value)) throw new UsageError(`budget set: --limit must be a whole number of tokens like 250000, 500k or 2M, got ${JSON.stringify(text)}`)
  return value
}

/** The scope the flags name: --project, --agent, or global (--global or neither). */
const scopeOf = (c: CommandContext, action: string) => {
  const project = stringValue(c, 'project')
  const agent = stringValue(c, 'agent')
  if ([project !== undefined, agent !== undefined, flagValue(c, 'global')].filter(Boolean).length > 1) {
    throw new UsageError(`budget ${action}: give one of --global, --project and --agent`)
  }
  return project !== undefined ? { scope: 'project', scopeId: project } : agent !== undefined ? { scope: 'agent', scopeId: agent } : { scope: 'global', scopeId: '' }
}

const periodOf = (c: CommandContext, action: string) => {
  const period = stringValue(c, 'period')
  if (period === undefined) throw new UsageError(`budget ${action}: --period is required (${PERIODS.join(', ')})`)
  if (!PERIODS.includes(period)) throw new UsageError(`budget ${action}: --period must be ${PERIODS.join(', ')}, got ${JSON.stringify(period)}`)
  return period
}

const scopeWord = (b: Budget) => b.scope === 'global' ? 'global' : `${b.scope} ${b.scopeId}`
const findBudget = async (c: CommandContext, scope: { scope: string, scopeId: string }, period: string) =>
  (await c.api.budgets.listBudgets({ scope: scope.scope, ...(scope.scope === 'global' ? {} : { scopeId: scope.scopeId }) })).budgets.find(b => b.period === period)

const set = async (c: CommandContext) => {
  const scope = scopeOf(c, 'set')
  const period = periodOf(c, 'set')
  const limitText = stringValue(c, 'limit')
  if (limitText === undefined) throw new UsageError('budget set: --limit is required (e.g. 2M)')
  const limitTokens = BigInt(parseTokens(limitText))
  const warnText = stringValue(c, 'warn')
  const warningPercent = warnText === undefined ? undefined : Number(warnText)
  if (warningPercent !== undefined && !(Number.isInteger(warningPercent) && warningPercent >= 1 && warningPercent <= 100)) {
    throw new UsageError(`budget set: --warn must be a whole percent from 1 to 100, got ${warnText}`)
  }
  const existing = await findBudget(c, scope, period)
  const budget = existing
    ? (await c.api.budgets.updateBudget({ id: existing.id, limitTokens, ...(warningPercent !== undefined ? { warningPercent } : {}) })).budget!
    : (await c.api.budgets.createBudget({ ...scope, ...(scope.scope === 'global' ? { scopeId: undefined } : {}), period, limitTokens, ...(warningPercent !== undefined ? { warningPercent } : {}) })).budget!
  if (c.out.json) { printJson(c.out, jsonOf(c.out, BudgetSchema, budget)); return 0 }
  c.out.print(`${existing ? 'set' : 'created'} ${budget.period} budget for ${scopeWord(budget)}: ${formatTokens(budget.limitTokens)} tokens (${formatTokens(budget.usedTokens)} used this period, warning at ${budget.warningPercent}%)`)
  return 0
}

const ls = async (c: CommandContext) => {
  const { budgets } = await c.api.budgets.listBudgets({})
  const periods = flagValue(c, 'history') ? (await c.api.budgets.listBudgetHistory({ limit: 1000 })).periods : []
  if (c.out.json) {
    printJson(c.out, { budgets: budgets.map(b => jsonOf(c.out, BudgetSchema, b)), ...(flagValue(c, 'history') ? { history: periods.map(p => jsonOf(c.out, BudgetPeriodSchema, p)) } : {}) })
    return 0
  }
  if (budgets.length === 0) c.out.note('no budgets (stratavore budget set --project NAME --period day --limit 2M)')
  else {
    const until = (b: Budget) => b.period === 'total' ? '-' : timestampDate(b.periodEnd!).toISOString().replace(/:\d\d\.\d+Z$/, 'Z')
    c.out.print(table(c.out, [{ header: 'ID' }, { header: 'SCOPE' }, { header: 'PERIOD' }, { header: 'USED' }, { header: 'LIMIT' }, { header: 'UNTIL' }], budgets.map(b => [
      b.id.slice(0, 8), scopeWord(b), b.period, paint(c.out, b.exhausted ? 'red' : 'green', formatTokens(b.usedTokens)), formatTokens(b.limitTokens), until(b),
    ])))
  }
  if (flagValue(c, 'history')) {
    const names = new Map(budgets.map(b => [b.id, `${scopeWord(b)} ${b.period}`]))
    c.out.print(periods.length === 0 ? 'no ended periods yet' : table(c.out, [{ header: 'BUDGET' }, { header: 'PERIOD START' }, { header: 'USED' }, { header: 'LIMIT' }], periods.map(p => [
      names.get(p.budgetId) ?? p.budgetId.slice(0, 8), timestampDate(p.periodStart!).toISOString(), formatTokens(p.usedTokens), formatTokens(p.limitTokens),
    ])))
  }
  return 0
}

const rm = async (c: CommandContext, id: string | undefined) => {
  let budget: Budget | undefined
  if (id !== undefined) {
    const budgets = (await c.api.budgets.listBudgets({})).budgets.filter(b => UUID.test(id) ? b.id === id.toLowerCase() : b.id.startsWith(id.toLowerCase()))
    if (budgets.length !== 1) throw new CliError(budgets.length === 0 ? `budget not found: ${id}` : `budget id prefix ${id} is ambiguous`)
    budget = budgets[0]
  } else {
    const scope = scopeOf(c, 'rm')
    const period = periodOf(c, 'rm')
    budget = await findBudget(c, scope, period)
    if (!budget) throw new CliError(`there is no ${period} budget for ${scope.scope === 'global' ? 'global' : `${scope.scope} ${scope.scopeId}`}`)
  }
  await c.api.budgets.deleteBudget({ id: budget!.id })
  c.out.print(`deleted the ${budget!.period} budget for ${scopeWord(budget!)}`)
  return 0
}

export const budget: Command = async c => {
  const [action, id] = c.args as [string, string | undefined]
  if (action === 'set' || action === 'ls') {
    if (id !== undefined) throw new UsageError(`budget ${action}: unexpected argument ${JSON.stringify(id)}`)
    return action === 'set' ? set(c) : ls(c)
  }
  if (action === 'rm') return rm(c, id)
  throw new UsageError(`budget: unknown action ${JSON.stringify(action)}; use set, ls or rm`)
}

const printRunner = (c: CommandContext, runner: NonNullable<Awaited<ReturnType<typeof resolveRunner>>>, verb: string) => {
  if (c.out.json) { printJson(c.out, jsonOf(c.out, RunnerSchema, runner)); return 0 }
  c.out.print(`runner ${runner.id} ${verb}: ${runnerStatusWord(runner.status)}${runner.sessionId ? ` (session ${runner.sessionId})` : ''}`)
  return 0
}

export const pause: Command = async c => {
  const target = await resolveRunner(c.api, c.args[0]!)
  return printRunner(c, (await c.api.runners.pauseRunner({ id: target.id })).runner!, 'paused')
}

/** `resume <runner>`: a paused runner, through admission; the daemon says why it cannot. */
export const resumeRunner = async (c: CommandContext, runnerArg: string) => {
  const target = await resolveRunner(c.api, runnerArg)
  return printRunner(c, (await c.api.runners.resumeRunner({ id: target.id })).runner!, 'resumed')
}

// `resume <x>`: a project's session when x names a project, else the paused runner x names.
export const resumeEither: Command = async c => {
  if (c.args.length === 1) {
    const project = await c.api.projects.getProject({ name: c.args[0]! }).catch(err => { if (isNotFound(err)) return null; throw err })
    if (!project) return resumeRunner(c, c.args[0]!)
  }
  const { resume } = await import('./launch.js')
  return resume(c)
}
