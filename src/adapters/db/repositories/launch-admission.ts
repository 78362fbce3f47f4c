// The one statement a launch (or a resume) reads under its project lock: the project, its quota,
// its runner count (paused runners hold no slot), an exhausted budget over the global scope, the
// project or the agent if any, every node with its load (for placement), and the head of the
// project's audit chain (handed to the transaction's event log, so the launch's append needs no
// read of its own). It is written
// as flat SQL rather than composed with the query builder because it runs on every launch, and
// building a nested drizzle query costs more CPU than Postgres spends answering it.
import { sql } from 'drizzle-orm'
import type { LaunchAdmission, PlacementCandidate } from '../../../core/ports.js'
import { DEFAULT_MAX_CONCURRENT_RUNNERS } from '../../../core/projects/project.js'
import { fromDriverRow, rowsOf, type Db } from '../client.js'
import { budgets } from '../schema.js'
import { toBudget } from './budgets.js'
import { toChainHead, type ChainLocks } from './event-log.js'

interface AdmissionRow {
  path: string
  archived: boolean
  maxConcurrentRunners: number
  activeRunners: number
  exhaustedBudget: Record<string, unknown> | null
  nodes: PlacementCandidate[]
  chainSeq: number | null
  chainMac: string | null
}

export const readLaunchAdmission = async (db: Db, locks: ChainLocks, project: string, at: Date, agent: string): Promise<LaunchAdmission | null> => {
  const when = at.toISOString()
  const [row] = rowsOf<AdmissionRow>(await db.execute(sql`
    select p.path, p.archived,
      coalesce(q.max_concurrent_runners, ${DEFAULT_MAX_CONCURRENT_RUNNERS})::int as "maxConcurrentRunners",
      (select count(*) from runners r where r.project_name = p.name and r.status not in ('terminated', 'failed', 'paused'))::int as "activeRunners",
      (select row_to_json(b) from budgets b
        where b.period_end > ${when}::timestamptz and b.used_tokens >= b.limit_tokens
          and (b.scope = 'global' or (b.scope = 'project' and b.scope_id = p.name) or (b.scope = 'agent' and b.scope_id = ${agent}))
        order by b.scope, b.period limit 1) as "exhaustedBudget",
      (select coalesce(json_agg(json_build_object('id', n.id, 'name', n.name, 'status', n.status, 'capacity', n.capacity,
                'labels', n.labels, 'agents', n.agents,
                'activeRunners', (select count(*) from runners r where r.node_id = n.id and r.status not in ('terminated', 'failed', 'paused')))
                order by n.id), '[]'::json)
         from nodes n) as "nodes",
      h.chain_seq as "chainSeq", h.mac as "chainMac"
    from projects p left join resource_quotas q on q.project_name = p.name
      left join lateral (select e.chain_seq, e.mac from events e where e.chain = p.name order by e.chain_seq desc limit 1) h on true
    where p.name = ${project}`))
  if (!row) return null
  // Current only if this statement started after the lock was granted; otherwise the event log
  // reads the head itself.
  if (locks.held.has(project)) locks.heads.set(project, toChainHead(row.chainSeq, row.chainMac))
  const { chainSeq: _seq, chainMac: _mac, exhaustedBudget: budget, ...rest } = row
  return {
    ...rest,
    exhaustedBudget: budget ? toBudget(fromDriverRow(budgets, budget)) : null,
  }
}
