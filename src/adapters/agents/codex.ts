// OpenAI Codex CLI: `codex exec --json` for headless runs, the TUI for interactive ones, and an
// observer that takes the thread id from `thread.started` and usage from the rollout file. The
// stdout `turn.completed.usage` is thread-cumulative (it includes earlier runs after a resume),
// so it is only a fallback for brand-new threads whose rollout cannot be found.
import { join } from 'node:path'
import { childHome, processEnv } from './common.js'
import { createCodexTranscriptFacts, createRolloutUsage, discoverRollout, findRollout, usageFromOpenAI } from './codex-rollout.js'
import { asRecord, createJsonlTail, parseJsonObject, str, type JsonlTail } from './jsonl-tail.js'
import type { ActivitySink, AgentAdapter, AgentInvocation, AgentLaunchSpec, AgentObserver, TokenUsage } from './types.js'
import { codexStreamSignal } from './activity-signals.js'
import { postToHookChannel } from './hook-variables.js'
import { createCodexLimitReader } from './usage-limit.js'

const GOD = '--dangerously-bypass-approvals-and-sandbox'

// Node's fetch with a 3 s timeout; failures are dropped: a hook must never disturb the agent.
const NOTIFY_SCRIPT = postToHookChannel('process.argv[process.argv.length-1]')

const invocation = (spec: AgentLaunchSpec): AgentInvocation => {
  const argv = [...spec.command]
  const resumeId = spec.conversationMode === 'resume' ? spec.sessionId : null
  // `resume` without an id behaves as `continue`: the newest session in this cwd (--last).
  const resuming = spec.conversationMode !== 'new'
  if (spec.prompt !== null) {
    // Verified on 0.169: `codex exec resume [OPTIONS] [SESSION_ID] [PROMPT]` takes its options
    // after the subcommand, and `--` keeps an id or prompt starting with `-` positional.
    argv.push('exec')
    if (resuming) argv.push('resume')
    argv.push('--json', '--skip-git-repo-check')
    if (resuming && !resumeId) argv.push('--last')
    if (spec.god) argv.push(GOD)
    argv.push(...spec.flags, '--')
    if (resumeId) argv.push(resumeId)
    argv.push(spec.prompt)
  } else {
    if (resuming) argv.push('resume')
    // Interactive: Codex runs its notify program after every turn with the payload as the last
    // argument (§2); this one forwards it to the runner's hook channel and never waits long.
    if (spec.activityHook) argv.push('-c', `notify=${JSON.stringify([process.execPath, '-e', NOTIFY_SCRIPT])}`)
    if (resuming && !resumeId) argv.push('--last')
    if (spec.god) argv.push(GOD)
    argv.push(...spec.flags)
    if (resumeId) argv.push('--', resumeId)
    // `codex resume [ID] [PROMPT]`: a first message goes after the id (verified on 0.169).
    if (resumeId && spec.message) argv.push(spec.message)
  }
  return { argv, env: {}, terminal: spec.prompt === null, sessionId: resumeId }
}

const codexHomeOf = (spec: AgentLaunchSpec, inv: AgentInvocation): string => processEnv(spec, inv).CODEX_HOME || join(childHome(spec, inv), '.codex')

const observe = (spec: AgentLaunchSpec, inv: AgentInvocation, activity: ActivitySink = () => {}, origin?: unknown): AgentObserver => {
  const codexHome = codexHomeOf(spec, inv)
  const startedAt = typeof origin === 'number' ? origin : Date.now()
  const rolloutUsage = createRolloutUsage(startedAt)
  let threadId = inv.sessionId
  let rollout: JsonlTail | null = null
  // Last thread-cumulative usage printed on stdout; this run's own only for a new thread.
  let streamed: TokenUsage | null = null
  let closed = false
  const limits = createCodexLimitReader()

  const locate = () => {
    if (threadId) {
      const path = findRollout(codexHome, threadId)
      if (path) rollout = createJsonlTail(path)
    } else if (spec.prompt === null) {
      const found = discoverRollout(codexHome, spec.cwd, startedAt)
      if (found) { rollout = createJsonlTail(found[0]); threadId = found[1] }
    }
  }

  return {
    onStdoutLine(line) {
      const event = parseJsonObject(line)
      if (!event) return
      const signal = codexStreamSignal(event)
      if (signal) activity(signal)
      limits.add(event, 'stream')
      if (event.type === 'thread.started') {
        const id = str(event.thread_id)
        if (id && id !== threadId) { threadId = id; rollout = null }
      } else if (event.type === 'turn.completed') {
        const usage = asRecord(event.usage)
        if (usage) streamed = usageFromOpenAI(usage)
      }
    },
    async poll() {
      if (closed) return
      if (!rollout) locate()
      const tail = rollout as JsonlTail | null
      if (!tail) return
      for (const record of await tail.read()) {
        rolloutUsage.add(record)
        // A resumed thread's rollout holds the earlier lives' records, the limit that paused it among them.
        if (!(Date.parse(String(record.timestamp)) < startedAt)) limits.add(record, 'transcript')
      }
    },
    sessionId: () => threadId,
    usage: () => rolloutUsage.total()
      ?? (spec.conversationMode === 'new' && streamed ? streamed : { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 }),
    transcriptPath: () => (rollout as JsonlTail | null)?.path ?? null,
    usageLimit: () => limits.limit(),
    close() { closed = true },
    origin: () => startedAt,
  }
}

export const codexAdapter: AgentAdapter = {
  kind: 'codex', invocation, observe, transcriptHome: codexHomeOf, transcriptFacts: createCodexTranscriptFacts,
  hookFlavour: spec => spec.prompt === null ? 'codex' : null,
}
