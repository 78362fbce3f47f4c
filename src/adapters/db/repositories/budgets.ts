// Token budgets: one row per scope and period kind, holding the current period and its use, and
// their history (one budget_periods row per ended period). Period bounds are computed here, in
// SQL, in the budget's own timezone: `date_trunc` on the local time, then back to an instant, so
// a day is 23 or 25 hours across a DST change, as the wall clock says.
import { and, desc, eq, sql, type SQL } from 'drizzle-orm'
import { TOTAL_PERIOD_END, type Budget } from '../../../core/budgets/budget.js'
import type { BudgetRepository } from '../../../core/ports.js'
import { fromDriverRow, rowsOf, type Db } from '../client.js'
import { budgetPeriods, budgets } from '../schema.js'

type BudgetRow = typeof budgets.$inferSelect

export const toBudget = (row: BudgetRow): Budget => ({ ...row, scope: row.scope as Budget['scope'], period: row.period as Budget['period'] })

const END_OF_TOTAL = TOTAL_PERIOD_END.toISOString()

/** The bounds of the period of kind `period` (in `tz`) that contains `at`; `total` starts at `at`. */
export const periodBounds = (period: SQL, tz: SQL, at: Date) => {
  const when = sql`${at.toISOString()}::timestamptz`
  const local = sql`date_trunc(${period}, ${when} at time zone ${tz})`
  return {
    start: sql`case when ${period} = 'total' then ${when} else ${local} at time zone ${tz} end`,
    end: sql`case when ${period} = 'total' then ${END_OF_TOTAL}::timestamptz else (${local} + ('1 ' || ${period})::interval) at time zone ${tz} end`,
  }
}

const budgetOf = (raw: Record<string, unknown>) => toBudget(fromDriverRow(budgets, raw))

export const createBudgetRepository = (db: Db): BudgetRepository => ({
  async list ({ scope, scopeId }) {
    const rows = await db.select().from(budgets)
      .where(and(scope !== undefined ? eq(budgets.scope, scope) : undefined, scopeId !== undefined ? eq(budgets.scopeId, scopeId) : undefined))
      .orderBy(budgets.scope, budgets.scopeId, budgets.period)
    return rows.map(toBudget)
  },

  async find (id) {
    const [row] = await db.select().from(budgets).where(eq(budgets.id, id)).limit(1)
    return row ? toBudget(row) : null
  },

  async findByKey ({ scope, scopeId, period }) {
    const [row] = await db.select().from(budgets)
      .where(and(eq(budgets.scope, scope), eq(budgets.scopeId, scopeId), eq(budgets.period, period))).limit(1)
    return row ? toBudget(row) : null
  },

  async insert (b, at) {
    const bounds = periodBounds(sql`${b.period}::text`, sql`${b.timezone}::text`, at)
    const rows = rowsOf<Record<string, unknown>>(await db.execute(sql`
      insert into ${budgets} (id, scope, scope_id, period, timezone, limit_tokens, warning_percent, period_start, period_end, event_seq, created_by, created_at, updated_at)
      values (${b.id}, ${b.scope}, ${b.scopeId}, ${b.period}, ${b.timezone}, ${b.limitTokens}, ${b.warningPercent}, ${bounds.start}, ${bounds.end}, 1,
        ${b.createdBy}, now(), now())
      on conflict (scope, scope_id, period) do nothing
      returning *`))
    return rows[0] ? budgetOf(rows[0]) : null
  },

  async update (id, { limitTokens, warningPercent }) {
    const [row] = await db.update(budgets)
      .set({ limitTokens, warningPercent, eventSeq: sql`${budgets.eventSeq} + 1`, updatedAt: sql`now()` })
      .where(eq(budgets.id, id)).returning()
    return row ? toBudget(row) : null
  },

  async delete (id) {
    const [row] = await db.delete(budgets).where(eq(budgets.id, id)).returning()
    return row ? toBudget({ ...row, eventSeq: row.eventSeq + 1 }) : null
  },

  async deleteForProject (project) {
    const rows = await db.delete(budgets).where(and(eq(budgets.scope, 'project'), eq(budgets.scopeId, project))).returning()
    return rows.map(row => toBudget({ ...row, eventSeq: row.eventSeq + 1 }))
  },

  async history ({ budgetId, limit }) {
    return db.select().from(budgetPeriods)
      .where(budgetId !== undefined ? eq(budgetPeriods.budgetId, budgetId) : undefined)
      .orderBy(desc(budgetPeriods.periodStart), budgetPeriods.budgetId).limit(limit)
  },

  // One statement: lock the ended budgets in id order (two rollovers never deadlock, and skip
  // what another holds), keep each ended period, start the next. The insert reads the rows as
  // they were before the update (one snapshot for the whole statement).
  async rollOver (at, limit) {
    const when = at.toISOString()
    const bounds = periodBounds(sql`b.period`, sql`b.timezone`, at)
    const rows = rowsOf<Record<string, unknown>>(await db.execute(sql`
      with ended as (
        select id from ${budgets} where period <> 'total' and period_end <= ${when}::timestamptz
        order by id limit ${limit} for update skip locked
      ),
      kept as (
        insert into ${budgetPeriods} (budget_id, period_start, period_end, limit_tokens, used_tokens, closed_at)
        select b.id, b.period_start, b.period_end, b.limit_tokens, b.used_tokens, ${when}::timestamptz
        from ${budgets} b join ended e on e.id = b.id
        on conflict (budget_id, period_start) do update set used_tokens = excluded.used_tokens, limit_tokens = excluded.limit_tokens
        returning budget_id, period_start, period_end, limit_tokens, used_tokens, closed_at
      )
      update ${budgets} b set used_tokens = 0, period_start = ${bounds.start}, period_end = ${bounds.end},
        event_seq = b.event_seq + 1, updated_at = now()
      from kept k
      where b.id = k.budget_id
      returning b.*, k.period_start as ended_start, k.period_end as ended_end, k.limit_tokens as ended_limit,
        k.used_tokens as ended_used, k.closed_at as ended_closed`))
    return rows.map(raw => ({
      budget: budgetOf(raw),
      ended: {
        budgetId: String(raw.id),
        periodStart: new Date(raw.ended_start as string),
        periodEnd: new Date(raw.ended_end as string),
        limitTokens: Number(raw.ended_limit),
        usedTokens: Number(raw.ended_used),
        closedAt: new Date(raw.ended_closed as string),
      },
    }))
  },

  async globalLimit () {
    const [row] = await db.select({ limit: budgets.limitTokens }).from(budgets).where(eq(budgets.scope, 'global'))
      .orderBy(sql`array_position(array['day', 'week', 'month', 'total'], ${budgets.period})`).limit(1)
    return row?.limit ?? 0
  },
})
