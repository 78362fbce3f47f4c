// The supervisor's hands on this machine: an agent adapter turns a runner into argv, env and
// an observer; the PTY adapter runs it. Keeps each runner's live process for the attach channel.
// The agent gets the daemon's environment minus its secrets, and with run_as another user.
// Each process of a CLI with hooks gets its own hook channel (hook-server.ts), closed when it exits.
import { realpath } from 'node:fs/promises'
import { userInfo } from 'node:os'
import { subUsage } from '../agents/common.js'
import { adapterFor, processEnv } from '../agents/index.js'
import type { AgentAdapter, AgentLaunchSpec } from '../agents/types.js'
import { HOOK_TOKEN_VARIABLE, HOOK_URL_VARIABLE } from '../agents/hook-variables.js'
import type { ActivitySignal } from '../../core/runners/activity.js'
import type { Runner } from '../../core/runners/runner.js'
import type { HookChannel, HookServer } from './hook-server.js'
import { killTagged } from '../pty/kill-tree.js'
import { createProcessTreeSampler } from '../pty/process-tree.js'
import { spawnAgentProcess } from '../pty/spawn-agent.js'
import type { AgentProcess } from '../pty/types.js'
import type { Config } from '../../config.js'
import { RESUMABLE_AGENT_KINDS } from '../../config-spec.js'
import type { AgentRuntime, LiveAgent, StartPlan } from '../../core/supervisor/agent-runtime.js'
import { inheritedEnvironment } from '../../core/supervisor/agent-environment.js'
import { prepareAgentUsers, type AgentUser } from './run-as.js'
import { createTranscriptReader, restoreTranscript } from './transcript-files.js'

/** In every agent's environment: finds a previous life's processes after a supervisor restart. */
export const RUNNER_ID_VARIABLE = 'STRATAVORE_RUNNER_ID'

export type SupervisorRuntime = AgentRuntime & { terminalOf(runnerId: string): AgentProcess | undefined }

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

/** Throws, naming the setting, when an agent's run_as cannot be honoured here (run-as.ts). */
export const createAgentRuntime = (config: Config, { secrets = [], hooks }: AgentRuntimeOptions = {}): SupervisorRuntime => {
  const terminals = new Map<string, AgentProcess>()
  const sampler = createProcessTreeSampler()
  const runningAsRoot = userInfo().uid === 0
  const users = prepareAgentUsers(config)
  const inherited = inheritedEnvironment(config.agentEnvironment, secrets)

  return {
    async start (runner, plan): Promise<LiveAgent> {
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
      const relay = createActivityRelay()
      const flavour = hooks ? adapter.hookFlavour?.(spec) ?? null : null
      const channel = hooks && flavour ? hooks.open(runner.id, flavour, signal => relay.deliver(signal)) : null
      if (channel) {
        spec.activityHook = { url: channel.url }
        spec.env = { ...spec.env, [HOOK_URL_VARIABLE]: channel.url, [HOOK_TOKEN_VARIABLE]: channel.token }
      }
      try {
        return await startProcess(runner, plan, { adapter, spec, user, relay, channel })
      } catch (err) {
        channel?.close()
        throw err
      }
    },

    sample (pids) {
      return sampler.sample(pids)
    },

    // The runner's tag finds its whole tree, whichever pid the row recorded.
    async killLeftover (runnerId) {
      return (await killTagged(`${RUNNER_ID_VARIABLE}=${runnerId}`, 0)).size > 0
    },

    terminalOf: runnerId => terminals.get(runnerId),
  }

  async function startProcess (runner: Runner, plan: StartPlan, { adapter, spec, user, relay, channel }: {
    adapter: AgentAdapter
    spec: AgentLaunchSpec
    user: AgentUser | undefined
    relay: ReturnType<typeof createActivityRelay>
    channel: HookChannel | null
  }): Promise<LiveAgent> {
    const agent = config.agents[runner.agent]!
    const invocation = adapter.invocation(spec)
    const home = adapter.transcriptHome?.(spec, invocation) ?? null
    // Before the observer takes its baseline: the restored conversation is not this process's usage.
    if (plan.restore && home !== null) await restoreTranscript(home, plan.restore, user ? { uid: user.uid, gid: user.gid } : undefined)
    const observer = adapter.observe(spec, invocation, signal => relay.deliver(signal))
    // A resumed session's transcript already holds earlier lives' usage: count only what is new.
    await observer.poll()
    const before = observer.usage()
    const child = spawnAgentProcess({
      argv: invocation.argv,
      cwd: runner.projectPath,
      env: { TERM: 'xterm-256color', ...processEnv(spec, invocation) },
      terminal: invocation.terminal,
      scrollbackBytes: config.supervisor.scrollback_bytes,
      ...(user ? { user: { uid: user.uid, gid: user.gid } } : {}),
    })
    child.onStdoutLine(line => observer.onStdoutLine(line))
    terminals.set(runner.id, child)
    // The last records an agent writes land as it exits: read them before anyone hears of the exit.
    const exited = child.exited.then(async exit => {
      // From here on the runner's hooks are answered 410: its process has ended.
      channel?.close()
      await observer.poll().catch(() => {})
      observer.close()
      if (terminals.get(runner.id) === child) terminals.delete(runner.id)
      return exit
    })
    return {
      pid: child.pid,
      exited,
      stop: timeoutMs => child.stop(timeoutMs),
      poll: () => observer.poll(),
      sessionId: () => observer.sessionId() ?? invocation.sessionId,
      transcriptPath: () => observer.transcriptPath(),
      resumable: RESUMABLE_AGENT_KINDS.has(agent.kind),
      readTranscript: createTranscriptReader(home, () => observer.transcriptPath(), adapter.transcriptFacts?.() ?? null),
      usage: () => subUsage(observer.usage(), before),
      usageLimit: () => observer.usageLimit(),
      output: () => child.scrollback(),
      onActivity: listener => relay.listen(listener),
    }
  }
}
