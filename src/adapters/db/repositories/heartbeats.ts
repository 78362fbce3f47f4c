// The heartbeat: one statement per host per interval, whatever the number of runners. It
// stamps the node and every reported runner with the database's clock, locks the runner rows in
// id order (two writers never deadlock), and refuses rows whose generation or state says the
// report comes from a process that should no longer exist (fencing). Tokens arrive as each
// runner's running totals, so a repeated or reordered report never counts twice; the increase
// over the stored totals is added to the runner's session and to the budgets over its scope
// (global, its project, its agent: each budget row is its current period). Budgets whose use
// crossed the warning share or the limit come back, for their events; their event_seq is bumped
// once per threshold crossed.
import { sql } from 'drizzle-orm'
import type { BudgetUse, HeartbeatOutcome, RunnerBeat } from '../../../core/ports.js'
import { rowsOf, type Db } from '../client.js'

const BEATING = ['starting', 'running', 'paused', 'stopping', 'lost']

/**
 * A reported runner, a budget it took past its warning share, or the node itself when this
 * heartbeat brought it back from lost; the columns of the other kinds are null.
 */
type Row = { kind: 'runner', id: string, was_status: string }
  | { kind: 'node', id: string, nodeName: string, nodeSeq: number }
  | {
    kind: 'budget', id: string, scope: BudgetUse['scope'], scopeId: string, period: BudgetUse['period'], limitTokens: number, warningPercent: number,
    usedBefore: number, usedAfter: number, periodEnd: Date | string, eventSeq: number,
  }

export const createHeartbeatStatement = (db: Db) => async (nodeId: string, beats: RunnerBeat[]): Promise<HeartbeatOutcome> => {
  const input = JSON.stringify(beats.map(b => ({
    id: b.runnerId,
    generation: b.generation,
    cpu: Number.isFinite(b.cpuPercent) ? b.cpuPercent : 0,
    mem: Math.round(b.memoryMb),
    input: b.inputTokens,
    output: b.outputTokens,
    cache_read: b.cacheReadTokens,
    cache_creation: b.cacheCreationTokens,
  })))
  const rows = rowsOf<Row>(await db.execute(sql`
    with beat as (
      select * from jsonb_to_recordset(${input}::jsonb)
        as b(id uuid, generation int, cpu real, mem int, input bigint, output bigint, cache_read bigint, cache_creation bigint)
    ),
    node as (
      update nodes n set last_heartbeat = now(), status = 'ready', updated_at = now(), event_seq = n.event_seq + (o.status = 'lost')::int
      from (select id, status from nodes where id = ${nodeId} for update) o
      where n.id = o.id
      returning n.id, n.name, n.event_seq, o.status as was_status
    ),
    locked as (
      select r.id, r.status, r.input_tokens, r.output_tokens, r.cache_read_tokens, r.cache_creation_tokens, r.tokens_used
      from runners r join beat b on b.id = r.id and b.generation = r.generation
      where r.node_id = ${nodeId} and r.status in (${sql.join(BEATING.map(s => sql`${s}`), sql`, `)})
      order by r.id
      for update of r
    ),
    updated as (
      update runners r set
        last_heartbeat = now(), cpu_percent = b.cpu, memory_mb = b.mem,
        input_tokens = greatest(l.input_tokens, b.input),
        output_tokens = greatest(l.output_tokens, b.output),
        cache_read_tokens = greatest(l.cache_read_tokens, b.cache_read),
        cache_creation_tokens = greatest(l.cache_creation_tokens, b.cache_creation),
        tokens_used = greatest(l.input_tokens, b.input) + greatest(l.output_tokens, b.output)
          + greatest(l.cache_read_tokens, b.cache_read) + greatest(l.cache_creation_tokens, b.cache_creation)
      from beat b join locked l on l.id = b.id
      where r.id = b.id
      returning r.id, r.project_name, r.agent, r.session_id, l.status as was_status,
        r.tokens_used - l.tokens_used as delta,
        r.input_tokens - l.input_tokens as d_input, r.output_tokens - l.output_tokens as d_output,
        r.cache_read_tokens - l.cache_read_tokens as d_cache_read, r.cache_creation_tokens - l.cache_creation_tokens as d_cache_creation
    ),
    session_use as (
      update sessions s set
        tokens_used = s.tokens_used + d.delta, input_tokens = s.input_tokens + d.d_input, output_tokens = s.output_tokens + d.d_output,
        cache_read_tokens = s.cache_read_tokens + d.d_cache_read, cache_creation_tokens = s.cache_creation_tokens + d.d_cache_creation,
        last_message_at = now()
      from (
        select session_id, sum(delta) as delta, sum(d_input) as d_input, sum(d_output) as d_output,
          sum(d_cache_read) as d_cache_read, sum(d_cache_creation) as d_cache_creation
        from updated where session_id is not null and delta > 0 group by session_id
      ) d
      where s.id = d.session_id
      returning s.id
    ),
    spent as (
      select 'global' as scope, '' as scope_id, sum(delta) as delta from updated having sum(delta) > 0
      union all select 'project', project_name, sum(delta) from updated group by project_name having sum(delta) > 0
      union all select 'agent', agent, sum(delta) from updated group by agent having sum(delta) > 0
    ),
    budget_use as (
      update budgets t set used_tokens = t.used_tokens + d.delta, updated_at = now(),
        event_seq = t.event_seq
          + (t.used_tokens < t.limit_tokens * t.warning_percent / 100.0 and t.used_tokens + d.delta >= t.limit_tokens * t.warning_percent / 100.0)::int
          + (t.used_tokens < t.limit_tokens and t.used_tokens + d.delta >= t.limit_tokens)::int
      from spent d
      where t.scope = d.scope and t.scope_id = d.scope_id
      returning t.id, t.scope, t.scope_id, t.period, t.limit_tokens, t.warning_percent, t.used_tokens - d.delta as used_before,
        t.used_tokens as used_after, t.period_end, t.event_seq
    )
    select 'runner' as kind, id::text as id, was_status, null as scope, null as "scopeId", null as period, null::float8 as "limitTokens",
      null::float8 as "warningPercent", null::float8 as "usedBefore", null::float8 as "usedAfter", null::timestamptz as "periodEnd",
      null::float8 as "eventSeq", null as "nodeName", null::float8 as "nodeSeq"
    from updated
    union all
    select 'budget', id::text, null, scope, scope_id, period, limit_tokens::float8, warning_percent::float8, used_before::float8, used_after::float8,
      period_end, event_seq::float8, null, null
    from budget_use where used_before < limit_tokens and used_after >= limit_tokens * warning_percent / 100.0
    union all
    select 'node', id::text, was_status, null, null, null, null, null, null, null, null, null, name, event_seq::float8 from node where was_status = 'lost'`))
  const seen = new Map(rows.flatMap(r => r.kind === 'runner' ? [[r.id, r.was_status] as const] : []))
  const node = rows.find(r => r.kind === 'node')
  return {
    nodeRecovered: node ? { name: node.nodeName, seq: node.nodeSeq } : null,
    budgets: rows.flatMap(r => r.kind === 'budget' ? [{
      budgetId: r.id, scope: r.scope, scopeId: r.scopeId, period: r.period, limitTokens: r.limitTokens, warningPercent: r.warningPercent,
      usedBefore: r.usedBefore, usedAfter: r.usedAfter, periodEnd: new Date(r.periodEnd), eventSeq: r.eventSeq,
    }] : []),
    accepted: beats.filter(b => seen.has(b.runnerId) && seen.get(b.runnerId) !== 'lost').map(b => b.runnerId),
    lost: beats.filter(b => seen.get(b.runnerId) === 'lost').map(b => b.runnerId),
    fenced: beats.filter(b => !seen.has(b.runnerId)).map(b => b.runnerId),
  }
}
