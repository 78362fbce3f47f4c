// The supervisor's hands on this machine: an agent adapter turns a runner into argv, env and
// an observer; the PTY adapter runs it. Keeps each runner's live process for the attach channel.
// The agent gets the daemon's environment minus its secrets, and with run_as another user.
// With supervisor.shim each agent runs in a shim of its own (shim-host.ts) and outlives this
// process; adopt() takes such an agent back after a restart.
// Each process of a CLI with hooks gets its own hook channel (hook-server.ts), closed when it exits.
import { realpath } from 'node:fs/promises'
import { userInfo } from 'node:os'
import { subUsage } from '../agents/common.js'
import { adapterFor, processEnv } from '../agents/index.js'
import type { AgentAdapter, AgentInvocation, AgentLaunchSpec, AgentObserver, TokenUsage } from '../agents/types.js'
import { HOOK_TOKEN_VARIABLE, HOOK_URL_VARIABLE } from '../agents/hook-variables.js'
import type { ActivitySignal } from '../../core/runners/activity.js'
import type { HookChannel, HookServer } from './hook-server.js'
import { killTagged } from '../pty/kill-tree.js'
import { createProcessTreeSampler } from '../pty/process-tree.js'
import { spawnAgentProcess } from '../pty/spawn-agent.js'
import type { AgentProcess, SpawnOptions } from '../pty/types.js'
import type { Config } from '../../config.js'
import { RESUMABLE_AGENT_KINDS, type AgentKind } from '../../config-spec.js'
import type { Runner } from '../../core/runners/runner.js'
import type { AdoptedAgent, AgentRuntime, LiveAgent, StartPlan } from '../../core/supervisor/agent-runtime.js'
import { inheritedEnvironment } from '../../core/supervisor/agent-environment.js'
import { prepareAgentUsers, type AgentUser } from './run-as.js'
import { createShimHost } from './shim-host.js'
import { createTranscriptReader, restoreTranscript } from './transcript-files.js'

/** In every agent's environment: finds a previous life's processes after a supervisor restart. */
export const RUNNER_ID_VARIABLE = 'STRATAVORE_RUNNER_ID'

export type SupervisorRuntime = AgentRuntime & { terminalOf(runnerId: string): AgentProcess | undefined }

const tagOf = (runnerId: string) => `${RUNNER_ID_VARIABLE}=${runnerId}`

/** Kept by a runner's shim from its start, for the supervisor that adopts it. */
interface ShimMeta {
  /** The runner's token totals before the process started. */
  base: TokenUsage
  /** The transcript's usage at the start (earlier lives of a resumed session). */
  before: TokenUsage
  plan: Pick<StartPlan, 'conversationMode' | 'sessionId'>
  invocation: AgentInvocation
  /** The observer's origin() at the start, or null when it has none. */
  observerOrigin: unknown
}

export interface AgentRuntimeOptions {
  /** Secrets this process holds beyond its config (the node credential): no agent inherits them. */
  secrets?: string[]
  /** Where agents' hooks report their activity; without it only their stream events do. */
  hooks?: HookServer
}

// Signals heard before the supervisor listens (between spawn and running): the newest few are kept.
const EARLY_SIGNALS = 16

/** Hands signals to a listener set later, keeping the early ones in order. */
const createActivityRelay = () => {
  let listener: ((signal: ActivitySignal) => void) | null = null
  const early: ActivitySignal[] = []
  return {
    deliver (signal: ActivitySignal) {
      if (listener) return listener(signal)
      early.push(signal)
      if (early.length > EARLY_SIGNALS) early.shift()
    },
    listen (next: (signal: ActivitySignal) => void) {
      listener = next
      for (const signal of early.splice(0)) next(signal)
    },
  }
}
type ActivityRelay = ReturnType<typeof createActivityRelay>

/**
 * When a shim left without a supervisor stops its agent. A reconciler hands the runner to another
 * node (or fails it) once it is past its heartbeat TTL and the lost grace, counted from its last
 * heartbeat, up to one interval (a third of the TTL) before the supervisor went: the agent is
 * ended by then, its SIGTERM grace included, and never runs beside its successor. A supervisor
 * back sooner (a restart, an upgrade) adopts it as before.
 */
export const unattendedStop = (ttlSeconds: number, lostGraceSeconds: number) => {
  const graceMs = Math.min(10_000, lostGraceSeconds * 500)
  const handoverMs = (ttlSeconds + lostGraceSeconds - ttlSeconds / 3) * 1000
  return { stopMs: Math.round(Math.max(ttlSeconds * 1000, handoverMs - graceMs)), graceMs }
}

/** Throws, naming the setting, when an agent's run_as cannot be honoured here (run-as.ts). */
export const createAgentRuntime = (config: Config, { secrets = [], hooks }: AgentRuntimeOptions = {}): SupervisorRuntime => {
  const terminals = new Map<string, AgentProcess>()
  const sampler = createProcessTreeSampler()
  const runningAsRoot = userInfo().uid === 0
  const users = prepareAgentUsers(config)
  const inherited = inheritedEnvironment(config.agentEnvironment, secrets)
  const shims = config.supervisor.shim ? createShimHost(config.dataDir, tagOf) : null
  // Compiled ahead, so the first launch does not wait for it; a failure shows at that launch.
  void shims?.prepare().catch(() => {})

  /** What the agent adapter needs to build (or, adopting, rebuild) the runner's invocation. */
  const launchSpecOf = async (runner: Runner, plan: StartPlan) => {
    const agent = config.agents[runner.agent]
    if (!agent) throw new Error(`agent ${JSON.stringify(runner.agent)} is not configured on this node`)
    const adapter = adapterFor(agent.kind)
    // The launch stored the project's realpath; a component swapped for a symlink since then
    // would move the agent elsewhere, outside the project roots it was checked against.
    const cwd = runner.projectPath
    const real = await realpath(cwd).catch(() => cwd)
    if (real !== cwd) throw new Error(`the project directory ${cwd} now resolves to ${real}`)
    const user = users.get(agent.name)
    const spec: AgentLaunchSpec = {
      runnerId: runner.id,
      agentName: agent.name,
      kind: agent.kind,
      command: agent.command,
      cwd: runner.projectPath,
      flags: runner.flags,
      god: runner.god,
      conversationMode: plan.conversationMode,
      sessionId: plan.sessionId,
      // A headless run's resume after a usage limit sends Stratavore's message, not the first prompt again.
      prompt: runner.prompt !== null && plan.message !== null ? plan.message : runner.prompt,
      message: runner.prompt === null ? plan.message : null,
      env: {
        ...inherited,
        ...(user ? { HOME: user.home, USER: user.name, LOGNAME: user.name } : {}),
        ...agent.env,
        ...runner.environment,
        [RUNNER_ID_VARIABLE]: runner.id,
      },
      runningAsRoot: runningAsRoot && !user,
    }
    return { agent, adapter, spec, user }
  }

  /** The supervisor's view of a process (its own child, or one a shim holds) and what it tells of its agent. */
  const liveAgent = (runnerId: string, kind: AgentKind, child: AgentProcess, watch: {
    /** null: from what the observer has seen once the replayed stdout lines are in. */
    adapter: AgentAdapter, invocation: AgentInvocation, home: string | null, observer: AgentObserver, before: TokenUsage | null, release?: () => void, detach?: (() => void) | undefined
    relay: ActivityRelay, channel: HookChannel | null
  }): LiveAgent => {
    const { adapter, invocation, home, observer, relay, channel } = watch
    child.onStdoutLine(line => observer.onStdoutLine(line))
    const before = watch.before ?? observer.usage()
    terminals.set(runnerId, child)
    // The last records an agent writes land as it exits: read them before anyone hears of the exit.
    const exited = child.exited.then(async exit => {
      // From here on the runner's hooks are answered 410: its process has ended.
      channel?.close()
      await observer.poll().catch(() => {})
      observer.close()
      if (terminals.get(runnerId) === child) terminals.delete(runnerId)
      return exit
    })
    return {
      pid: child.pid,
      exited,
      stop: timeoutMs => child.stop(timeoutMs),
      poll: () => observer.poll(),
      sessionId: () => observer.sessionId() ?? invocation.sessionId,
      transcriptPath: () => observer.transcriptPath(),
      resumable: RESUMABLE_AGENT_KINDS.has(kind),
      readTranscript: createTranscriptReader(home, () => observer.transcriptPath(), adapter.transcriptFacts?.() ?? null),
      usage: () => subUsage(observer.usage(), before),
      usageLimit: () => observer.usageLimit(),
      output: () => child.scrollback(),
      onActivity: listener => relay.listen(listener),
      ...(watch.release ? { release: watch.release } : {}),
      ...(watch.detach ? { detach: watch.detach } : {}),
    }
  }

  return {
    async start (runner, plan): Promise<LiveAgent> {
      const { agent, adapter, spec, user } = await launchSpecOf(runner, plan)
      const relay = createActivityRelay()
      const flavour = hooks ? adapter.hookFlavour?.(spec) ?? null : null
      const channel = hooks && flavour ? hooks.open(runner.id, flavour, signal => relay.deliver(signal)) : null
      if (channel) {
        spec.activityHook = { url: channel.url }
        spec.env = { ...spec.env, [HOOK_URL_VARIABLE]: channel.url, [HOOK_TOKEN_VARIABLE]: channel.token }
      }
      try {
        return await startWatched(runner, plan, { agent, adapter, spec, user, relay, channel })
      } catch (err) {
        channel?.close()
        throw err
      }
    },

    async adopt (runner): Promise<AdoptedAgent | null> {
      if (!shims) return null
      const held = await shims.reconnect(runner.id, runner.generation, config.supervisor.scrollback_bytes)
      if (!held) return null
      const meta = held.meta as ShimMeta
      const { agent, adapter, spec } = await launchSpecOf(runner, { generation: runner.generation, restore: null, message: null, ...meta.plan })
      // Its hooks still report to the supervisor that started it (their URL is in its environment):
      // an adopted agent's activity comes from its stream events only.
      const relay = createActivityRelay()
      // An observer that can start where the first one did counts the process's whole life, the
      // time without a supervisor included; any other counts on from the runner's recorded totals.
      const whole = meta.observerOrigin !== null
      const observer = adapter.observe(spec, meta.invocation, signal => relay.deliver(signal), whole ? meta.observerOrigin : undefined)
      const home = adapter.transcriptHome?.(spec, meta.invocation) ?? null
      await observer.poll().catch(() => {})
      const live = liveAgent(runner.id, agent.kind, held.terminal, { adapter, invocation: meta.invocation, home, observer, before: whole ? meta.before : null, release: held.release, detach: held.detach, relay, channel: null })
      const recorded = { inputTokens: runner.inputTokens, outputTokens: runner.outputTokens, cacheReadTokens: runner.cacheReadTokens, cacheCreationTokens: runner.cacheCreationTokens }
      return { agent: live, base: whole ? meta.base : recorded, startedAt: held.startedAt }
    },

    sample (pids) {
      return sampler.sample(pids)
    },

    // The runner's tag finds its whole tree, whichever pid the row recorded; a shim left for it goes too.
    async killLeftover (runnerId) {
      const shim = shims ? await shims.killLeftover(runnerId) : false
      return (await killTagged(tagOf(runnerId), 0)).size > 0 || shim
    },

    terminalOf: runnerId => terminals.get(runnerId),
  }

  /** Spawns the agent (in a shim, or as this process's child) and watches it. */
  async function startWatched (runner: Runner, plan: StartPlan, { agent, adapter, spec, user, relay, channel }: {
    agent: { kind: AgentKind }
    adapter: AgentAdapter
    spec: AgentLaunchSpec
    user: AgentUser | undefined
    relay: ActivityRelay
    channel: HookChannel | null
  }): Promise<LiveAgent> {
    const invocation = adapter.invocation(spec)
    const home = adapter.transcriptHome?.(spec, invocation) ?? null
    // Before the observer takes its baseline: the restored conversation is not this process's usage.
    if (plan.restore && home !== null) await restoreTranscript(home, plan.restore, user ? { uid: user.uid, gid: user.gid } : undefined)
    const observer = adapter.observe(spec, invocation, signal => relay.deliver(signal))
    // A resumed session's transcript already holds earlier lives' usage: count only what is new.
    await observer.poll()
    const before = observer.usage()
    const options: SpawnOptions = {
      argv: invocation.argv,
      cwd: runner.projectPath,
      env: { TERM: 'xterm-256color', ...processEnv(spec, invocation) },
      terminal: invocation.terminal,
      scrollbackBytes: config.supervisor.scrollback_bytes,
      ...(user ? { user: { uid: user.uid, gid: user.gid } } : {}),
    }
    if (!shims) return liveAgent(runner.id, agent.kind, spawnAgentProcess(options), { adapter, invocation, home, observer, before, relay, channel })
    const meta: ShimMeta = {
      base: { inputTokens: runner.inputTokens, outputTokens: runner.outputTokens, cacheReadTokens: runner.cacheReadTokens, cacheCreationTokens: runner.cacheCreationTokens },
      before, plan: { conversationMode: plan.conversationMode, sessionId: plan.sessionId }, invocation, observerOrigin: observer.origin?.() ?? null,
    }
    const held = await shims.start(runner.id, plan.generation, options, meta, unattendedStop(runner.heartbeatTtlSeconds, config.daemon.lost_grace_seconds))
    return liveAgent(runner.id, agent.kind, held.terminal, { adapter, invocation, home, observer, before, release: held.release, detach: held.detach, relay, channel })
  }
}
