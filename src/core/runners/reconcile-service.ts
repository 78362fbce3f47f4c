// One reconcile pass: runners whose supervisor stopped reporting become `lost` after their
// TTL, and `failed` after a further grace. Lost is "we cannot see it", failed is "we have given
// up on it" (Nomad's vocabulary); the grace keeps a brief partition from killing work.
// Transitions and their events commit together; a pass is bounded so it stays short.
import { inProjectOrder, type DomainEvent } from '../events/event.js'
import type { Clock, IdGenerator, UnitOfWork } from '../ports.js'
import { runnerEventOf, type Runner } from './runner.js'

export interface ReconcileResult { lostRunnerIds: string[], failedRunnerIds: string[], lostNodeIds: string[], reconciledCount: number }

export const RECONCILE_BATCH = 1000

export const createReconcileService = ({ uow, clock, ids, lostGraceSeconds, nodeTtlSeconds }: {
  uow: UnitOfWork
  clock: Clock
  ids: IdGenerator
  lostGraceSeconds: number
  /** A node silent this long is lost (its runners are judged one by one, by their own TTLs). */
  nodeTtlSeconds: number
}) => ({
  async reconcile (actor: string): Promise<ReconcileResult> {
    return uow.run(async tx => {
      const event = (runner: Runner, type: 'runner.lost' | 'runner.failed', data: Record<string, unknown>): DomainEvent =>
        runnerEventOf(runner, type, actor, { ...data, node_id: runner.nodeId, last_heartbeat: runner.lastHeartbeat?.toISOString() ?? null }, { ids, clock })
      const lost = await tx.reconcile.markSilentRunnersLost(RECONCILE_BATCH)
      const failed = await tx.reconcile.failLostRunners(lostGraceSeconds, RECONCILE_BATCH)
      // Each append takes its project's lock until commit. Taking them in one global order
      // (by project name) keeps two reconcilers from each holding a lock the other waits for.
      // The sort is stable: a runner that went lost and failed in this pass keeps that order.
      await tx.events.appendMany(inProjectOrder([
        ...lost.map(runner => event(runner, 'runner.lost', { reason: 'heartbeat_timeout', ttl_seconds: runner.heartbeatTtlSeconds })),
        ...failed.map(runner => event(runner, 'runner.failed', { reason: 'lost', grace_seconds: lostGraceSeconds })),
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
        lostNodeIds: lostNodes.map(n => n.id),
        reconciledCount: lost.length + failed.length + lostNodes.length,
      }
    })
  },
})

export type ReconcileService = ReturnType<typeof createReconcileService>
