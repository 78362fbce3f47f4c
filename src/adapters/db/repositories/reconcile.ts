// The reconciler's transitions. Each is one conditional UPDATE ... RETURNING judged by the
// database clock: only the rows it returns changed, so two reconcilers running at once never
// move the same runner twice, and each returned row gets exactly one event.
import { and, eq, inArray, lt, sql } from 'drizzle-orm'
import type { ReconcileRepository } from '../../../core/ports.js'
import type { Runner, RunnerStatus } from '../../../core/runners/runner.js'
import type { Db } from '../client.js'
import { nodes, runners } from '../schema.js'
import { handedOverColumns, toRunner } from './runners.js'

// A paused runner has no process to hear from: its silence says nothing.
const SUPERVISED: RunnerStatus[] = ['starting', 'running', 'stopping']
// When a runner last proved it was alive: its last heartbeat, else its start.
const lastSeen = sql`coalesce(${runners.lastHeartbeat}, ${runners.startedAt}, ${runners.updatedAt})`
// A process being started has nothing to beat with yet, and a start on a loaded host (its shim
// spawned, the transcript restored) can take longer than a TTL: it is given this much more
// before its silence counts. A supervisor that died mid-start is still found, this much later.
export const START_ALLOWANCE_SECONDS = 30
const silenceAllowed = sql`make_interval(secs => ${runners.heartbeatTtlSeconds} + case when ${runners.status} = 'starting' then ${START_ALLOWANCE_SECONDS} else 0 end)`

const transition = async (db: Db, from: RunnerStatus[], to: RunnerStatus, overdue: ReturnType<typeof sql>, limit: number): Promise<Runner[]> => {
  // The sub-select takes row locks in id order (no deadlock between two reconcilers) and skips
  // rows another transaction holds; the outer WHERE re-checks the state it is leaving.
  const candidates = db.select({ id: runners.id }).from(runners)
    .where(and(inArray(runners.status, from), overdue))
    .orderBy(runners.id).limit(limit).for('update', { skipLocked: true })
  const rows = await db.update(runners)
    .set({
      status: to,
      eventSeq: sql`${runners.eventSeq} + 1`,
      updatedAt: sql`now()`,
    })
    .where(and(inArray(runners.id, candidates), inArray(runners.status, from)))
    .returning()
  return rows.map(toRunner)
}

export const createReconcileRepository = (db: Db): ReconcileRepository => ({
  markSilentRunnersLost: limit =>
    transition(db, SUPERVISED, 'lost', lt(lastSeen, sql`now() - ${silenceAllowed}`), limit),
  async lostPastGrace (graceSeconds, limit) {
    // Locked until the pass commits (skipping rows another reconciler holds), so each of these
    // runners is rescheduled or failed by one reconciler only.
    const rows = await db.select().from(runners)
      .where(and(eq(runners.status, 'lost'), lt(lastSeen, sql`now() - make_interval(secs => ${runners.heartbeatTtlSeconds} + ${graceSeconds})`)))
      .orderBy(runners.id).limit(limit).for('update', { skipLocked: true })
    return rows.map(toRunner)
  },
  // A new generation fences the lost node: if it comes back, its reports about this runner get
  // 409 and it stops the process. The conversation is resumed where a session is known.
  async reschedule (id, nodeId) {
    const [row] = await db.update(runners).set(handedOverColumns(nodeId))
      .where(and(eq(runners.id, id), eq(runners.status, 'lost'))).returning()
    return row ? toRunner(row) : null
  },
  async failLost (lost) {
    if (lost.length === 0) return []
    const reason = sql`case ${runners.id} ${sql.join(lost.map(l => sql`when ${l.id}::uuid then ${l.reason}`), sql` `)} end`
    const rows = await db.update(runners)
      .set({ status: 'failed', terminatedAt: sql`now()`, desiredState: 'stopped', reason, eventSeq: sql`${runners.eventSeq} + 1`, updatedAt: sql`now()` })
      .where(and(inArray(runners.id, lost.map(l => l.id)), eq(runners.status, 'lost')))
      .returning()
    return rows.map(toRunner)
  },
  // A node comes back to ready by itself with its next heartbeat (repositories/heartbeats.ts).
  markSilentNodesLost: ttlSeconds => db.update(nodes).set({ status: 'lost', eventSeq: sql`${nodes.eventSeq} + 1`, updatedAt: sql`now()` })
    .where(and(eq(nodes.status, 'ready'), lt(sql`coalesce(${nodes.lastHeartbeat}, ${nodes.registeredAt})`, sql`now() - make_interval(secs => ${ttlSeconds})`)))
    .returning({ id: nodes.id, name: nodes.name, lastHeartbeat: nodes.lastHeartbeat, seq: nodes.eventSeq }),
})
