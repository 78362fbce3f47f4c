// There is at most one budget per scope and period kind: scope_id is '' for the global scope
// (never NULL, so the unique key on scope, scope_id and period holds), and a check ties scope
// 'global' to scope_id ''. Each way of writing a second one is refused by the database, on both
// backends, and leaves the first as it was. Period bounds are days, weeks and months of the
// budget's own timezone, across a DST change.
import t from 'tap'
import { sql } from 'drizzle-orm'
import { pgErrorOf } from '../../src/adapters/db/pg-errors.js'
import { budgets } from '../../src/adapters/db/schema.js'
import { buildContext } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'

const UNIQUE_VIOLATION = '23505'
const NOT_NULL_VIOLATION = '23502'
const CHECK_VIOLATION = '23514'

t.test(`a second global budget for a period is refused on ${backendName()}`, async t => {
  const ctx = await buildContext(t)
  const db = ctx.database.db
  const periodStart = new Date('2030-01-01T00:00:00Z')
  const periodEnd = new Date('2030-01-02T00:00:00Z')
  const first = await ctx.repos.budgets.insert({ id: ctx.ids.next(), scope: 'global', scopeId: '', period: 'day', timezone: 'UTC', limitTokens: 1000, warningPercent: 80, createdBy: 'test' }, new Date('2030-01-01T12:00:00Z'))
  t.match(first, { scopeId: '', periodStart, periodEnd }, 'a global budget has scope_id \'\'; its day is the day containing the instant given')
  const snapshot = async () => db.select().from(budgets)
  const before = await snapshot()

  /** The Postgres error code and constraint a refused write fails with. */
  const refusal = async (write: () => Promise<unknown>) => {
    try {
      await write()
    } catch (err) {
      return pgErrorOf(err) ?? { code: `not a Postgres error: ${String(err)}`, constraint: undefined }
    }
    return { code: 'accepted', constraint: undefined }
  }
  const second = { scope: 'global', period: 'day', limitTokens: 5, periodStart, periodEnd, createdBy: 'test' }
  const values = (scopeId: string | null) => sql`(${ctx.ids.next()}, 'global', ${scopeId}, 'day', 5, ${periodStart.toISOString()}, ${periodEnd.toISOString()}, 'test')`

  const attempts: Array<[label: string, write: () => Promise<unknown>, code: string, constraint?: string]> = [
    ['drizzle: the same period', () => db.insert(budgets).values({ id: ctx.ids.next(), ...second }), UNIQUE_VIOLATION, 'budgets_scope_period_key'],
    ['drizzle: scope_id \'\' spelt out', () => db.insert(budgets).values({ id: ctx.ids.next(), ...second, scopeId: '' }), UNIQUE_VIOLATION, 'budgets_scope_period_key'],
    ['drizzle: another scope_id', () => db.insert(budgets).values({ id: ctx.ids.next(), ...second, scopeId: 'again' }), CHECK_VIOLATION, 'budgets_global_scope_id_check'],
    ['SQL: scope_id NULL', () => db.execute(sql`
      insert into budgets (id, scope, scope_id, period, limit_tokens, period_start, period_end, created_by) values ${values(null)}`), NOT_NULL_VIOLATION],
    ['SQL: scope_id of a project', () => db.execute(sql`
      insert into budgets (id, scope, scope_id, period, limit_tokens, period_start, period_end, created_by) values ${values('demo')}`), CHECK_VIOLATION, 'budgets_global_scope_id_check'],
    ['SQL: an unknown period', () => db.execute(sql`
      insert into budgets (id, scope, scope_id, period, limit_tokens, period_start, period_end, created_by)
      values (${ctx.ids.next()}, 'global', '', 'hourly', 5, now(), now(), 'test')`), CHECK_VIOLATION, 'budgets_period_check'],
    ['SQL: a negative limit', () => db.execute(sql`
      insert into budgets (id, scope, scope_id, period, limit_tokens, period_start, period_end, created_by)
      values (${ctx.ids.next()}, 'global', '', 'week', -1, now(), now(), 'test')`), CHECK_VIOLATION, 'budgets_limit_check'],
    ['repository: the same key is no insert', async () => {
      const again = await ctx.repos.budgets.insert({ id: ctx.ids.next(), scope: 'global', scopeId: '', period: 'day', timezone: 'UTC', limitTokens: 5, warningPercent: 80, createdBy: 'test' }, new Date())
      if (again !== null) throw new Error('inserted')
    }, 'accepted'],
    ['SQL: turning a project budget into a second global one', async () => {
      await db.execute(sql`
        insert into budgets (id, scope, scope_id, period, limit_tokens, period_start, period_end, created_by)
        values (${ctx.ids.next()}, 'project', 'demo', 'day', 5, now(), now(), 'test')`)
      try {
        await db.execute(sql`update budgets set scope = 'global', scope_id = '' where scope = 'project'`)
      } finally {
        await db.execute(sql`delete from budgets where scope = 'project'`)
      }
    }, UNIQUE_VIOLATION, 'budgets_scope_period_key'],
  ]
  for (const [label, write, code, constraint] of attempts) {
    const outcome = await refusal(write)
    t.equal(outcome.code, code, `${label}: ${code}`)
    if (constraint !== undefined) t.equal(outcome.constraint, constraint, `${label}: refused by ${constraint}`)
  }

  t.same(await snapshot(), before, 'the first global budget is the only one, unchanged')
  t.equal(await ctx.repos.budgets.globalLimit(), 1000, 'the repository reads its limit')
})

t.test(`period bounds in the budget's timezone, across DST, on ${backendName()}`, async t => {
  const ctx = await buildContext(t)
  const make = (period: 'day' | 'week' | 'month' | 'total', timezone: string, at: string) =>
    ctx.repos.budgets.insert({ id: ctx.ids.next(), scope: 'agent', scopeId: `${period}-${timezone.replace('/', '-').toLowerCase()}`, period, timezone, limitTokens: 1, warningPercent: 80, createdBy: 'test' }, new Date(at))
  const bounds = async (...args: Parameters<typeof make>) => {
    const b = (await make(...args))!
    return [b.periodStart.toISOString(), b.periodEnd.toISOString()]
  }
  // 2030-03-31 is the last Sunday of March: Paris goes from UTC+1 to UTC+2 that night.
  t.same(await bounds('day', 'Europe/Paris', '2030-03-31T12:00:00Z'), ['2030-03-30T23:00:00.000Z', '2030-03-31T22:00:00.000Z'], 'a 23-hour day')
  t.same(await bounds('week', 'UTC', '2030-01-02T12:00:00Z'), ['2029-12-31T00:00:00.000Z', '2030-01-07T00:00:00.000Z'], 'weeks start on Monday')
  t.same(await bounds('month', 'America/New_York', '2030-02-01T03:00:00Z'), ['2030-01-01T05:00:00.000Z', '2030-02-01T05:00:00.000Z'], 'still January in New York')
  t.same(await bounds('total', 'UTC', '2030-02-01T03:00:00Z'), ['2030-02-01T03:00:00.000Z', '9999-12-31T00:00:00.000Z'], 'total: from its making, without end')
})
