// What /metrics and the alert evaluator read about the whole fleet. Every query here is bounded
// by something other than history: counters kept by triggers (drizzle/0011_metric_counters.sql),
// the partial indexes over active runners, pending and dead outbox rows, failed runners by
// time, budgets by period end, and live daemons. Nothing here counts a whole table.
import { sql } from 'drizzle-orm'
import { OUTBOX_COUNT_CAP, type BudgetFacts, type FleetFacts, type MetricsRepository, type NodeFacts } from '../../../core/alerts/ports.js'
import { rowsOf, type Db } from '../client.js'

const num = (value: unknown) => Number(value ?? 0)

export const createMetricsRepository = (db: Db): MetricsRepository => ({
  async fleet ({ staleAfterSeconds, failureWindowSeconds }) {
    // Each its own statement: on Postgres they run on pooled connections side by side.
    const [counters, projects, nodes, outbox, budgets, daemons, failures] = await Promise.all([
      db.execute(sql`
        select name, label, sum(value)::float8 as value from (
          select name, label, value from metric_counters
          union all select name, label, delta from metric_counter_deltas
        ) c group by name, label`),
      // The predicate of runners_active_idx, as literals so the planner can match it.
      db.execute(sql`
        select project_name as project, status, activity_state as activity, count(*)::int as runners,
          coalesce(sum(cpu_percent), 0)::float8 as cpu, coalesce(sum(memory_mb), 0)::float8 as mem
        from runners where status not in ('terminated', 'failed') group by project_name, status, activity_state`),
      db.execute(sql`
        select n.id::text as id, n.name, n.status, n.capacity, count(r.id)::int as runners,
          coalesce(sum(r.cpu_percent), 0)::float8 as cpu, coalesce(sum(r.memory_mb), 0)::float8 as mem,
          extract(epoch from now() - n.last_heartbeat)::float8 as age
        from nodes n left join runners r on r.node_id = n.id and r.status not in ('terminated', 'failed')
        group by n.id`),
      db.execute(sql`
        select
          (select count(*) from (select 1 from outbox where delivered_at is null and dead_at is null limit ${OUTBOX_COUNT_CAP}) p)::int as pending,
          (select count(*) from outbox where dead_at is not null)::int as dead,
          coalesce((select greatest(0, extract(epoch from now() - next_attempt_at)) from outbox
            where delivered_at is null and dead_at is null order by next_attempt_at, id limit 1), 0)::float8 as lag`),
      db.execute(sql`
        select id::text as id, scope, scope_id as "scopeId", period, limit_tokens::float8 as "limitTokens",
          used_tokens::float8 as "usedTokens", period_end as "periodEnd"
        from budgets where period_end > now() and period_start <= now()`),
      // API daemons beat their row (workers/api.ts); a silent one counts as down until a newer
      // daemon on its host beats, it is marked stopped, or a week has passed.
      db.execute(sql`
        select d.id::text as id, d.hostname, to_jsonb(d.roles) as roles, d.last_heartbeat as "lastHeartbeat",
          d.last_heartbeat > now() - make_interval(secs => ${staleAfterSeconds}) as live
        from daemon_instances d
        where d.stopped_at is null and d.last_heartbeat > now() - interval '7 days' and 'api' = any(d.roles)
          and (d.last_heartbeat > now() - make_interval(secs => ${staleAfterSeconds}) or not exists (
            select 1 from daemon_instances s
            where s.stopped_at is null and s.hostname = d.hostname and s.started_at > d.started_at
              and s.last_heartbeat > now() - make_interval(secs => ${staleAfterSeconds})))`),
      db.execute(sql`
        select count(*)::int as n from runners
        where status = 'failed' and terminated_at > now() - make_interval(secs => ${failureWindowSeconds})`),
    ])
    const daemonRows = rowsOf<{ id: string, hostname: string, roles: string[], lastHeartbeat: Date | string, live: boolean }>(daemons)
    const outboxRow = rowsOf<{ pending: number, dead: number, lag: number }>(outbox)[0]
    return {
      counters: rowsOf<{ name: string, label: string, value: number }>(counters).map(r => ({ name: r.name, label: r.label, value: num(r.value) })),
      projects: rowsOf<{ project: string, status: string, activity: string, runners: number, cpu: number, mem: number }>(projects)
        .map(r => ({ project: r.project, status: r.status, activity: r.activity, runners: num(r.runners), cpuPercent: num(r.cpu), memoryMb: num(r.mem) })),
      nodes: rowsOf<{ id: string, name: string, status: NodeFacts['status'], capacity: number, runners: number, cpu: number, mem: number, age: number | null }>(nodes)
        .map(r => ({
          id: r.id, name: r.name, status: r.status, capacity: num(r.capacity), runners: num(r.runners), cpuPercent: num(r.cpu), memoryMb: num(r.mem),
          heartbeatAgeSeconds: r.age === null ? null : num(r.age),
        })),
      outbox: { pending: num(outboxRow?.pending), dead: num(outboxRow?.dead), lagSeconds: num(outboxRow?.lag) },
      budgets: rowsOf<Omit<BudgetFacts, 'periodEnd'> & { periodEnd: Date | string }>(budgets)
        .map(r => ({ ...r, limitTokens: num(r.limitTokens), usedTokens: num(r.usedTokens), periodEnd: new Date(r.periodEnd) })),
      daemons: {
        live: daemonRows.filter(d => d.live).length,
        stale: daemonRows.filter(d => !d.live).map(d => ({ id: d.id, hostname: d.hostname, roles: d.roles, lastHeartbeat: new Date(d.lastHeartbeat) })),
      },
      recentFailures: num(rowsOf<{ n: number }>(failures)[0]?.n),
    } satisfies FleetFacts
  },

  async rollupCounters () {
    // Rows another rollup is moving are waited for and then skipped (already gone): each delta
    // is added once. Counter rows are upserted in key order, so two rollups never deadlock.
    await db.execute(sql`
      with moved as (delete from metric_counter_deltas returning name, label, delta)
      insert into metric_counters (name, label, value)
        select name, label, sum(delta) from moved group by name, label order by name, label
      on conflict (name, label) do update set value = metric_counters.value + excluded.value`)
  },

  async claimLeadership (daemonId, ttlSeconds) {
    const rows = rowsOf(await db.execute(sql`
      insert into metrics_leader (one, daemon_id, expires_at) values (true, ${daemonId}, now() + make_interval(secs => ${ttlSeconds}))
      on conflict (one) do update set daemon_id = excluded.daemon_id, expires_at = excluded.expires_at
        where metrics_leader.daemon_id = excluded.daemon_id or metrics_leader.expires_at < now()
      returning daemon_id`))
    return rows.length > 0
  },

  async releaseLeadership (daemonId) {
    await db.execute(sql`delete from metrics_leader where daemon_id = ${daemonId}`)
  },
})
