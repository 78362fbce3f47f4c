// The supervisor's writes, each one unit of work: the conditional transition and its event
// commit together, or neither does. A null result means the row had moved on (stopped by a
// person, failed by the reconciler, restarted by a newer life) and nothing was written.
import { budgetEventsOf } from '../budgets/budget-events.js'
import { inProjectOrder, type DomainEvent, type EventType } from '../events/event.js'
import { noInstruments, type Instruments } from '../instruments.js'
import type { Clock, HeartbeatOutcome, IdGenerator, NodeRegistration, RunnerBeat, UnitOfWork } from '../ports.js'
import { pauseForBudgets, pauseForMemory } from '../runners/pause-service.js'
import { activityEventData, type ActivitySignal } from '../runners/activity.js'
import { runnerEventOf, type Runner } from '../runners/runner.js'
import { pauseForUsageLimit, type ReportedLimit } from '../runners/usage-limits.js'
import type { ExitStatus } from './agent-runtime.js'
import type { RestartRequest, SeenSession, StartedProcess } from './supervision-port.js'

export const SUPERVISOR_ACTOR = 'supervisor'

export const createTransitions = ({ uow, clock, ids, node, actor = SUPERVISOR_ACTOR, instruments = noInstruments }: {
  uow: UnitOfWork
  clock: Clock
  ids: IdGenerator
  node: Pick<NodeRegistration, 'id'>
  actor?: string
  instruments?: Instruments
}) => {
  const event = (runner: Runner, type: EventType, data: Record<string, unknown>) =>
    runnerEventOf(runner, type, actor, { node_id: node.id, ...data }, { ids, clock })

  const nodeEvent = (type: EventType, seq: number, data: Record<string, unknown>): DomainEvent => ({
    eventId: ids.next(), type, routingKey: `${type}.${node.id}`, occurredAt: clock.now(), project: '', aggregateType: 'node',
    aggregateId: node.id, seq, actor, data,
  })

  /** Records the session; its session.created event when it is new, for the caller to append. */
  const recordSession = async (tx: Parameters<Parameters<UnitOfWork['run']>[0]>[0], runner: Runner, seen: SeenSession, resumedFrom: string | null): Promise<DomainEvent[]> => {
    const { sessionId, transcriptPath, resumable } = seen
    const created = await tx.supervision.recordSession({ id: sessionId, runnerId: runner.id, project: runner.projectName, agent: runner.agent, transcriptPath, resumedFrom, resumable })
    return created
      ? [{
          eventId: ids.next(), type: 'session.created', occurredAt: clock.now(), project: runner.projectName, aggregateType: 'session',
          aggregateId: sessionId, seq: 1, actor,
          data: { runner_id: runner.id, agent: runner.agent, resumed_from: resumedFrom, transcript_path: transcriptPath },
        }]
      : []
  }

  return {
    /** One heartbeat batch for the node, with the budget events the tokens it counts cause. */
    heartbeat: async (beats: RunnerBeat[]) => {
      const ingested = instruments.heartbeatIngest()
      const outcome = await uow.run(async tx => {
        const outcome = await tx.supervision.heartbeat(node.id, beats)
        const events = outcome.budgets.flatMap(use => budgetEventsOf(use, actor, { ids, clock }))
        if (outcome.nodeRecovered) events.push(nodeEvent('node.recovered', outcome.nodeRecovered.seq, { name: outcome.nodeRecovered.name }))
        await tx.events.appendMany(inProjectOrder(events))
        return outcome
      })
      ingested()
      return outcome
    },

    /**
     * After a heartbeat: when it took a budget to its limit, every runner in that budget's scope
     * is paused (on every node); runners of this beat above their project's memory cap are
     * paused too. Units of work of their own, after the heartbeat's, so that no transaction holds
     * a budget row while it locks runners. Answers the runners paused.
     */
    enforceLimits: async (outcome: HeartbeatOutcome, beats: RunnerBeat[]) => {
      const exceeded = outcome.budgets.some(use => use.usedBefore < use.limitTokens && use.usedAfter >= use.limitTokens)
      const byBudget = exceeded ? await pauseForBudgets({ uow, clock, ids }, actor) : []
      const accepted = new Set(outcome.accepted)
      const heavy = beats.filter(b => b.memoryMb > 0 && accepted.has(b.runnerId)).map(b => b.runnerId)
      const byMemory = await pauseForMemory({ uow, clock, ids }, heavy, actor)
      return [...byBudget, ...byMemory]
    },

    /** A usage limit this runner's agent reported: it and its account's runnable runners are paused (usage-limits.ts). */
    pauseForUsageLimit: (runner: Runner, generation: number, limit: ReportedLimit) =>
      pauseForUsageLimit({ uow, clock, ids }, { runner, generation, limit }, actor),

    /** Registers this node (or registers it again after a restart), with its node.registered event. */
    register: (registration: NodeRegistration) => uow.run(async tx => {
      const outcome = await tx.supervision.registerNode(registration)
      if (typeof outcome === 'string') return outcome
      const { name, hostname, version, capacity, attachUrl, labels = {}, agents = {} } = registration
      await tx.events.append(nodeEvent('node.registered', outcome.seq, { name, hostname, version, capacity, attach_url: attachUrl, labels, agents }))
      return 'ok' as const
    }),

    /** Unassigned pending runners → this node, as many as it has room for. */
    claim: (limit: number) => limit <= 0 ? Promise.resolve([]) : uow.run(async tx => {
      const claimed = await tx.supervision.claimUnassigned(node.id, limit)
      await tx.events.appendMany(inProjectOrder(claimed.map(row => event(row, 'runner.assigned', {}))))
      return claimed
    }),

    /** Any active state → starting, in a new generation, for a restart (first starts go through beginMany). */
    restart: (runner: Runner, restart: RestartRequest) => uow.run(async tx => {
      const row = await tx.supervision.beginStart(runner.id, node.id, { generation: runner.generation, restartAttempts: restart.attempt, reason: restart.reason })
      if (row) {
        // The life that ended keeps its output until the next one ends, so `logs` shows why it restarted.
        if (restart.output) await tx.supervision.recordOutput(row.id, runner.generation, { output: restart.output, signal: restart.exit?.signal ?? null })
        await tx.events.append(event(row, 'runner.restarting', { attempt: restart.attempt, max_attempts: row.maxRestartAttempts, delay_ms: restart.delayMs, reason: restart.reason }))
      }
      return row
    }),

    /** starting → running for each spawned process, in one unit of work; the map holds the rows that moved. */
    running: (started: StartedProcess[]) => uow.run(async tx => {
      const moved = new Map<string, Runner>()
      // Rows first (the statements pipelined, run in this order), then the events in project order.
      const rows = await Promise.all(started.map(start => tx.supervision.markRunning(start.runner.id, start.runner.generation, { pid: start.pid, sessionId: start.sessionId })))
      const updated = started.flatMap((start, i) => rows[i] ? [{ row: rows[i]!, start }] : [])
      const events: DomainEvent[] = []
      for (const { row, start: { runner, pid, sessionId, transcriptPath, resumable } } of updated) {
        events.push(event(row, 'runner.started', { pid, generation: row.generation, session_id: row.sessionId, restart_attempt: row.restartAttempts }))
        if (sessionId) events.push(...await recordSession(tx, row, { sessionId, transcriptPath, resumable }, runner.conversationMode === 'resume' || runner.restartAttempts > 0 ? runner.sessionId : null))
        moved.set(row.id, row)
      }
      await tx.events.appendMany(inProjectOrder(events))
      return moved
    }).then(moved => {
      // Launch to running, for first starts only: a restart's start is not a launch's.
      for (const row of moved.values()) {
        if (row.restartAttempts === 0 && row.startedAt) instruments.runnerRunning((row.startedAt.getTime() - row.createdAt.getTime()) / 1000)
      }
      return moved
    }),

    /** pending → starting for several first starts in one unit of work. */
    beginMany: (runners: Runner[]) => uow.run(async tx => {
      const rows = await Promise.all(runners.map(runner => tx.supervision.beginStart(runner.id, node.id, { generation: runner.generation, restartAttempts: runner.restartAttempts })))
      const begun = rows.filter((row): row is Runner => row !== null)
      await tx.events.appendMany(inProjectOrder(begun.map(row => event(row, 'runner.starting', { generation: row.generation }))))
      return begun
    }),

    sessionSeen: (runner: Runner, generation: number, seen: SeenSession) => uow.run(async tx => {
      const { sessionId } = seen
      const row = await tx.supervision.setSession(runner.id, generation, sessionId)
      const created = await recordSession(tx, row ?? runner, seen, runner.sessionId && runner.sessionId !== sessionId ? runner.sessionId : null)
      await tx.events.appendMany([...(row ? [event(row, 'runner.session_changed', { session_id: sessionId, previous_session_id: runner.sessionId })] : []), ...created])
      return row
    }),

    exited: (runner: Runner, generation: number, status: 'terminated' | 'failed', exit: ExitStatus | null, reason: string, output?: Buffer) => uow.run(async tx => {
      const row = await tx.supervision.markExited(runner.id, generation, { status, exitCode: exit?.code ?? null, reason })
      if (!row) return null
      if (output) await tx.supervision.recordOutput(row.id, generation, { output, signal: exit?.signal ?? null })
      if (row.sessionId) await tx.supervision.endSession(row.sessionId, row.id)
      const data = { reason, exit_code: exit?.code ?? null, signal: exit?.signal ?? null }
      await tx.events.append(event(row, status === 'terminated' ? 'runner.stopped' : 'runner.failed', data))
      return row
    }),

    /** The supervisor's graceful stop, after its agents ended (supervisor.on_shutdown). */
    release: (mode: 'stop' | 'handover') => uow.run(async tx => {
      const { stopped, handedOver, node: down } = await tx.supervision.releaseNode(node.id, mode)
      for (const row of stopped) if (row.sessionId) await tx.supervision.endSession(row.sessionId, row.id)
      await tx.events.appendMany(inProjectOrder([
        ...stopped.map(row => event(row, 'runner.stopped', { reason: 'supervisor_shutdown', exit_code: null, signal: null })),
        ...handedOver.map(row => event(row, 'runner.rescheduled', {
          reason: 'supervisor_shutdown', from_node_id: node.id, node_id: '', session_id: row.sessionId, conversation_mode: row.conversationMode,
        })),
        ...(down ? [nodeEvent('node.stopped', down.seq, { name: down.name, on_shutdown: mode })] : []),
      ]))
      return { stopped: stopped.length, handedOver: handedOver.length }
    }),

    /**
     * What the agent of this generation is doing, with its runner.activity event; null when the
     * runner has moved on (another generation, no longer running) or nothing changed.
     */
    activity: (runner: Runner, generation: number, signal: ActivitySignal, since: Date) => uow.run(async tx => {
      const changed = await tx.supervision.setActivity(runner.id, generation, signal, since)
      if (!changed) return null
      // Not `event()`: this event's data names are the catalogue's own (camelCase), without node_id.
      await tx.events.append(runnerEventOf(changed.runner, 'runner.activity', actor, activityEventData(runner.id, changed.runner.activity, changed.previous.state), { ids, clock }))
      return changed
    }),

    recovered: (runnerId: string, generation: number) => uow.run(async tx => {
      const row = await tx.supervision.recoverLost(runnerId, generation)
      if (row) await tx.events.append(event(row, 'runner.recovered', { generation }))
      return row
    }),
  }
}

export type Transitions = ReturnType<typeof createTransitions>
