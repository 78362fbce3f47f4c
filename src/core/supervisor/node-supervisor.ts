// One host's supervisor, level-triggered like a kubelet: it reads the runners assigned to its
// node and makes the processes match. A runner that should run and has no process gets one; a
// runner that should stop is stopped; a process that exits is reported (terminated, failed, or
// restarted with its conversation resumed). Bus messages only wake it early.
//
//   pending ──begin──> starting ──spawned──> running ──exit 0 / stop──> terminated
//                         ▲                     │ exit ≠ 0
//                         └──backoff (attempts)─┤
//                                               └──no attempts left──> failed
//
//   running ──paused (by hand, a budget, memory, a usage limit)──> process ended gracefully, session kept ──> paused, no process
//
// What a running agent says it is doing (its hooks, its stream events) is recorded as the runner's
// activity beside its status (activity-reporter.ts), in the same generation fence.
//
// Every write is a conditional transition in a new or current generation (fencing), so a
// report from a process the database has moved past changes nothing. A report that cannot be
// written (database or API down) is kept and retried: an exit is never forgotten. The writes go
// through a SupervisionPort (supervision-port.ts): the database in this process, or the API
// for a node that holds only its own credential.
import { createFailureStreak } from '../failure-streak.js'
import type { Clock, IdGenerator, Log, NodeRegistration } from '../ports.js'
import { keptOutput } from '../runners/exit-report.js'
import type { Runner } from '../runners/runner.js'
import type { AgentRuntime, ExitStatus, LiveAgent, StartPlan, TokenCounts } from './agent-runtime.js'
import { createBusyRunners } from './busy-runners.js'
import { decideExit } from './exit-decision.js'
import { createHeartbeatTick, type HeartbeatTickDeps } from './heartbeat-tick.js'
import type { RestartPolicy } from './restart-policy.js'
import { syncSession } from './session-sync.js'
import { createTranscriptArchiver, restoreOf } from './transcript-archiver.js'
import type { SupervisionPort } from './supervision-port.js'
import { noInstruments, type Instruments } from '../instruments.js'
import { createActivityReporter } from './activity-reporter.js'

export interface SupervisorSettings {
  capacity: number
  heartbeatIntervalMs: number
  convergeIntervalMs: number
  stopTimeoutMs: number
  restart: RestartPolicy
  /** sessions.archive_max_bytes: how much of one transcript is archived into the database. */
  archiveMaxBytes: number
  /** supervisor.on_shutdown: what a graceful stop does with this node's runners (default handover; keep: left running for the next supervisor). */
  onShutdown?: 'stop' | 'handover' | 'keep'
}

export interface Tracked {
  runner: Runner
  generation: number
  agent: LiveAgent
  upSince: number
  /** The runner's token totals before this process started. */
  base: TokenCounts
  sessionId: string | null
  /** The session write in flight (session-sync.ts), awaited before tokens are counted. */
  sessionWrite: Promise<void>
  stopRequested: boolean
  /** The SIGTERM → SIGKILL grace of the stop asked for (0: SIGKILL at once). */
  stopGraceMs: number
  /** The database refused this process's heartbeat: it is being killed and must not report. */
  fenced: boolean
  /** The runner was paused: its agent is being ended, and its exit is no stop, failure or crash. */
  pauseRequested: boolean
  /** The usage limit this process reported has been recorded (or is being). */
  limitReported: boolean
}

export interface NodeSupervisorDeps {
  /** Where the supervisor's reads and writes go (database-supervision.ts, or the API's RPC). */
  supervision: SupervisionPort
  clock: Clock
  ids: IdGenerator
  runtime: AgentRuntime
  node: NodeRegistration
  log: Log
  settings: SupervisorSettings
  /** Heartbeats are ephemeral: published straight to the bus when given, never through the outbox. */
  publishHeartbeats?: HeartbeatTickDeps['publishHeartbeats']
  /** Launch-to-running and heartbeat ingest times, for /metrics. */
  instruments?: Instruments
}

const planFor = (runner: Runner): Omit<StartPlan, 'restore'> => ({
  generation: runner.generation,
  // A restart, or a runner whose session is already known, picks the conversation up again.
  conversationMode: runner.sessionId && (runner.restartAttempts > 0 || runner.conversationMode !== 'new') ? 'resume' : runner.conversationMode,
  sessionId: runner.sessionId,
  // Only into a conversation it continues: a run that starts afresh gets its own prompt.
  message: runner.sessionId ? runner.resumeMessage : null,
})

// About a minute of tries before a start gives up on an unanswering control plane.
const REGISTER_ATTEMPTS = 35

export const createNodeSupervisor = (deps: NodeSupervisorDeps) => {
  const { clock, runtime, node, log, settings } = deps
  const transitions = deps.supervision
  const activity = createActivityReporter({ transitions, clock, log, instruments: deps.instruments ?? noInstruments })
  const live = new Map<string, Tracked>()
  const busy = createBusyRunners()
  const restarts = new Map<string, { dueAt: number, runner: Runner }>()
  const unreported = new Map<string, () => Promise<unknown>>()
  // The last failure at start of each restarting runner: the same one again is not retried.
  const startFailures = new Map<string, string>()
  let shuttingDown = false
  let timer: NodeJS.Timeout | null = null
  let passing: Promise<void> = Promise.resolve()
  const now = () => clock.now().getTime()

  // Starts go a few at a time, each through begin → spawn → running before the next: a burst
  // of 100 launches started all at once would queue 100 transactions ahead of every runner's
  // `running`, and no runner would run before the whole burst had spawned.
  const START_CONCURRENCY = 4
  let starting = 0
  const startQueue: Array<() => void> = []
  const startSlot = async <T>(work: () => Promise<T>): Promise<T> => {
    if (starting >= START_CONCURRENCY) await new Promise<void>(resolve => startQueue.push(resolve))
    starting++
    try { return await work() } finally {
      starting--
      startQueue.shift()?.()
    }
  }

  // A database outage fails every pass and action until it ends: one warning each, not one per try.
  const passes = createFailureStreak(log, 'supervisor pass')
  const actions = createFailureStreak(log, 'supervisor action')

  /** Runs `work` for one runner at a time; errors are logged, never thrown into the loop. */
  const exclusive = (runnerId: string, work: () => Promise<unknown>) => {
    busy.add(runnerId)
    work().then(() => actions.succeeded(), err => actions.failed(err, { runnerId }))
      .finally(() => { busy.delete(runnerId); if (!shuttingDown) wake() })
  }

  /** Writes a report now, or keeps it and retries on every pass until the database takes it. */
  const report = async (runnerId: string, write: () => Promise<unknown>) => {
    try {
      await write()
      unreported.delete(runnerId)
    } catch (err) {
      log.warn({ err, runnerId }, 'could not record a runner transition; will retry')
      unreported.set(runnerId, write)
    }
  }

  /** Spawns the agent of a runner that is `starting`; a spawn that fails fails the runner. */
  const spawn = async (row: Runner): Promise<LiveAgent | null> => {
    // A start still in flight when the supervisor stops leaves the runner for the next one.
    if (shuttingDown) return null
    try {
      const plan = planFor(row)
      return await runtime.start(row, { ...plan, restore: await restoreOf(transitions.transcripts, plan) })
    } catch (err) {
      startFailures.delete(row.id)
      await report(row.id, () => transitions.exited(row, row.generation, 'failed', null, `could not start the agent: ${(err as Error).message}`))
      return null
    }
  }

  /** Records the spawned processes as running (one unit of work) and starts watching them. */
  const run = async (spawned: Array<{ row: Runner, agent: LiveAgent }>) => {
    if (spawned.length === 0) return
    if (shuttingDown) {
      await Promise.all(spawned.map(s => s.agent.stop(0)))
      return
    }
    const moved = await transitions.running(spawned.map(({ row, agent }) => ({ runner: row, pid: agent.pid, sessionId: agent.sessionId(), transcriptPath: agent.transcriptPath(), resumable: agent.resumable })))
      .catch(async err => { await Promise.all(spawned.map(s => s.agent.stop(0))); throw err })
    for (const { row, agent } of spawned) {
      const running = moved.get(row.id)
      // Stopped or failed while it was starting: the process must not outlive the decision.
      if (!running) { await agent.stop(0); agent.release?.(); continue }
      track(running, agent, { inputTokens: row.inputTokens, outputTokens: row.outputTokens, cacheReadTokens: row.cacheReadTokens, cacheCreationTokens: row.cacheCreationTokens }, now())
      log.info({ runnerId: row.id, pid: agent.pid, generation: running.generation, agent: row.agent }, 'runner started')
    }
  }

  /** Watches a running runner's process until it exits. */
  const track = (running: Runner, agent: LiveAgent, base: TokenCounts, upSince: number) => {
    const tracked: Tracked = {
      runner: running, generation: running.generation, agent, upSince, base, sessionId: agent.sessionId(), sessionWrite: Promise.resolve(), stopRequested: false, stopGraceMs: 0, fenced: false, pauseRequested: false, limitReported: false,
    }
    live.set(running.id, tracked)
    agent.onActivity(signal => activity.report(tracked, signal))
    void agent.exited.then(exit => { exclusive(running.id, () => onExit(tracked, exit)) })
  }

  const spawnAndRun = async (row: Runner) => {
    const agent = await spawn(row)
    if (agent) await run([{ row, agent }])
  }

  // First starts go in batches: two units of work for the whole batch (begin, running) instead of
  // two per runner, so a burst of launches reaches `running` together and soon.
  const START_BATCH = 25
  const startPending = (rows: Runner[]) => {
    for (let i = 0; i < rows.length; i += START_BATCH) {
      const batch = rows.slice(i, i + START_BATCH)
      for (const r of batch) busy.add(r.id)
      startSlot(async () => {
        const t0 = now()
        const begun = await transitions.beginMany(batch)
        const t1 = now()
        // Together: a spawn through a shim waits for the shim's process to answer.
        const agents = await Promise.all(begun.map(row => spawn(row)))
        const spawned = begun.flatMap((row, i) => agents[i] ? [{ row, agent: agents[i]! }] : [])
        const t2 = now()
        await run(spawned)
        log.debug({ runners: batch.length, beginMs: t1 - t0, spawnMs: t2 - t1, runningMs: now() - t2 }, 'started a batch of runners')
      }).catch(err => log.error({ err }, 'could not start a batch of runners'))
        .finally(() => { for (const r of batch) busy.delete(r.id); if (!shuttingDown) wake() })
    }
  }

  const onExit = async (t: Tracked, exit: ExitStatus) => {
    await recordExit(t, exit)
    // An exit that could not be written yet stays with whatever keeps it (the shim's exit file).
    if (!unreported.has(t.runner.id)) t.agent.release?.()
  }

  const recordExit = async (t: Tracked, exit: ExitStatus) => {
    live.delete(t.runner.id)
    if (shuttingDown || t.fenced) return
    // The session the agent reported, the last tokens and transcript bytes it wrote land before
    // the runner is closed (the beat records a session id seen since the last pass first).
    await heartbeat.runOnce([t]).catch(() => {})
    // What the agent said last (a turn over, an error) is recorded while the runner still runs.
    await activity.settled(t.runner.id)
    archiver.forget(t.runner.id)
    const runner = { ...t.runner, generation: t.generation }
    const output = keptOutput(t.agent.output())
    log.info({ runnerId: runner.id, ...exit }, 'runner exited')
    if (t.pauseRequested && !t.stopRequested) return report(runner.id, () => transitions.pausedStopped(runner.id, t.generation))
    // A usage limit the beat above could not record (the database was down): its pause is an
    // exit report like any other, kept and retried, never a stop or a crash.
    const limit = t.stopRequested || t.limitReported ? null : t.agent.usageLimit()
    if (limit) {
      return report(runner.id, async () => {
        await transitions.pauseForUsageLimit(runner, t.generation, limit)
        await transitions.pausedStopped(runner.id, t.generation)
      })
    }
    const previousStartFailure = startFailures.get(runner.id)
    startFailures.delete(runner.id)
    const decision = decideExit(settings.restart, {
      exit, output, upMs: now() - t.upSince, stopped: t.stopRequested || runner.desiredState === 'stopped', stopGraceMs: t.stopRequested ? t.stopGraceMs : null,
      restartAttempts: runner.restartAttempts, maxRestartAttempts: runner.maxRestartAttempts, previousStartFailure,
    })
    if (decision.end !== 'restart') return report(runner.id, () => transitions.exited(runner, t.generation, decision.end, exit, decision.reason, output))
    await report(runner.id, async () => {
      const row = await transitions.restart(runner, { attempt: decision.attempt, delayMs: decision.delayMs, reason: decision.reason, output, exit })
      if (row) {
        restarts.set(row.id, { dueAt: now() + decision.delayMs, runner: row })
        if (decision.fingerprint !== null) startFailures.set(row.id, decision.fingerprint)
      }
    })
  }

  /** An active runner of this node with no process here: left by an earlier supervisor. */
  const recoverOrphan = async (r: Runner) => {
    // Still held by its shim: taken over as it is, same process and generation, nothing restarted
    // (a runner the reconciler marked lost meanwhile is recovered by the next heartbeat).
    const adopted = (r.status === 'running' || r.status === 'lost') && runtime.adopt ? await runtime.adopt(r) : null
    if (adopted) {
      track(r, adopted.agent, adopted.base, adopted.startedAt)
      log.info({ runnerId: r.id, pid: adopted.agent.pid, generation: r.generation }, 'adopted a runner an earlier supervisor left running')
      return
    }
    const pid = Number(r.runtimeId)
    if (Number.isInteger(pid) && pid > 1 && await runtime.killLeftover(r.id, pid)) log.warn({ runnerId: r.id, pid }, 'killed a process left by an earlier supervisor')
    if (r.restartAttempts < r.maxRestartAttempts) {
      const row = await transitions.restart(r, { attempt: r.restartAttempts + 1, delayMs: 0, reason: 'its supervisor restarted' })
      if (row) await spawnAndRun(row)
      return
    }
    await report(r.id, () => transitions.exited(r, r.generation, 'failed', null, 'its process was lost with its supervisor'))
  }

  /** Acts on one runner now, or answers 'start' for a first start, which goes in a batch. */
  const convergeOne = (r: Runner): 'start' | undefined => {
    const t = live.get(r.id)
    if (t) {
      if (r.generation !== t.generation) {
        t.fenced = true
        void t.agent.stop(0)
      } else if (r.desiredState === 'stopped' && !t.stopRequested) {
        t.stopRequested = true
        t.stopGraceMs = r.stopForce ? 0 : (r.stopTimeoutSeconds ?? settings.stopTimeoutMs / 1000) * 1000
        void t.agent.stop(t.stopGraceMs)
      } else if (r.status === 'paused' && !t.pauseRequested) {
        // Ended gracefully (SIGTERM, then SIGKILL after the stop timeout): the conversation is kept.
        t.pauseRequested = true
        log.info({ runnerId: r.id, reason: r.pauseReason, budgetId: r.pausedBudgetId }, 'pausing runner: ending its agent')
        void t.agent.stop(settings.stopTimeoutMs)
      } else {
        t.runner = { ...r, restartAttempts: t.runner.restartAttempts }
      }
      return
    }
    if (r.desiredState === 'stopped') {
      restarts.delete(r.id)
      startFailures.delete(r.id)
      exclusive(r.id, () => report(r.id, () => transitions.exited(r, r.generation, 'terminated', null, 'stopped')))
      return
    }
    if (r.status === 'paused') {
      restarts.delete(r.id)
      // A process an earlier life of this supervisor left (or one that exited before it was seen).
      if (r.runtimeId !== '') {
        exclusive(r.id, async () => {
          const pid = Number(r.runtimeId)
          if (Number.isInteger(pid) && pid > 1) await runtime.killLeftover(r.id, pid)
          await report(r.id, () => transitions.pausedStopped(r.id, r.generation))
        })
      }
      return
    }
    if (r.status === 'pending') return 'start'
    const restart = restarts.get(r.id)
    if (restart) {
      if (restart.runner.generation !== r.generation) { restarts.delete(r.id); startFailures.delete(r.id) }
      else if (restart.dueAt <= now()) {
        restarts.delete(r.id)
        exclusive(r.id, () => startSlot(() => spawnAndRun(restart.runner)))
      }
      return
    }
    exclusive(r.id, () => startSlot(() => recoverOrphan(r)))
  }

  const pass = async () => {
    for (const [runnerId, write] of unreported) if (!busy.has(runnerId)) exclusive(runnerId, () => report(runnerId, write))
    const room = settings.capacity - live.size - busy.size - restarts.size
    if (room > 0) await transitions.claim(room)
    const firstStarts: Runner[] = []
    for (const r of await transitions.assigned()) {
      if (!busy.has(r.id) && !unreported.has(r.id) && convergeOne(r) === 'start') firstStarts.push(r)
    }
    startPending(firstStarts)
    for (const t of live.values()) void syncSession(t, transitions, log)
  }

  const schedule = (delayMs: number) => {
    if (shuttingDown) return
    if (timer) clearTimeout(timer)
    timer = setTimeout(() => {
      timer = null
      passing = passing.then(pass).then(() => passes.succeeded(), err => passes.failed(err)).finally(() => schedule(settings.convergeIntervalMs))
    }, delayMs)
  }
  const wake = () => schedule(0)

  const archiver = createTranscriptArchiver({ transcripts: transitions.transcripts, log, maxBytes: settings.archiveMaxBytes })
  const heartbeat = createHeartbeatTick({ ...deps, live, transitions, archiver })

  return {
    wake,
    /** Registers the node and starts converging and heartbeating. */
    async start () {
      // A control plane that cannot answer now (connections dropped, a restart) is waited for:
      // a refusal is an answer, and only a refusal stops the start.
      let registered: Awaited<ReturnType<typeof transitions.register>> | undefined
      for (let attempt = 1; registered === undefined; attempt++) {
        try {
          registered = await transitions.register(node)
        } catch (err) {
          if (attempt >= REGISTER_ATTEMPTS) throw err
          log.warn({ err, attempt }, 'could not register this node; trying again')
          await new Promise(resolve => setTimeout(resolve, Math.min(250 * attempt, 2_000)))
        }
      }
      if (registered !== 'ok') throw new Error(registered === 'name_taken'
        ? `another node is registered as ${node.name}; set supervisor.node_name`
        : `node ${node.id} is registered with another credential`)
      schedule(0)
      heartbeat.start()
    },
    /**
     * Stops every agent, then records what becomes of their runners (settings.onShutdown):
     * stopped, or handed back for any node to resume. When that cannot be written (the database
     * is down) they stay as they are and the reconciler moves them once their TTL runs out.
     */
    async stop () {
      shuttingDown = true
      if (timer) clearTimeout(timer)
      heartbeat.stop()
      await passing
      const mode = settings.onShutdown ?? 'handover'
      // keep: every agent a shim holds stays up, its runner `running`, for the next supervisor here to adopt.
      const kept = mode === 'keep' ? [...live.values()].filter(t => t.agent.detach) : []
      for (const t of kept) { live.delete(t.runner.id); t.agent.detach!() }
      await Promise.all([...live.values()].map(t => t.agent.stop(settings.stopTimeoutMs).catch(() => {})))
      // Exits and failures seen before the stop are written first, so they are not handed over.
      for (const [runnerId, write] of unreported) await report(runnerId, write)
      if (mode === 'keep') {
        log.info({ kept: kept.length }, 'left this node\'s agents running for the next supervisor')
        return
      }
      try {
        const released = await transitions.release(mode)
        log.info({ onShutdown: mode, ...released }, 'released this node\'s runners')
      } catch (err) {
        log.warn({ err, onShutdown: mode }, 'could not release this node\'s runners; the reconciler will once their heartbeats expire')
      }
    },
    liveCount: () => live.size,
  }
}

export type NodeSupervisor = ReturnType<typeof createNodeSupervisor>
