// Every heartbeat interval: sample the process trees, read each agent's tokens, and write one
// batched heartbeat for the whole host. The database's answer is obeyed: a fenced runner's
// process is killed at once (the runner was failed or restarted elsewhere), a runner the
// reconciler had declared lost is recovered.
import type { DomainEvent } from '../events/event.js'
import { createFailureStreak } from '../failure-streak.js'
import type { IdGenerator, Log, NodeRegistration, RunnerBeat } from '../ports.js'
import { runnerEventOf, type Runner } from '../runners/runner.js'
import type { AgentRuntime } from './agent-runtime.js'
import type { SupervisorSettings, Tracked } from './node-supervisor.js'
import { syncSession } from './session-sync.js'
import type { TranscriptArchiver } from './transcript-archiver.js'
import type { SupervisionPort } from './supervision-port.js'
import { SUPERVISOR_ACTOR } from './transitions.js'

export interface HeartbeatTickDeps {
  runtime: AgentRuntime
  node: NodeRegistration
  log: Log
  settings: SupervisorSettings
  live: Map<string, Tracked>
  transitions: SupervisionPort
  archiver: TranscriptArchiver
  clock: { now(): Date }
  ids: IdGenerator
  /** runner.heartbeat events, for the bus: not state changes, so neither in the outbox nor the audit log. */
  publishHeartbeats?: (events: DomainEvent[]) => void
}

export const createHeartbeatTick = ({ runtime, node, log, settings, live, transitions, archiver, clock, ids, publishHeartbeats }: HeartbeatTickDeps) => {
  let timer: NodeJS.Timeout | null = null
  let running: Promise<void> = Promise.resolve()

  const beatOf = (t: Tracked, sample: { cpuPercent: number, memoryMb: number } | undefined): RunnerBeat => {
    const used = t.agent.usage()
    return {
      runnerId: t.runner.id,
      generation: t.generation,
      cpuPercent: sample?.cpuPercent ?? 0,
      memoryMb: sample?.memoryMb ?? 0,
      inputTokens: t.base.inputTokens + used.inputTokens,
      outputTokens: t.base.outputTokens + used.outputTokens,
      cacheReadTokens: t.base.cacheReadTokens + used.cacheReadTokens,
      cacheCreationTokens: t.base.cacheCreationTokens + used.cacheCreationTokens,
    }
  }

  /**
   * The usage limits the agents reported since the last beat, each recorded once: the runner and
   * its account's runners are paused. A write that fails is tried again at the next beat.
   */
  const pauseForUsageLimits = async (tracked: Tracked[]): Promise<Runner[]> => {
    const paused: Runner[] = []
    for (const t of tracked) {
      const limit = t.limitReported || t.fenced ? null : t.agent.usageLimit()
      if (!limit) continue
      t.limitReported = true
      try {
        const outcome = await transitions.pauseForUsageLimit(t.runner, t.generation, limit)
        const fields = { runnerId: t.runner.id, account: t.runner.limitAccount, resetsAt: outcome.resetsAt.toISOString(), reported: limit.resetsAt?.toISOString() ?? null, paused: outcome.paused.length }
        if (outcome.adjusted === 'capped') log.warn(fields, 'the agent reported a usage limit that resets too far away: capped')
        else log.info({ ...fields, adjusted: outcome.adjusted, message: limit.message }, 'the agent hit a usage limit: pausing its account\'s runners')
        paused.push(...outcome.paused)
      } catch (err) {
        t.limitReported = false
        log.warn({ err, runnerId: t.runner.id }, 'could not pause a runner for its usage limit; will retry')
      }
    }
    return paused
  }

  /** One heartbeat for the given runners (all live ones by default); the node's own beat too. */
  const runOnce = async (tracked: Tracked[] = [...live.values()]) => {
    const samples = runtime.sample(tracked.map(t => t.agent.pid))
    await Promise.all(tracked.map(t => t.agent.poll().catch(err => log.debug({ err, runnerId: t.runner.id }, 'could not read the agent\'s transcript'))))
    // A session id first seen in this poll is recorded before the tokens are counted.
    await Promise.all(tracked.map(t => syncSession(t, transitions, log)))
    const beats = tracked.map(t => beatOf(t, samples.get(t.agent.pid)))
    // Lost runners that beat again are recovered, and those a budget or a memory cap paused come back.
    const outcome = await transitions.heartbeat(beats)
    const paused: Runner[] = [...outcome.paused, ...await pauseForUsageLimits(tracked)]
    // The runners of this beat first: one that has just exited is no longer in `live`.
    const byId = new Map(tracked.map(t => [t.runner.id, t]))
    for (const runner of paused) {
      const t = byId.get(runner.id) ?? live.get(runner.id)
      if (t && !t.pauseRequested && t.generation === runner.generation) {
        log.info({ runnerId: runner.id, reason: runner.pauseReason, budgetId: runner.pausedBudgetId }, 'pausing runner: ending its agent')
        t.pauseRequested = true
        void t.agent.stop(settings.stopTimeoutMs)
      }
    }
    for (const runnerId of outcome.fenced) {
      const t = live.get(runnerId)
      if (!t || t.fenced) continue
      t.fenced = true
      log.warn({ runnerId, generation: t.generation }, 'heartbeat refused (the runner was failed or restarted elsewhere): killing its process')
      void t.agent.stop(0)
    }
    await archiver.archiveAll(tracked.filter(t => !t.fenced))
    const healthyAt = clock.now().getTime() - settings.restart.healthyAfterMs
    for (const t of tracked) {
      if (t.runner.restartAttempts > 0 && t.upSince <= healthyAt && !t.fenced) {
        await transitions.resetRestartAttempts(t.runner.id, t.generation)
        t.runner = { ...t.runner, restartAttempts: 0 }
      }
    }
    // The seq is that of the runner's latest event as this supervisor last read it (every
    // converge pass): a consumer places the beat after that event.
    publishHeartbeats?.(tracked.flatMap((t, i) => {
      const beat = beats[i]!
      if (t.fenced) return []
      const data = {
        node_id: node.id, generation: t.generation, cpu_percent: beat.cpuPercent, memory_mb: beat.memoryMb,
        tokens_used: beat.inputTokens + beat.outputTokens + beat.cacheReadTokens + beat.cacheCreationTokens,
        input_tokens: beat.inputTokens, output_tokens: beat.outputTokens, cache_read_tokens: beat.cacheReadTokens, cache_creation_tokens: beat.cacheCreationTokens,
      }
      return [{ ...runnerEventOf(t.runner, 'runner.heartbeat', SUPERVISOR_ACTOR, data, { ids, clock }), routingKey: `runner.heartbeat.${t.runner.id}` }]
    }))
  }

  const beats = createFailureStreak(log, 'heartbeat')
  const tick = () => {
    running = runOnce().then(() => beats.succeeded(), err => beats.failed(err))
  }

  return {
    runOnce,
    start () {
      tick()
      timer = setInterval(tick, settings.heartbeatIntervalMs)
    },
    stop () {
      if (timer) clearInterval(timer)
      timer = null
      return running
    },
  }
}
