// There is at most one global token budget per period: scope_id is '' for it (never NULL, so
// the unique key on scope, scope_id and period_start holds), and a check ties scope 'global' to
// scope_id ''. Each way of writing a second one is refused by the database, on both backends,
// and leaves the first as it was. Nothing in the code creates budgets yet, so the writes go
// through the schema (drizzle) and through plain SQL; the reads go through the repository.
import t from 'tap'
import { sql } from 'drizzle-orm'
import { pgErrorOf } from '../../src/adapters/db/pg-errors.js'
import { tokenBudgets } from '../../src/adapters/db/schema.js'
import { buildContext } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'

const UNIQUE_VIOLATION = '23505'
const NOT_NULL_VIOLATION = '23502'
const CHECK_VIOLATION = '23514'

t.test(`a second global budget is refused on ${backendName()}`, async t => {
  const ctx = await buildContext(t)
  const db = ctx.database.db
  const periodStart = new Date('2030-01-01T00:00:00Z')
  const periodEnd = new Date('2030-01-02T00:00:00Z')
  const inPeriod = new Date('2030-01-01T12:00:00Z')
  await db.insert(tokenBudgets).values({ scope: 'global', limitTokens: 1000, periodGranularity: 'daily', periodStart, periodEnd })
  const snapshot = async () => db.select().from(tokenBudgets)
  const before = await snapshot()
  t.equal(before.length, 1)
  t.equal(before[0]!.scopeId, '', 'a global budget gets scope_id \'\' by default')

  /** The Postgres error code and constraint a refused write fails with. */
  const refusal = async (write: () => Promise<unknown>) => {
    try {
      await write()
    } catch (err) {
      return pgErrorOf(err) ?? { code: `not a Postgres error: ${String(err)}`, constraint: undefined }
    }
    return { code: 'accepted', constraint: undefined }
  }
  const second = { scope: 'global', limitTokens: 5, periodGranularity: 'daily', periodStart, periodEnd }

  const attempts: Array<[label: string, write: () => Promise<unknown>, code: string, constraint?: string]> = [
    ['drizzle: the same period', () => db.insert(tokenBudgets).values(second), UNIQUE_VIOLATION, 'token_budgets_scope_period_key'],
    ['drizzle: the same period, scope_id \'\' spelt out', () => db.insert(tokenBudgets).values({ ...second, scopeId: '' }), UNIQUE_VIOLATION, 'token_budgets_scope_period_key'],
    ['drizzle: another scope_id', () => db.insert(tokenBudgets).values({ ...second, scopeId: 'again' }), CHECK_VIOLATION, 'token_budgets_global_scope_id_check'],
    ['SQL: scope_id left to its default', () => db.execute(sql`
      insert into token_budgets (scope, limit_tokens, period_granularity, period_start, period_end)
      values ('global', 5, 'daily', ${periodStart.toISOString()}, ${periodEnd.toISOString()})`), UNIQUE_VIOLATION, 'token_budgets_scope_period_key'],
    ['SQL: scope_id NULL', () => db.execute(sql`
      insert into token_budgets (scope, scope_id, limit_tokens, period_granularity, period_start, period_end)
      values ('global', null, 5, 'daily', ${periodStart.toISOString()}, ${periodEnd.toISOString()})`), NOT_NULL_VIOLATION],
    ['SQL: scope_id of a project', () => db.execute(sql`
      insert into token_budgets (scope, scope_id, limit_tokens, period_granularity, period_start, period_end)
      values ('global', 'demo', 5, 'daily', ${periodStart.toISOString()}, ${periodEnd.toISOString()})`), CHECK_VIOLATION, 'token_budgets_global_scope_id_check'],
    ['SQL: on conflict do nothing is not an insert', () => db.execute(sql`
      insert into token_budgets (scope, limit_tokens, period_granularity, period_start, period_end)
      values ('global', 5, 'daily', ${periodStart.toISOString()}, ${periodEnd.toISOString()})
      on conflict (scope, scope_id, period_start) do nothing`), 'accepted'],
    ['SQL: turning a project budget into a second global one', async () => {
      await db.execute(sql`
        insert into token_budgets (scope, scope_id, limit_tokens, period_granularity, period_start, period_end)
        values ('project', 'demo', 5, 'daily', ${periodStart.toISOString()}, ${periodEnd.toISOString()})`)
      try {
        await db.execute(sql`update token_budgets set scope = 'global', scope_id = '' where scope = 'project'`)
      } finally {
        await db.execute(sql`delete from token_budgets where scope = 'project'`)
      }
    }, UNIQUE_VIOLATION, 'token_budgets_scope_period_key'],
  ]
  for (const [label, write, code, constraint] of attempts) {
    const outcome = await refusal(write)
    t.equal(outcome.code, code, `${label}: ${code}`)
    if (constraint !== undefined) t.equal(outcome.constraint, constraint, `${label}: refused by ${constraint}`)
  }

  t.same(await snapshot(), before, 'the first global budget is the only one, unchanged')
  t.equal(await ctx.repos.budgets.globalLimit(inPeriod), 1000, 'the repository reads the first limit')
  t.same((await ctx.repos.budgets.activeFor('demo', inPeriod)).map(b => [b.scope, b.limitTokens]), [['global', 1000]], 'one global budget in force')
})
