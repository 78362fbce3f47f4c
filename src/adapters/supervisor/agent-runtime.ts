// The supervisor's hands on this machine: an agent adapter turns a runner into argv, env and
// an observer; the PTY adapter runs it. Keeps each runner's live process for the attach channel.
// The agent gets the daemon's environment minus its secrets, and with run_as another user.
// With supervisor.shim each agent runs in a shim of its own (shim-host.ts) and outlives this
// process; adopt() takes such an agent back after a restart.
import { realpath } from 'node:fs/promises'
import { userInfo } from 'node:os'
import { subUsage } from '../agents/common.js'
import { adapterFor, processEnv } from '../agents/index.js'
import type { AgentAdapter, AgentInvocation, AgentLaunchSpec, AgentObserver, TokenUsage } from '../agents/types.js'
import { killTagged } from '../pty/kill-tree.js'
import { createProcessTreeSampler } from '../pty/process-tree.js'
import { spawnAgentProcess } from '../pty/spawn-agent.js'
import type { AgentProcess, SpawnOptions } from '../pty/types.js'
import type { Config } from '../../config.js'
import { RESUMABLE_AGENT_KINDS, type AgentKind } from '../../config-spec.js'
import type { Runner } from '../../core/runners/runner.js'
import type { AdoptedAgent, AgentRuntime, LiveAgent, StartPlan } from '../../core/supervisor/agent-runtime.js'
import { inheritedEnvironment } from '../../core/supervisor/agent-environment.js'
import { prepareAgentUsers } from './run-as.js'
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
}

/** Throws, naming the setting, when an agent's run_as cannot be honoured here (run-as.ts). */
export const createAgentRuntime = (config: Config, { secrets = [] }: AgentRuntimeOptions = {}): SupervisorRuntime => {
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
      prompt: runner.prompt,
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
  }): LiveAgent => {
    const { adapter, invocation, home, observer } = watch
    child.onStdoutLine(line => observer.onStdoutLine(line))
    const before = watch.before ?? observer.usage()
    terminals.set(runnerId, child)
    // The last records an agent writes land as it exits: read them before anyone hears of the exit.
    const exited = child.exited.then(async exit => {
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
      output: () => child.scrollback(),
      ...(watch.release ? { release: watch.release } : {}),
      ...(watch.detach ? { detach: watch.detach } : {}),
    }
  }

  return {
    async start (runner, plan): Promise<LiveAgent> {
      const { agent, adapter, spec, user } = await launchSpecOf(runner, plan)
      const invocation = adapter.invocation(spec)
      const home = adapter.transcriptHome?.(spec, invocation) ?? null
      // Before the observer takes its baseline: the restored conversation is not this process's usage.
      if (plan.restore && home !== null) await restoreTranscript(home, plan.restore, user ? { uid: user.uid, gid: user.gid } : undefined)
      const observer = adapter.observe(spec, invocation)
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
      if (!shims) return liveAgent(runner.id, agent.kind, spawnAgentProcess(options), { adapter, invocation, home, observer, before })
      const meta: ShimMeta = {
        base: { inputTokens: runner.inputTokens, outputTokens: runner.outputTokens, cacheReadTokens: runner.cacheReadTokens, cacheCreationTokens: runner.cacheCreationTokens },
        before, plan: { conversationMode: plan.conversationMode, sessionId: plan.sessionId }, invocation, observerOrigin: observer.origin?.() ?? null,
      }
      const held = await shims.start(runner.id, plan.generation, options, meta)
      return liveAgent(runner.id, agent.kind, held.terminal, { adapter, invocation, home, observer, before, release: held.release, detach: held.detach })
    },

    async adopt (runner): Promise<AdoptedAgent | null> {
      if (!shims) return null
      const held = await shims.reconnect(runner.id, runner.generation, config.supervisor.scrollback_bytes)
      if (!held) return null
      const meta = held.meta as ShimMeta
      const { agent, adapter, spec } = await launchSpecOf(runner, { generation: runner.generation, restore: null, ...meta.plan })
      // An observer that can start where the first one did counts the process's whole life, the
      // time without a supervisor included; any other counts on from the runner's recorded totals.
      const whole = meta.observerOrigin !== null
      const observer = adapter.observe(spec, meta.invocation, whole ? meta.observerOrigin : undefined)
      const home = adapter.transcriptHome?.(spec, meta.invocation) ?? null
      await observer.poll().catch(() => {})
      const live = liveAgent(runner.id, agent.kind, held.terminal, { adapter, invocation: meta.invocation, home, observer, before: whole ? meta.before : null, release: held.release, detach: held.detach })
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
}
