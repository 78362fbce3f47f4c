// One reconcile pass: runners whose supervisor stopped reporting become `lost` after their
// TTL. After a further grace their node is given up on: each is handed to another ready node
// with room, resuming its conversation (`pending` in a new generation, which fences the lost
// node should it come back), or `failed` when its agent cannot resume (agents.<name>.on_node_lost)
// or no node can take it. Lost is "we cannot see it", failed is "we have given up on it" (Nomad's
// vocabulary); the grace keeps a brief partition from moving work. Transitions and their events
// commit together; a pass is bounded so it stays short.
import { inProjectOrder, type DomainEvent } from '../events/event.js'
import { takeNodeFor } from '../nodes/placement.js'
import type { Clock, IdGenerator, UnitOfWork } from '../ports.js'
import { runnerEventOf, type Runner } from './runner.js'

export interface ReconcileResult {
  lostRunnerIds: string[]
  failedRunnerIds: string[]
  rescheduledRunnerIds: string[]
  lostNodeIds: string[]
  reconciledCount: number
}

export type NodeLostPolicy = 'reschedule' | 'fail'

export const RECONCILE_BATCH = 1000

export const createReconcileService = ({ uow, clock, ids, lostGraceSeconds, nodeTtlSeconds, nodeLostPolicy }: {
  uow: UnitOfWork
  clock: Clock
  ids: IdGenerator
  lostGraceSeconds: number
  /** A node silent this long is lost (its runners are judged one by one, by their own TTLs). */
  nodeTtlSeconds: number
  /** By agent name; an agent no longer configured fails. */
  nodeLostPolicy: (agent: string) => NodeLostPolicy | null
}) => ({
  async reconcile (actor: string): Promise<ReconcileResult> {
    return uow.run(async tx => {
      const event = (runner: Runner, type: 'runner.lost' | 'runner.failed', data: Record<string, unknown>): DomainEvent =>
        runnerEventOf(runner, type, actor, { ...data, node_id: runner.nodeId, last_heartbeat: runner.lastHeartbeat?.toISOString() ?? null }, { ids, clock })
      const lost = await tx.reconcile.markSilentRunnersLost(RECONCILE_BATCH)
      const given: Array<{ runner: Runner, reason: string }> = []
      const moved: DomainEvent[] = []
      const lostPastGrace = await tx.reconcile.lostPastGrace(lostGraceSeconds, RECONCILE_BATCH)
      const candidates = lostPastGrace.length > 0 ? await tx.nodes.list() : []
      for (const runner of lostPastGrace) {
        const policy = nodeLostPolicy(runner.agent)
        if (policy !== 'reschedule') {
          given.push({ runner, reason: policy === null ? 'lost (its agent is no longer configured)' : 'lost' })
          continue
        }
        // Each pick counts towards its node's load, so the next one spreads. (A launch's node
        // or selector is not kept on the runner: any ready node with its agent may take it.)
        const to = takeNodeFor(candidates, runner.agent)
        const row = to ? await tx.reconcile.reschedule(runner.id, to) : null
        if (!row) { given.push({ runner, reason: 'lost, and no ready node has room for it' }); continue }
        moved.push(runnerEventOf(row, 'runner.rescheduled', actor, {
          reason: 'node_lost', from_node_id: runner.nodeId, node_id: to, session_id: row.sessionId, conversation_mode: row.conversationMode,
          grace_seconds: lostGraceSeconds, last_heartbeat: runner.lastHeartbeat?.toISOString() ?? null,
        }, { ids, clock }))
      }
      const reasons = new Map(given.map(g => [g.runner.id, g.reason]))
      const failed = await tx.reconcile.failLost(given.map(g => ({ id: g.runner.id, reason: g.reason })))
      // Each append takes its project's lock until commit. Taking them in one global order
      // (by project name) keeps two reconcilers from each holding a lock the other waits for.
      // The sort is stable: a runner that went lost and failed in this pass keeps that order.
      await tx.events.appendMany(inProjectOrder([
        ...lost.map(runner => event(runner, 'runner.lost', { reason: 'heartbeat_timeout', ttl_seconds: runner.heartbeatTtlSeconds })),
        ...failed.map(runner => event(runner, 'runner.failed', { reason: reasons.get(runner.id) ?? 'lost', grace_seconds: lostGraceSeconds })),
        ...moved,
      ]))
      const lostNodes = await tx.reconcile.markSilentNodesLost(nodeTtlSeconds)
      for (const node of lostNodes) {
        await tx.events.append({
          eventId: ids.next(), type: 'node.lost', routingKey: `node.lost.${node.id}`, occurredAt: clock.now(), project: '', aggregateType: 'node',
          aggregateId: node.id, seq: node.seq, actor, data: { name: node.name, ttl_seconds: nodeTtlSeconds, last_heartbeat: node.lastHeartbeat?.toISOString() ?? null },
        })
      }
      return {
        lostRunnerIds: lost.map(r => r.id),
        failedRunnerIds: failed.map(r => r.id),
        rescheduledRunnerIds: moved.map(e => e.aggregateId),
        lostNodeIds: lostNodes.map(n => n.id),
        reconciledCount: lost.length + failed.length + moved.length + lostNodes.length,
      }
    })
  },
})

export type ReconcileService = ReturnType<typeof createReconcileService>
